"""Alerts from a command that runs no engine: a gate, the after-close routine.

A running engine alerts through its monitor, which maps the journal. A command that
runs no engine (``bastion gate dry-run``, ``bastion after-close``) has nobody mapping
its notes, so ``journal_and_alert(profile, note)`` does both halves itself:

- it journals ``note`` in the profile's journal **where one exists** (a fresh folder
  gets no journal from a gate): the audit trail and the daily all-clear see it, and an
  engine's feed that maps it later finds the alert's key (``j<seq>:<kind>:``) already
  taken in the outbox, so it is never sent twice;
- it hands the alerts the note implies to the profile's notifier and waits a bounded
  time for delivery; what is not delivered stays in the outbox, and the next notifier
  (any engine, the next command) retries it.

Nothing here changes the command's answer: a journal that refuses the write, an alert
target whose secret is not set, a target that does not answer, each becomes one line
the command prints, and the command exits with its own code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from bastion.config import Profile
from bastion.domain.records import Note
from bastion.errors import BastionError
from bastion.ops.alerts.mapping import alerts_for_record

__all__ = ["DirectResult", "journal_and_alert"]

log = logging.getLogger(__name__)

FLUSH_SECONDS = 30.0
"""How long a command waits for its alerts to be delivered (then the outbox keeps them)."""


@dataclass(slots=True)
class DirectResult:
    journal_seq: int | None = None
    alerts: list[str] = field(default_factory=list)
    """The kinds of the alerts the note implied."""
    lines: list[str] = field(default_factory=list)
    """What happened, one line each, for the command to print."""


def _journal(profile: Profile, note: Note) -> tuple[int | None, str]:
    from bastion.clock import WallClock
    from bastion.store.sqlite import SqliteStore, StoreMode

    path = profile.store.path
    if not path.exists():
        return None, ""
    try:
        with SqliteStore(path, mode=StoreMode.LIVE, clock=WallClock()) as store:
            store.record([note])
            return store.last_seq, ""
    except Exception as exc:  # noqa: BLE001 - the command's answer stands; say why
        return None, f"{note.kind} note not journaled ({type(exc).__name__}: {exc})"


def journal_and_alert(
    profile: Profile,
    note: Note,
    *,
    flush_seconds: float = FLUSH_SECONDS,
    environ: Mapping[str, str] | None = None,
) -> DirectResult:
    """Journal ``note`` (where the journal exists) and deliver its alerts now."""
    result = DirectResult()
    seq, problem = _journal(profile, note)
    result.journal_seq = seq
    if problem:
        result.lines.append(f"alert: {problem}")
    alerts = alerts_for_record(
        note, profile=profile.name, seq=seq, clock_skew_seconds=profile.alerts.clock_skew_seconds
    )
    result.alerts = [a.kind.value for a in alerts]
    if not alerts or not profile.alerts.targets:
        return result
    from bastion.ops.alerts.notify import open_notifier

    try:
        notifier = open_notifier(profile, environ=environ)
    except BastionError as exc:
        result.lines.append(f"alert not sent: {exc}")
        return result
    try:
        for alert in alerts:
            notifier.send(alert)
        notifier.flush(flush_seconds)
        for alert in alerts:
            status = notifier.outbox.delivery_status(alert.key)
            for name, (state, error) in sorted(status.items()):
                result.lines.append(
                    f"alert {alert.kind.value} to {name}: {state}"
                    + (f" ({error})" if error else "")
                )
    finally:
        notifier.close(1.0)
    return result
