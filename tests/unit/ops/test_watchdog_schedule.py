"""Invariant: the watchdog knows the trading schedule. With no engine heartbeat at all,
it alerts (once per session window) when one of the profile's instruments has been in
session, by its exchange calendar, for the watchdog's timeout: an engine should be
running and never started. Outside trading hours, before the timeout has passed since
the open, or with ``trading_hours: false``, it says nothing. The clock is injected; the
calendar is the bundled CME one for SP500 (Globex 17:00-16:00 Chicago)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bastion.clock import SimClock, utc
from bastion.config import Profile, parse_profile
from bastion.ops.alerts import open_notifier
from bastion.ops.alerts.model import Alert
from bastion.ops.watchdog import Verdict, Watchdog
from bastion.testing.webhook_receiver import WebhookReceiver

TUESDAY_MIDDAY = utc(2024, 4, 30, 15, 0)
SATURDAY = utc(2024, 4, 27, 15, 0)
SUNDAY_OPEN = utc(2024, 4, 28, 22, 0)  # Globex opens 17:00 Chicago (CDT)
DAILY_BREAK = utc(2024, 4, 30, 21, 30)  # 16:00-17:00 Chicago: closed


class Sink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


def _profile(tmp_path: Path, url: str | None = None, **watchdog: Any) -> Profile:
    alerts: dict[str, Any] = {"watchdog": {"timeout_seconds": 60, **watchdog}}
    if url is not None:
        alerts |= {"targets": [{"name": "receiver", "url": url}], "min_severity": "info"}
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
            "alerts": alerts,
        },
        "test",
    )


def test_watchdog_no_engine_in_trading_hours_alerts_once(tmp_path: Path) -> None:
    sink = Sink()
    clock = SimClock(TUESDAY_MIDDAY)
    watchdog = Watchdog(_profile(tmp_path), sink, clock=clock)
    first = watchdog.check()
    assert first.assessment.verdict is Verdict.NOT_STARTED
    assert first.assessment.stopped_beating  # bastion watchdog --once exits 3
    assert "SP500 has been in session since 2024-04-29 22:00 UTC" in first.assessment.reason
    assert first.alerted == ["heartbeat_stopped"]
    (alert,) = sink.alerts
    assert alert.severity == "critical"
    assert "engine not running in trading hours" in alert.summary
    clock.advance(dt.timedelta(minutes=5))
    assert watchdog.check().alerted == []  # the same session window: said once
    clock.advance_to(utc(2024, 5, 1, 15, 0))  # the next day's window: a new incident
    assert watchdog.check().alerted == ["heartbeat_stopped"]


@pytest.mark.parametrize("when", [SATURDAY, DAILY_BREAK], ids=["weekend", "daily_break"])
def test_watchdog_no_engine_outside_trading_hours_says_nothing(
    tmp_path: Path, when: dt.datetime
) -> None:
    sink = Sink()
    done = Watchdog(_profile(tmp_path), sink, clock=SimClock(when)).check()
    assert done.assessment.verdict is Verdict.NEVER_RAN
    assert "outside trading hours" in done.assessment.reason
    assert sink.alerts == []


def test_watchdog_no_engine_just_after_the_open_waits_for_its_timeout(tmp_path: Path) -> None:
    sink = Sink()
    clock = SimClock(SUNDAY_OPEN + dt.timedelta(seconds=59))
    watchdog = Watchdog(_profile(tmp_path), sink, clock=clock)
    early = watchdog.check()
    assert early.assessment.verdict is Verdict.NEVER_RAN
    assert "SP500 opened at 22:00 UTC" in early.assessment.reason
    assert sink.alerts == []
    clock.advance(dt.timedelta(seconds=1))
    assert watchdog.check().assessment.verdict is Verdict.NOT_STARTED
    assert [a.kind.value for a in sink.alerts] == ["heartbeat_stopped"]


def test_watchdog_trading_hours_off_never_alerts_without_a_heartbeat(tmp_path: Path) -> None:
    sink = Sink()
    done = Watchdog(
        _profile(tmp_path, trading_hours=False), sink, clock=SimClock(TUESDAY_MIDDAY)
    ).check()
    assert done.assessment.verdict is Verdict.NEVER_RAN
    assert sink.alerts == []


def test_watchdog_not_started_alert_arrives_at_the_receiver(tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        profile = _profile(tmp_path, receiver.url())
        notifier = open_notifier(profile)
        try:
            Watchdog(profile, notifier, clock=SimClock(TUESDAY_MIDDAY)).check()
            got = receiver.wait_for(
                lambda rs: any(r.line("kind") == "heartbeat_stopped" for r in rs)
            )
        finally:
            notifier.close(10)
    (alert,) = got
    assert alert.line("severity") == "critical"
    assert "engine not running in trading hours" in alert.title
    assert "PAPER-000001" not in alert.text
