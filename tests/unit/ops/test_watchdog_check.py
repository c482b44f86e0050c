"""Invariant: the watchdog alerts once per incident and acts only when it is safe. A
silent engine (alive, holding its lock) is alerted without journaling or cancelling; a
dead one is journaled, alerted and, when the profile asks, its working orders canceled
under the engine's lock (a second engine cannot start meanwhile); a cancel that is not
confirmed is retried on later passes up to a limit, then given up loudly; a new
heartbeat after an incident says so once. Without the cancel setting, nothing is
canceled. The daily all-clear goes out once a day after its time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bastion.clock import SimClock, utc
from bastion.config import Profile, parse_profile
from bastion.domain.records import Note
from bastion.engine.lock import EngineLock
from bastion.errors import UserError
from bastion.ops.alerts.model import Alert
from bastion.ops.heartbeat import HeartbeatWriter
from bastion.ops.watchdog import MAX_CANCEL_TRIES, CancelOutcome, Verdict, Watchdog
from bastion.store.sqlite import SqliteStore, StoreMode

T0 = utc(2026, 3, 2, 14, 30)


class Sink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def kinds(self) -> list[str]:
        return [a.kind.value for a in self.alerts]


def _profile(tmp_path: Path, **watchdog: Any) -> Profile:
    return parse_profile(
        {
            "name": "p",
            "environment": "paper",
            "strategy_line": "s",
            "capital": 1,
            "account": "PAPER-000001",
            "instruments": ["SP500"],
            "store": {"path": str(tmp_path / "paper" / "journal.db")},
            "venue": {"kind": "fix", "contracts": ["SP500/202406"]},
            "alerts": {
                "daily_all_clear": "22:30",
                "watchdog": {"timeout_seconds": 30, "cancel_working_orders": True, **watchdog},
            },
        },
        "test",
    )


def _no_all_clear(_day: dt.date) -> None:
    return None


class Canceller:
    def __init__(self, *outcomes: CancelOutcome) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0
        self.journal: Path | None = None

    def __call__(self) -> CancelOutcome:
        self.calls += 1
        assert self.journal is not None
        with pytest.raises(UserError):  # the watchdog holds the engine lock while it cancels
            EngineLock.acquire(self.journal, "engine", wait=0)
        return self.outcomes.pop(0)


def _engine(profile: Profile, clock: SimClock) -> tuple[EngineLock, HeartbeatWriter]:
    journal = profile.store.path
    journal.parent.mkdir(parents=True, exist_ok=True)
    lock = EngineLock.acquire(journal, "p", wait=0)
    writer = HeartbeatWriter(journal, "p", clock=clock, min_interval=0)
    writer.beat(1)
    return lock, writer


def _notes(profile: Profile) -> list[str]:
    with SqliteStore(profile.store.path, mode=StoreMode.LIVE) as store:
        return [e.record.kind for e in store.entries() if isinstance(e.record, Note)]


def test_watchdog_silent_then_dead_then_back(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    clock = SimClock(T0)
    lock, _ = _engine(profile, clock)
    sink = Sink()
    cancel = Canceller(CancelOutcome(confirmed=True, requested=("B1",), detail="1 canceled"))
    cancel.journal = profile.store.path
    watchdog = Watchdog(profile, sink, clock=clock, cancel_working=cancel, all_clear=_no_all_clear)

    clock.advance(dt.timedelta(seconds=29))
    assert watchdog.check().assessment.verdict is Verdict.RUNNING
    clock.advance(dt.timedelta(seconds=1))
    silent = watchdog.check()
    assert silent.assessment.verdict is Verdict.SILENT
    assert sink.kinds() == ["heartbeat_stopped"]
    assert "hung" in sink.alerts[0].summary
    assert cancel.calls == 0
    assert watchdog.check().alerted == []  # once per incident

    lock.release()  # the process died (its lock went with it)
    dead = watchdog.check()
    assert dead.assessment.verdict is Verdict.DEAD
    assert dead.alerted == ["heartbeat_stopped", "watchdog_cancel"]
    assert cancel.calls == 1
    assert _notes(profile) == ["watchdog.heartbeat_stopped", "watchdog.cancel.result"]
    assert sink.alerts[-1].journal_seq == 2
    assert watchdog.check().alerted == []

    clock.advance(dt.timedelta(seconds=60))
    lock, _ = _engine(profile, clock)  # a new engine run
    back = watchdog.check()
    assert back.alerted == ["heartbeat_resumed"]
    assert watchdog.check().alerted == []
    lock.release()


def test_watchdog_cancel_not_confirmed_retried_then_given_up(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    clock = SimClock(T0)
    lock, _ = _engine(profile, clock)
    lock.release()
    sink = Sink()
    failed = CancelOutcome(confirmed=False, detail="venue unreachable (refused)")
    cancel = Canceller(*([failed] * MAX_CANCEL_TRIES))
    cancel.journal = profile.store.path
    watchdog = Watchdog(profile, sink, clock=clock, cancel_working=cancel, all_clear=_no_all_clear)
    for _ in range(MAX_CANCEL_TRIES + 2):
        watchdog.check()
    assert cancel.calls == MAX_CANCEL_TRIES
    results = [a for a in sink.alerts if a.kind == "watchdog_cancel"]
    assert len(results) == MAX_CANCEL_TRIES
    assert all(a.severity == "critical" for a in results)
    assert "giving up" in results[-1].summary


def test_watchdog_without_cancel_setting_only_alerts(tmp_path: Path) -> None:
    profile = _profile(tmp_path, cancel_working_orders=False)
    clock = SimClock(T0)
    lock, _ = _engine(profile, clock)
    lock.release()
    sink = Sink()
    cancel = Canceller()
    watchdog = Watchdog(profile, sink, clock=clock, cancel_working=cancel, all_clear=_no_all_clear)
    assert watchdog.check().alerted == ["heartbeat_stopped"]
    assert cancel.calls == 0
    assert "stay at the venue" in sink.alerts[0].summary


def test_watchdog_clean_stop_is_quiet(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    clock = SimClock(T0)
    lock, writer = _engine(profile, clock)
    writer.stop(2)
    lock.release()
    clock.advance(dt.timedelta(hours=5))
    sink = Sink()
    watchdog = Watchdog(
        profile, sink, clock=clock, cancel_working=Canceller(), all_clear=_no_all_clear
    )
    assert watchdog.check().assessment.verdict is Verdict.STOPPED
    assert sink.alerts == []


def test_watchdog_sends_daily_all_clear_once_after_its_time(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    clock = SimClock(utc(2026, 3, 2, 22, 29))
    days: list[dt.date] = []
    watchdog = Watchdog(profile, Sink(), clock=clock, all_clear=days.append)
    watchdog.check()
    assert days == []
    clock.advance(dt.timedelta(minutes=1))
    assert watchdog.check().all_clear
    watchdog.check()
    clock.advance(dt.timedelta(days=1))
    watchdog.check()
    assert days == [dt.date(2026, 3, 2), dt.date(2026, 3, 3)]
