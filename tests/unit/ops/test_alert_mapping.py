"""Invariant: the journal decides what alerts. Each note kind the engine writes maps to
its alert kind, severity and instrument; notes that are audit trail only alert nothing;
the same journal entry always gives the same key (a replay never alerts twice); an
unreadable note becomes an anomaly alert, never an exception; a disconnect alerts only
when it lasts longer than the profile allows, and its reconnect only after that."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bastion.clock import utc
from bastion.domain.ids import InstrumentId
from bastion.domain.records import FamilyCompleted, Note
from bastion.ops.alerts import (
    MAPPING,
    Alert,
    AlertFeed,
    AlertKind,
    Severity,
    alerts_for_record,
    clock_skew_note,
    gate_note,
    reconnect_note,
    watchdog_note,
)
from bastion.ops.alerts.model import SUMMARY_LIMIT, render
from bastion.recon.locks import LockChange, lock_note
from bastion.store.sqlite import SqliteStore, StoreMode

T0 = utc(2026, 3, 2, 14, 30)


def _note(kind: str, text: str, **data: str) -> Note:
    return Note(timestamp=T0, kind=kind, text=text, data=data)


def _lock(*, locked: bool, source: str) -> Note:
    change = LockChange(InstrumentId("ES"), locked=locked, source=source, why="overfill")
    return lock_note(T0, change, "bastion recover: adopted")


CASES = [
    (
        _note("risk.kill", "kill switch requested by operator: test", reason="test"),
        AlertKind.KILL_REQUESTED,
        Severity.CRITICAL,
        None,
    ),
    (
        _note("risk.kill.result", "KILL SWITCH: flat confirmed", flat="true"),
        AlertKind.KILL_FLAT_CONFIRMED,
        Severity.WARNING,
        None,
    ),
    (
        _note("risk.kill.alert", "KILL SWITCH: NOT FLAT", flat="false", residual="ES/202606=5"),
        AlertKind.KILL_NOT_FLAT,
        Severity.CRITICAL,
        None,
    ),
    (
        _note("risk.kill.alert", "kill switch 2 cancel: attempt 1/3: 2 cancels not confirmed"),
        AlertKind.KILL_STEP_FAILED,
        Severity.WARNING,
        None,
    ),
    (
        _note(
            "risk.state",
            "account moves to HALTED (kill): test",
            scope="account",
            before="active",
            after="halted",
        ),
        AlertKind.TRADING_STATE_TIGHTENED,
        Severity.CRITICAL,
        None,
    ),
    (
        _note(
            "risk.state",
            "instrument:ES moves to REDUCE_ONLY (breach_reduce): x",
            scope="instrument:ES",
            before="active",
            after="reduce_only",
        ),
        AlertKind.TRADING_STATE_TIGHTENED,
        Severity.WARNING,
        "ES",
    ),
    (
        _note(
            "risk.state",
            "account moves to ACTIVE (operator_resume): checked",
            scope="account",
            before="halted",
            after="active",
        ),
        AlertKind.TRADING_STATE_RESUMED,
        Severity.INFO,
        None,
    ),
    (
        _note(
            "risk.loss",
            "day 2026-03-02 starts at equity 100; daily_loss_limit breached: loss 50, limit 10,"
            " action halt",
            equity="50",
        ),
        AlertKind.LOSS_LIMIT_BREACHED,
        Severity.CRITICAL,
        None,
    ),
    (
        _note("risk.margin", "margin utilisation 95.0% is above the high mark 90%"),
        AlertKind.MARGIN_THRESHOLD,
        Severity.WARNING,
        None,
    ),
    (
        _note("risk.guard", "new orders paused: stale", contract_id="ES/202606", guard="stale"),
        AlertKind.MARKET_PAUSED,
        Severity.INFO,
        "ES",
    ),
    (
        _note("risk.guard", "ES/202606: stale cleared", contract_id="ES/202606", guard="stale"),
        AlertKind.MARKET_RESUMED,
        Severity.INFO,
        "ES",
    ),
    (
        _note(
            "reconcile",
            "1 break(s)",
            breaks="contract_vs_broker    ES       ES/202606   bastion=   +1 other=   +0",
            locks="+ES",
        ),
        AlertKind.INSTRUMENT_LOCKED,
        Severity.WARNING,
        "ES",
    ),
    (
        _note("reconcile", "clean", breaks="", locks="-ES"),
        AlertKind.INSTRUMENT_UNLOCKED,
        Severity.INFO,
        "ES",
    ),
    (
        _note("reconcile", "1 break(s)", breaks="fills_vs_broker ES x", locks=""),
        AlertKind.RECONCILIATION_BREAK,
        Severity.WARNING,
        None,
    ),
    (
        _note("alert", "breaker tripped, ES locked: 5 rejects", instrument_id="ES"),
        AlertKind.INSTRUMENT_LOCKED,
        Severity.WARNING,
        "ES",
    ),
    (
        _lock(locked=False, source="anomaly"),
        AlertKind.INSTRUMENT_UNLOCKED,
        Severity.INFO,
        "ES",
    ),
    (
        _lock(locked=True, source="operator"),
        AlertKind.INSTRUMENT_LOCKED,
        Severity.WARNING,
        "ES",
    ),
    (
        _note("anomaly", "illegal transition", client_order_id="B1", contract_id="ES/202606"),
        AlertKind.ANOMALY,
        Severity.WARNING,
        "ES",
    ),
    (
        _note("foreign_order", "an order Bastion did not place", contract_id="ES/202606"),
        AlertKind.ANOMALY,
        Severity.WARNING,
        "ES",
    ),
    (
        gate_note(T0, "dry-run gate", passed=False, result="blocked", reason="stale pool"),
        AlertKind.GATE_NO,
        Severity.WARNING,
        None,
    ),
    (clock_skew_note(T0, -3.5, "venue SendingTime"), AlertKind.CLOCK_SKEW, Severity.WARNING, None),
    (
        watchdog_note(T0, "watchdog.heartbeat_stopped", "engine heartbeat stopped", pid=1),
        AlertKind.HEARTBEAT_STOPPED,
        Severity.CRITICAL,
        None,
    ),
    (
        watchdog_note(T0, "watchdog.heartbeat_resumed", "engine heartbeat back"),
        AlertKind.HEARTBEAT_RESUMED,
        Severity.INFO,
        None,
    ),
    (
        watchdog_note(T0, "watchdog.cancel.result", "watchdog cancel: 2", confirmed="true"),
        AlertKind.WATCHDOG_CANCEL,
        Severity.WARNING,
        None,
    ),
    (
        watchdog_note(T0, "watchdog.cancel.result", "NOT confirmed", confirmed="false"),
        AlertKind.WATCHDOG_CANCEL,
        Severity.CRITICAL,
        None,
    ),
]


@pytest.mark.parametrize(("note", "kind", "severity", "instrument"), CASES)
def test_mapping_note_kind_gives_its_alert(
    note: Note, kind: AlertKind, severity: Severity, instrument: str | None
) -> None:
    alerts = alerts_for_record(note, profile="p", seq=7, correlation_id="corr-1")
    assert [(a.kind, a.severity, a.instrument) for a in alerts] == [(kind, severity, instrument)]
    alert = alerts[0]
    assert alert.profile == "p"
    assert alert.correlation_id == "corr-1"
    assert alert.journal_seq == 7
    assert "\n" not in alert.summary


@pytest.mark.parametrize(
    "note",
    [
        _note("risk.kill", "kill request closed: KILL SWITCH: flat confirmed"),
        _note("risk.kill.step", "kill switch 1 halt: HALTED persisted"),
        _note("risk.state", "account stays HALTED", before="halted", after="halted"),
        _note("risk.loss", "day 2026-03-02 starts at equity 100", equity="100"),
        _note("manual_order", "by hand"),
        _note("balance_trade", "adopted"),
        _note("recovery", "recovered"),
        _note("risk.denied", "denied"),
        gate_note(T0, "dry-run gate", passed=True, result="executable", reason="all checks ok"),
        clock_skew_note(T0, 0.2, "ntp"),
        _note("disconnect", "disconnected (peer closed)"),
        reconnect_note(T0, "paper", 2),
        watchdog_note(T0, "watchdog.cancel", "watchdog cancel request for B1"),
    ],
)
def test_mapping_audit_only_note_alerts_nothing(note: Note) -> None:
    assert alerts_for_record(note, profile="p", seq=1) == []


def test_mapping_non_note_record_alerts_nothing() -> None:
    assert alerts_for_record(FamilyCompleted(timestamp=T0, order_id="I1"), profile="p") == []  # type: ignore[arg-type]


def test_mapping_unreadable_note_becomes_anomaly_not_exception() -> None:
    broken = _note("risk.state", "garbled", before="sideways", after="up")
    (alert,) = alerts_for_record(broken, profile="p", seq=3)
    assert alert.kind is AlertKind.ANOMALY
    assert "garbled" in alert.summary


def test_mapping_same_entry_same_key_and_default_correlation() -> None:
    note = CASES[0][0]
    first = alerts_for_record(note, profile="p", seq=42)
    again = alerts_for_record(note, profile="p", seq=42)
    assert first == again
    assert first[0].correlation_id == "journal-42"
    other = alerts_for_record(note, profile="p", seq=43)
    assert other[0].key != first[0].key


def test_mapping_summary_is_one_line_and_bounded() -> None:
    note = _note("risk.margin", "line one\nline two " + "x" * 500)
    (alert,) = alerts_for_record(note, profile="p", seq=1)
    assert "\n" not in alert.summary
    assert len(alert.summary) <= SUMMARY_LIMIT
    title, body = render(alert)
    assert "\n" not in title
    assert "correlation: journal-1" in body


def test_mapping_table_names_every_alert_kind_a_note_can_give() -> None:
    documented = {row.alert for row in MAPPING if row.alert is not None}
    produced = {kind for _, kind, _, _ in CASES} | {AlertKind.DISCONNECTED, AlertKind.RECONNECTED}
    assert produced <= documented
    not_from_notes = {
        AlertKind.DAILY_ALL_CLEAR,
        AlertKind.ALERTS_SUPPRESSED,
        AlertKind.TEST,
        AlertKind.RECONCILIATION_CLEAN,
    }
    assert set(AlertKind) - not_from_notes <= documented | {AlertKind.RECONCILIATION_CLEAN}


class _Sink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


def _disconnect(at: dt.datetime) -> Note:
    return Note(
        timestamp=at,
        kind="disconnect",
        text="disconnected (peer closed); new orders halted until recovery",
        data={"in_flight": ""},
    )


def test_feed_disconnect_alerts_only_after_threshold_then_reconnect() -> None:
    sink = _Sink()
    feed = AlertFeed("p", sink, disconnect_seconds=60)
    feed.on_record(_disconnect(T0), seq=1)
    assert feed.tick(T0 + dt.timedelta(seconds=59)) == []
    (down,) = feed.tick(T0 + dt.timedelta(seconds=60))
    assert down.kind is AlertKind.DISCONNECTED
    assert "60 s" in down.summary
    assert "peer closed" in down.summary
    assert feed.tick(T0 + dt.timedelta(seconds=600)) == []  # once per disconnect
    (up,) = feed.on_record(reconnect_note(T0 + dt.timedelta(seconds=90), "paper", 2), seq=2)
    assert up.kind is AlertKind.RECONNECTED
    assert "90 s" in up.summary
    assert [a.kind for a in sink.alerts] == [AlertKind.DISCONNECTED, AlertKind.RECONNECTED]


def test_feed_short_disconnect_alerts_nothing() -> None:
    sink = _Sink()
    feed = AlertFeed("p", sink, disconnect_seconds=60)
    feed.on_record(_disconnect(T0), seq=1)
    feed.on_record(_note("recovery", "recovered"), seq=2)  # back within the minute
    assert feed.tick(T0 + dt.timedelta(seconds=3600)) == []
    assert sink.alerts == []


def test_feed_catch_up_reads_only_new_entries(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "journal.db", mode=StoreMode.LIVE)
    sink = _Sink()
    feed = AlertFeed("p", sink, after_seq=store.last_seq)
    store.record([CASES[0][0]])
    assert [a.kind for a in feed.catch_up(store)] == [AlertKind.KILL_REQUESTED]
    assert feed.catch_up(store) == []
    store.record([_note("manual_order", "x"), CASES[8][0]])
    assert [a.kind for a in feed.catch_up(store)] == [AlertKind.MARGIN_THRESHOLD]
    assert feed.seq == 3
    store.close()
