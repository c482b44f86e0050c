"""Invariant: the all-clear never guesses. With no equity journaled its P&L is
"unknown", with no reconciliation journaled its breaks are "unknown" and it is not an
all-clear; the day is the profile's local day, so a fact after local midnight belongs
to the next one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from bastion.clock import SimClock, utc
from bastion.config import parse_profile
from bastion.domain.records import Note
from bastion.ops.alerts.allclear import daily_all_clear, day_bounds
from bastion.ops.alerts.mapping import equity_note
from bastion.store.sqlite import SqliteStore, StoreMode


def _profile(tmp_path: Path, zone: str = "UTC"):  # type: ignore[no-untyped-def]
    return parse_profile(
        {
            "name": "p",
            "environment": "sim",
            "strategy_line": "s",
            "capital": 1,
            "account": "SIM-000001",
            "instruments": ["ES"],
            "store": {"path": str(tmp_path / "sim" / "journal.db")},
            "alerts": {"timezone": zone},
        },
        "test",
    )


def test_all_clear_without_equity_or_reconciliation_says_unknown(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    profile.store.path.parent.mkdir(parents=True)
    clock = SimClock(utc(2026, 3, 2, 21))
    with SqliteStore(profile.store.path, mode=StoreMode.LIVE, clock=clock) as store:
        alert = daily_all_clear(store, profile, dt.date(2026, 3, 2))
    assert alert.severity == "warning"
    assert "NOT all clear" in alert.summary
    assert "P&L: unknown (no starting equity journaled that day)" in alert.detail
    assert "breaks: unknown (no reconciliation journaled)" in alert.detail


def test_all_clear_day_is_the_local_day(tmp_path: Path) -> None:
    profile = _profile(tmp_path, "America/New_York")
    profile.store.path.parent.mkdir(parents=True)
    clock = SimClock(utc(2026, 3, 2, 15))
    with SqliteStore(profile.store.path, mode=StoreMode.LIVE, clock=clock) as store:
        store.record([equity_note(clock.now(), Decimal(1000))])
        store.record([Note(timestamp=clock.now(), kind="reconcile", text="clean")])
        clock.advance(dt.timedelta(hours=6))  # 16:00 New York
        store.record([equity_note(clock.now(), Decimal(1100))])
        clock.advance(dt.timedelta(hours=9))  # 01:00 New York the next day (06:00 UTC)
        store.record([equity_note(clock.now(), Decimal(900))])
        alert = daily_all_clear(store, profile, dt.date(2026, 3, 2))
    assert alert.severity == "info", alert.summary
    assert "P&L +100.00 USD" in alert.summary
    start, end = day_bounds(dt.date(2026, 3, 2), "America/New_York")
    assert (start, end) == (utc(2026, 3, 2, 5), utc(2026, 3, 3, 5))
