"""Invariant: delivery cannot hurt trading and nothing secret leaves. ``send`` never
blocks or raises (a full queue drops and counts, a broken transport is a failed
delivery); a failed delivery is kept in the outbox and retried with doubling delays
until it goes through or the attempts run out; an alert storm is held back per severity
and summarized once the window has passed; a key already taken is never sent twice;
titles, bodies and errors are redacted (secret values, the alert URLs, account ids);
a dead process's pending deliveries are adopted by the next notifier."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.clock import SimClock, utc
from bastion.config import AlertsConfig, AlertTarget
from bastion.errors import ConfigError
from bastion.ops.alerts import AlertKind, Notifier, Outbox, Severity, make_alert
from bastion.ops.alerts.model import Alert
from bastion.ops.alerts.notify import TransportTarget, targets_of
from bastion.secrets import Redactor

T0 = utc(2026, 3, 2, 22, 0)


class FakeTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, Severity]] = []
        self.failures: dict[str, int] = {}
        self.explode = False

    def deliver(self, target: str, title: str, body: str, severity: Severity) -> str | None:
        if self.explode:
            raise RuntimeError("plugin bug")
        if self.failures.get(target, 0) > 0:
            self.failures[target] -= 1
            return "503 from the far end"
        self.sent.append((target, title, body, severity))
        return None


def _settings(**kw: object) -> AlertsConfig:
    base: dict[str, object] = {
        "targets": [{"name": "phone", "url": "json://127.0.0.1:1/a"}],
        "retry_initial_seconds": 2.0,
        "retry_max_seconds": 10.0,
        "retry_attempts": 5,
    }
    base.update(kw)
    return AlertsConfig.model_validate(base)


def _notifier(
    settings: AlertsConfig | None = None,
    transport: FakeTransport | None = None,
    *,
    targets: list[TransportTarget] | None = None,
    outbox: Outbox | None = None,
    redactor: Redactor | None = None,
) -> tuple[Notifier, FakeTransport, SimClock]:
    clock = SimClock(T0)
    chosen = settings or _settings()
    fake = transport or FakeTransport()
    notifier = Notifier(
        "paper-default",
        chosen,
        targets=targets if targets is not None else targets_of(chosen, {}),
        transport=fake,
        outbox=outbox or Outbox(":memory:"),
        redactor=redactor or Redactor(),
        clock=clock,
        start=False,
    )
    return notifier, fake, clock


def _alert(n: int, severity: Severity = Severity.WARNING, summary: str = "") -> Alert:
    return make_alert(
        AlertKind.INSTRUMENT_LOCKED,
        summary or f"ES locked #{n}",
        profile="paper-default",
        time=T0,
        key=f"k{n}",
        severity=severity,
        instrument="ES",
    )


def test_notifier_send_then_pump_delivers_once() -> None:
    notifier, fake, _ = _notifier()
    notifier.send(_alert(1))
    notifier.send(_alert(1))  # the same key again (a replayed journal entry)
    notifier.pump()
    assert [s[0] for s in fake.sent] == ["phone"]
    title, body = fake.sent[0][1], fake.sent[0][2]
    assert title == "[WARNING] paper-default: ES locked #1"
    assert "instrument: ES" in body
    assert notifier.outbox.delivery_status("k1") == {"phone": ("sent", "")}


def test_notifier_below_threshold_not_queued_but_all_clear_always_is() -> None:
    notifier, fake, _ = _notifier()
    notifier.send(_alert(1, Severity.INFO))
    clear = make_alert(
        AlertKind.DAILY_ALL_CLEAR,
        "all clear",
        profile="paper-default",
        time=T0,
        key="c",
        severity=Severity.INFO,
    )
    notifier.send(clear)
    notifier.pump()
    assert [s[1] for s in fake.sent] == ["[INFO] paper-default: all clear"]


def test_notifier_failed_delivery_retried_with_doubling_delays_then_sent() -> None:
    notifier, fake, clock = _notifier()
    fake.failures["phone"] = 3
    notifier.send(_alert(1))
    assert notifier.pump() == 1  # attempt 1 fails: retry in 2 s
    assert notifier.outbox.delivery_status("k1")["phone"] == ("pending", "503 from the far end")
    delays = []
    for _ in range(3):
        due = notifier.outbox.next_due()
        assert due is not None
        delays.append((due - clock.now()).total_seconds())
        clock.advance_to(due - dt.timedelta(microseconds=1))
        assert notifier.pump() == 0  # not yet due: nothing tried
        clock.advance_to(due)
        assert notifier.pump() == 1
    assert delays == [2.0, 4.0, 8.0]
    assert notifier.outbox.delivery_status("k1")["phone"] == ("sent", "")
    assert len(fake.sent) == 1


def test_notifier_gives_up_after_attempts_and_keeps_the_record() -> None:
    notifier, fake, clock = _notifier()
    fake.failures["phone"] = 99
    notifier.send(_alert(1))
    notifier.pump()
    delays = []
    while (due := notifier.outbox.next_due()) is not None:
        delays.append((due - clock.now()).total_seconds())
        clock.advance_to(due)
        notifier.pump()
    assert delays == [2.0, 4.0, 8.0, 10.0]  # capped at retry_max_seconds; 5 attempts in all
    assert notifier.outbox.delivery_status("k1")["phone"] == ("failed", "503 from the far end")
    counts = notifier.outbox.counts(T0, T0 + dt.timedelta(days=1))
    assert (counts.failed, counts.delivered) == (1, 0)


def test_notifier_one_target_failing_does_not_resend_to_the_other() -> None:
    settings = _settings(
        targets=[
            {"name": "phone", "url": "json://127.0.0.1:1/a"},
            {"name": "mail", "url": "json://127.0.0.1:1/b"},
        ]
    )
    notifier, fake, clock = _notifier(settings)
    fake.failures["mail"] = 1
    notifier.send(_alert(1))
    notifier.pump()
    clock.advance(dt.timedelta(seconds=2))
    notifier.pump()
    assert sorted(s[0] for s in fake.sent) == ["mail", "phone"]


def test_notifier_transport_exception_is_a_failed_delivery_not_a_crash() -> None:
    notifier, fake, _ = _notifier()
    fake.explode = True
    notifier.send(_alert(1))
    notifier.pump()
    status, error = notifier.outbox.delivery_status("k1")["phone"]
    assert status == "pending"
    assert "plugin bug" in error


def test_notifier_storm_held_per_severity_and_summarized() -> None:
    notifier, fake, clock = _notifier(_settings(rate_limit_count=3, rate_limit_window_seconds=60))
    for n in range(10):
        notifier.send(_alert(n))
    notifier.send(_alert(99, Severity.CRITICAL, "KILL SWITCH: NOT FLAT"))
    notifier.pump()
    titles = [s[1] for s in fake.sent]
    assert len(titles) == 4  # three warnings and the critical: its own allowance
    assert "[CRITICAL] paper-default: KILL SWITCH: NOT FLAT" in titles
    clock.advance(dt.timedelta(seconds=59))
    notifier.pump()
    assert len(fake.sent) == 4
    clock.advance(dt.timedelta(seconds=1))
    notifier.pump()
    summary = fake.sent[-1]
    assert "7 alerts held back" in summary[1]
    assert "7 instrument_locked" in summary[1]
    assert "ES locked #3" in summary[2]
    counts = notifier.outbox.counts(T0, T0 + dt.timedelta(days=1))
    assert counts.suppressed == 7


def test_notifier_full_queue_drops_counts_and_never_blocks() -> None:
    notifier, fake, clock = _notifier(_settings(queue_size=2, rate_limit_window_seconds=1))
    for n in range(5):
        notifier.send(_alert(n))  # returns at once although nobody drains the queue
    notifier.pump()
    assert len(fake.sent) == 2
    clock.advance(dt.timedelta(seconds=1))
    notifier.pump()
    assert "3 lost to a full queue" in fake.sent[-1][1]


def test_notifier_redacts_secrets_urls_and_accounts() -> None:
    url = "tgram://123456:SECRETBOTTOKEN/789"
    settings = AlertsConfig.model_validate(
        {"targets": [{"name": "phone", "url_env": "BASTION_TEST_ALERT_URL"}]}
    )
    targets = targets_of(settings, {"BASTION_TEST_ALERT_URL": url})
    notifier, fake, _ = _notifier(
        settings,
        targets=targets,
        redactor=Redactor(secrets=["hunter2hunter2"], accounts=["DU1234567"]),
    )
    fake.failures["phone"] = 1
    notifier.send(_alert(1, summary=f"login failed for DU1234567 with hunter2hunter2 via {url}"))
    notifier.pump()
    row = notifier.outbox._db.execute("SELECT title, body FROM alerts").fetchone()
    stored = " ".join(row)
    for secret in ("hunter2hunter2", "DU1234567", "SECRETBOTTOKEN"):
        assert secret not in stored
    assert "DU****567" in stored


def test_targets_of_missing_environment_variable_is_one_line_error() -> None:
    settings = AlertsConfig.model_validate(
        {"targets": [{"name": "phone", "url_env": "BASTION_NOT_SET_URL"}]}
    )
    with pytest.raises(ConfigError, match="BASTION_NOT_SET_URL is not set"):
        targets_of(settings, {})


def test_outbox_orphaned_pending_delivery_adopted_by_next_notifier(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "journal-alerts.db"
    first, fake1, _ = _notifier(outbox=Outbox(path, owner=dead.pid))
    fake1.failures["phone"] = 1
    first.send(_alert(1))
    first.pump()  # fails; stays pending, owned by the dead pid
    first.outbox.close()
    second, fake2, clock = _notifier(outbox=Outbox(path))
    clock.advance(dt.timedelta(seconds=5))
    second.pump()
    assert [s[0] for s in fake2.sent] == ["phone"]
    assert second.outbox.delivery_status("k1")["phone"][0] == "sent"


def test_alert_target_config_refuses_secrets_in_the_file() -> None:
    bad = [
        {"name": "t", "url": "tgram://123:abc/456"},
        {"name": "t", "url": "json://user:pw@host/x"},
        {"name": "t"},
        {"name": "t", "url": "json://h/x", "url_env": "BASTION_X"},
    ]
    for raw in bad:
        try:
            AlertTarget.model_validate(raw)
        except ValueError:
            continue
        raise AssertionError(f"accepted {raw}")
