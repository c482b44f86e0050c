"""The alert record: what reaches a person, and nothing that must not (R9.5).

An ``Alert`` is an immutable value with a severity, a one-line summary, the profile, the
instrument where there is one, and a correlation id that ties it to the journal (the
journal entry's correlation id, else ``journal-<seq>``). ``AlertKind`` enumerates every
situation that alerts; ``KIND_SEVERITY`` gives each kind's usual severity (a mapping
may raise it, e.g. a state tightened to HALTED is critical).

Guarantees:
- a summary is one line (line breaks become spaces) and at most ``SUMMARY_LIMIT``
  characters, so it fits a phone's lock screen;
- ``render`` produces the title and body that leave the process; the notifier passes
  both through the profile's ``Redactor`` before anything is written or sent, so secret
  values and raw account ids never appear.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Final

import msgspec

__all__ = [
    "ALWAYS_DELIVERED",
    "KIND_SEVERITY",
    "SUMMARY_LIMIT",
    "Alert",
    "AlertKind",
    "Severity",
    "make_alert",
    "render",
]

SUMMARY_LIMIT: Final = 200


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, threshold: Severity) -> bool:
        return self.rank >= threshold.rank


_RANK: Final = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertKind(StrEnum):
    """Every situation that alerts. docs/alert-kinds.md is generated from this and the
    journal mapping (``bastion.ops.alerts.mapping.MAPPING``)."""

    KILL_REQUESTED = "kill_requested"
    KILL_FLAT_CONFIRMED = "kill_flat_confirmed"
    KILL_NOT_FLAT = "kill_not_flat"
    KILL_STEP_FAILED = "kill_step_failed"
    INSTRUMENT_LOCKED = "instrument_locked"
    INSTRUMENT_UNLOCKED = "instrument_unlocked"
    RECONCILIATION_BREAK = "reconciliation_break"
    RECONCILIATION_CLEAN = "reconciliation_clean"
    ANOMALY = "anomaly"
    TRADING_STATE_TIGHTENED = "trading_state_tightened"
    TRADING_STATE_RESUMED = "trading_state_resumed"
    LOSS_LIMIT_BREACHED = "loss_limit_breached"
    MARGIN_THRESHOLD = "margin_threshold"
    MARKET_PAUSED = "market_paused"
    MARKET_RESUMED = "market_resumed"
    DISCONNECTED = "disconnected"
    RECONNECTED = "reconnected"
    GATE_NO = "gate_no"
    CLOCK_SKEW = "clock_skew"
    CLOCK_SKEW_CLEARED = "clock_skew_cleared"
    HEARTBEAT_STOPPED = "heartbeat_stopped"
    HEARTBEAT_RESUMED = "heartbeat_resumed"
    WATCHDOG_CANCEL = "watchdog_cancel"
    DAILY_ALL_CLEAR = "daily_all_clear"
    ALERTS_SUPPRESSED = "alerts_suppressed"
    TEST = "test"


KIND_SEVERITY: Final[dict[AlertKind, Severity]] = {
    AlertKind.KILL_REQUESTED: Severity.CRITICAL,
    AlertKind.KILL_FLAT_CONFIRMED: Severity.WARNING,
    AlertKind.KILL_NOT_FLAT: Severity.CRITICAL,
    AlertKind.KILL_STEP_FAILED: Severity.WARNING,
    AlertKind.INSTRUMENT_LOCKED: Severity.WARNING,
    AlertKind.INSTRUMENT_UNLOCKED: Severity.INFO,
    AlertKind.RECONCILIATION_BREAK: Severity.WARNING,
    AlertKind.RECONCILIATION_CLEAN: Severity.INFO,
    AlertKind.ANOMALY: Severity.WARNING,
    AlertKind.TRADING_STATE_TIGHTENED: Severity.WARNING,
    AlertKind.TRADING_STATE_RESUMED: Severity.INFO,
    AlertKind.LOSS_LIMIT_BREACHED: Severity.CRITICAL,
    AlertKind.MARGIN_THRESHOLD: Severity.WARNING,
    AlertKind.MARKET_PAUSED: Severity.INFO,
    AlertKind.MARKET_RESUMED: Severity.INFO,
    AlertKind.DISCONNECTED: Severity.WARNING,
    AlertKind.RECONNECTED: Severity.INFO,
    AlertKind.GATE_NO: Severity.WARNING,
    AlertKind.CLOCK_SKEW: Severity.WARNING,
    AlertKind.CLOCK_SKEW_CLEARED: Severity.INFO,
    AlertKind.HEARTBEAT_STOPPED: Severity.CRITICAL,
    AlertKind.HEARTBEAT_RESUMED: Severity.INFO,
    AlertKind.WATCHDOG_CANCEL: Severity.WARNING,
    AlertKind.DAILY_ALL_CLEAR: Severity.INFO,
    AlertKind.ALERTS_SUPPRESSED: Severity.WARNING,
    AlertKind.TEST: Severity.INFO,
}

ALWAYS_DELIVERED: Final = frozenset({AlertKind.DAILY_ALL_CLEAR, AlertKind.TEST})
"""Kinds every target receives whatever its threshold: the all-clear's absence is the
signal, and a test alert tests the target."""


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    kind: AlertKind
    severity: Severity
    summary: str
    """One line."""
    profile: str
    time: dt.datetime
    """When the fact happened (the journal record's time), UTC."""
    correlation_id: str
    key: str
    """Identity: the same fact gives the same key, so a replay never alerts twice."""
    instrument: str | None = None
    detail: str = ""
    """More lines for targets that show a body (email); never needed to act."""
    journal_seq: int | None = None


def one_line(text: str, limit: int = SUMMARY_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def make_alert(
    kind: AlertKind,
    summary: str,
    *,
    profile: str,
    time: dt.datetime,
    key: str,
    correlation_id: str = "",
    severity: Severity | None = None,
    instrument: str | None = None,
    detail: str = "",
    journal_seq: int | None = None,
) -> Alert:
    """An alert with a one-line summary and the kind's usual severity unless given."""
    return Alert(
        kind=kind,
        severity=severity if severity is not None else KIND_SEVERITY[kind],
        summary=one_line(summary),
        profile=profile,
        time=time.astimezone(dt.UTC),
        correlation_id=correlation_id or key,
        key=key,
        instrument=instrument,
        detail=detail.strip(),
        journal_seq=journal_seq,
    )


def render(alert: Alert) -> tuple[str, str]:
    """The title and body sent to a target (not yet redacted: the notifier does that)."""
    title = one_line(f"[{alert.severity.upper()}] {alert.profile}: {alert.summary}", 250)
    lines = [
        alert.summary,
        f"severity: {alert.severity}",
        f"kind: {alert.kind}",
        f"profile: {alert.profile}",
        f"instrument: {alert.instrument or '-'}",
        f"correlation: {alert.correlation_id}",
        f"time: {alert.time.isoformat()}",
    ]
    if alert.detail:
        lines += ["", alert.detail]
    return title, "\n".join(lines)
