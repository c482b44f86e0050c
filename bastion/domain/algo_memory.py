"""What an execution algo remembers about one contract order (durable intent).

An algo's memory decides when it sends: best execution's patience start, the price it
anchored on and whether it turned aggressive; TWAP's last clip time and clip count. The
stack journals the memory (``AlgoStateRecorded``) before it acts on a changed one, and
the book folds it onto the contract order, so a restarted engine continues the same
schedule instead of starting the algo afresh.
"""

from __future__ import annotations

import datetime as dt

import msgspec

__all__ = ["AlgoMemory"]


class AlgoMemory(msgspec.Struct, frozen=True, kw_only=True):
    started: dt.datetime | None = None
    """Best execution: when its patience started (the first step with a quote)."""
    anchor_ticks: int | None = None
    """Best execution: our side of the touch when it started (adverse moves count from it)."""
    aggressive: bool = False
    """Best execution: it turned aggressive (it never turns passive again)."""
    last_clip: dt.datetime | None = None
    """TWAP: when its last clip was decided (the next one waits an interval)."""
    clips: int = 0
    """TWAP: how many clips it has decided."""
