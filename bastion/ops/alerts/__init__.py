"""Alerts that reach a person (R9.5): the record, the journal mapping, delivery."""

from bastion.ops.alerts.mapping import (
    MAPPING,
    AlertFeed,
    AlertSink,
    alerts_for_record,
    clock_skew_note,
    equity_note,
    gate_note,
    reconnect_note,
    watchdog_note,
)
from bastion.ops.alerts.model import KIND_SEVERITY, Alert, AlertKind, Severity, make_alert, render
from bastion.ops.alerts.notify import AppriseTransport, Notifier, Transport, open_notifier
from bastion.ops.alerts.outbox import Outbox, outbox_path

__all__ = [
    "KIND_SEVERITY",
    "MAPPING",
    "Alert",
    "AlertFeed",
    "AlertKind",
    "AlertSink",
    "AppriseTransport",
    "Notifier",
    "Outbox",
    "Severity",
    "Transport",
    "alerts_for_record",
    "clock_skew_note",
    "equity_note",
    "gate_note",
    "make_alert",
    "open_notifier",
    "outbox_path",
    "reconnect_note",
    "render",
    "watchdog_note",
]
