"""Reconciliation as tables, the same in ``bastion reconcile`` and ``bastion report
reconcile``: every break in its row (kind, instrument, what is compared, Bastion's lots
against the other view's) and the instruments the engine has locked, with why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bastion.recon.breaks import Break
from bastion.reports.tables import TableData, grid

__all__ = ["breaks_table", "locks_table"]


def breaks_table(breaks: Iterable[Break]) -> TableData:
    rows = [
        (
            str(b.kind),
            str(b.instrument_id),
            b.key,
            f"{b.ours:+d}",
            f"{b.theirs:+d}",
            "yes" if b.locks else "no",
            b.detail,
        )
        for b in breaks
    ]
    return grid(
        "Breaks",
        ("kind", "instrument", "what", "Bastion", "other", "locks", "detail"),
        rows,
        numeric=(False, False, False, True, True, False, False),
        note="lots; Bastion is the fill-derived book, other the target or the venue",
    )


def locks_table(locks: Mapping[Any, Mapping[str, str]]) -> TableData:
    """``locks``: instrument id -> the sources holding its lock -> why."""
    rows = [
        (str(iid), source, why)
        for iid, held in sorted(locks.items())
        for source, why in sorted(held.items())
    ]
    return grid("Locked instruments", ("instrument", "source", "why"), rows, numeric=(False,) * 3)
