"""Trade limits per period (R4.3): checked when broker orders are made; the order is cut."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bastion.domain.ids import InstrumentId

__all__ = ["TradeLimits"]


@dataclass(slots=True)
class TradeLimits:
    """At most ``per_day`` lots traded per instrument per UTC day (``None``: no limit)."""

    per_day: dict[InstrumentId, int] = field(default_factory=dict)
    default_per_day: int | None = None
    _used: dict[tuple[InstrumentId, dt.date], int] = field(default_factory=dict)

    def allowed(self, instrument_id: InstrumentId, wanted: int, now: dt.datetime) -> int:
        """How much of ``wanted`` lots may go now."""
        limit = self.per_day.get(instrument_id, self.default_per_day)
        if limit is None:
            return wanted
        used = self._used.get((instrument_id, now.date()), 0)
        return max(0, min(wanted, limit - used))

    def use(self, instrument_id: InstrumentId, lots: int, now: dt.datetime) -> None:
        key = (instrument_id, now.date())
        self._used[key] = self._used.get(key, 0) + lots
