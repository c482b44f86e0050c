"""Operator commands that reach the engine: the kill switch and immediate flatten.

An operator's command runs in its own process. The engine that acts on it is either
the one running for the profile (it holds the store's lock) or, when none runs, a fresh
engine the command builds with the kernel for just this job:

- **an engine runs**: the command persists HALTED and a kill request in the store
  (writes are safe beside a running engine: the journal's sequence numbers are taken
  inside each write transaction); the running engine notices the change at its next
  pass, runs the kill switch, and journals the outcome, which the command waits for and
  reports;
- **no engine runs**: the command builds an engine on the profile's venue (its own
  session role), requests the kill and drives that engine's loop until the kill switch
  has finished; the venue's queries and the one send path are the engine's.

A sim profile's venue lives only inside its session: with no session running there is
no venue holding positions, so the command refuses in one line rather than report a
fresh, empty simulated venue as "flat".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bastion.clock import Clock
from bastion.config import Environment, Profile
from bastion.domain.records import Note
from bastion.engine.engine import Engine
from bastion.engine.kernel import build_engine, config_from_profile
from bastion.engine.lock import EngineLock, LockHolder
from bastion.errors import EnvironmentFault, UserError
from bastion.oms.sending import SendOutcome
from bastion.orders.rolls import FixedSchedule
from bastion.risk.board import StateBoard
from bastion.risk.kill import KillReport
from bastion.risk.kill_request import pending_kill, request_kill
from bastion.store.check import check_journal
from bastion.store.sqlite import SqliteStore
from bastion.venues.registry import open_venue, profile_contracts

__all__ = ["KillOutcome", "kill_now"]


@dataclass(slots=True)
class KillOutcome:
    via: str
    """``running engine`` (pid ...) or ``this command's engine``."""
    headline: str
    flat_confirmed: bool | None
    """``None`` when the running engine had not finished within the wait."""
    lines: list[str]
    api_calls: dict[str, int]


def _outcome_after(store: SqliteStore, after_seq: int) -> Note | None:
    for entry in store.entries(after_seq):
        record = entry.record
        if (
            isinstance(record, Note)
            and record.kind in {"risk.kill.result", "risk.kill.alert"}
            and record.text.startswith("KILL SWITCH:")
        ):
            return record
    return None


def _through_running(
    profile: Profile,
    holder: LockHolder,
    request: tuple[str, str],
    clock: Clock,
    *,
    wait_seconds: float,
    sleep: Callable[[float], None],
) -> KillOutcome:
    reason, actor = request
    with SqliteStore(profile.store.path, clock=clock) as store:
        start = store.last_seq
        request_kill(store, StateBoard(store, clock), clock, reason, actor)
    via = f"the running engine ({holder.line()})"
    waited = 0.0
    while waited < wait_seconds:
        sleep(0.2)
        waited += 0.2
        with SqliteStore(profile.store.path, clock=clock) as store:
            if pending_kill(store) is None:
                note = _outcome_after(store, start)
                if note is not None:
                    return KillOutcome(
                        via=via,
                        headline=note.text,
                        flat_confirmed=note.data.get("flat") == "true",
                        lines=[note.text],
                        api_calls={
                            k: int(note.data.get(k, "0"))
                            for k in ("send_order_calls", "cancel_order_calls")
                        },
                    )
    return KillOutcome(
        via=via,
        headline=f"KILL SWITCH requested; {via} has not reported within {wait_seconds:g} s:"
        " check 'bastion risk status'",
        flat_confirmed=None,
        lines=[],
        api_calls={},
    )


def kill_now(
    profile: Profile,
    reason: str,
    actor: str,
    clock: Clock,
    *,
    timeout: float = 5.0,
    wait_seconds: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    role: str = "kill",
    attach: Callable[[Engine, int], object] | None = None,
    global_cancel: str | None = None,
) -> KillOutcome:
    """HALTED now, then the kill switch by whichever engine serves the profile.

    ``attach`` is called with this command's own engine when it builds one, and the
    journal sequence number before the kill request (the operator's heartbeat and
    alerts, ``bastion.ops.monitor``, which alert from the request on).

    ``global_cancel`` (IB only, no engine running): the operator's confirmation phrase
    for a global cancel, sent first from the command's own client id through the send
    path, for when the engine's client id is held by a connection that will not go
    away; then the kill switch flattens as usual."""
    if profile.store.path.exists():
        check_journal(profile.store.path)  # a damaged journal is refused first, in one line
    holder = EngineLock.holder(profile.store.path)
    _refuse(profile, holder, global_cancel)
    if holder is not None:
        return _through_running(
            profile, holder, (reason, actor), clock, wait_seconds=wait_seconds, sleep=sleep
        )
    if global_cancel is not None:
        role = "kill-global"
    # HALTED and the request journaled before anything connects: if the venue cannot be
    # reached, the account stays HALTED and the next engine to start runs the kill.
    profile.store.path.parent.mkdir(parents=True, exist_ok=True)
    with SqliteStore(profile.store.path, clock=clock) as store:
        before = store.last_seq
        request_kill(store, StateBoard(store, clock), clock, reason, actor)
    attached = None if attach is None else (lambda engine: attach(engine, before))
    try:
        return _own_engine(
            profile, (reason, role), clock, timeout, wait_seconds, sleep, attached, global_cancel
        )
    except (UserError, EnvironmentFault) as exc:
        said = (
            "account HALTED and kill requested (journaled; the next engine to start runs"
            f" it), but the venue refused this command: {exc}"
        )
        raise (UserError if isinstance(exc, UserError) else EnvironmentFault)(said) from exc


def _own_engine(  # noqa: PLR0917 - the kill's settings, passed on
    profile: Profile,
    why: tuple[str, str],
    clock: Clock,
    timeout: float,
    wait_seconds: float,
    sleep: Callable[[float], None],
    attach: Callable[[Engine], object] | None,
    global_cancel: str | None,
) -> KillOutcome:
    """The kill switch on this command's own engine (the request is already journaled)."""
    reason, role = why
    contracts = profile_contracts(profile)
    specs = {spec.instrument_id: spec for spec in contracts.values()}
    venue = open_venue(profile, role, clock, timeout=timeout)
    engine = build_engine(
        config_from_profile(profile, specs, FixedSchedule(contracts={}), role=role),
        venue,
        clock,
    )
    try:
        if attach is not None:
            attach(engine)
        if global_cancel is not None:
            refused = _cancel_everything(engine, global_cancel, reason, timeout, sleep)
            if refused is not None:
                return _not_flat(refused, [], venue.counters.as_dict())
        report = _run_kill(engine, wait_seconds, sleep)
        state = engine.state().value
    finally:
        venue.disconnect()
        engine.close()
    if report is not None:
        return KillOutcome(
            via="this command's engine",
            headline=report.headline,
            flat_confirmed=report.flat_confirmed,
            lines=report.lines(),
            api_calls=report.api_calls,
        )
    lines = [f"engine state: {state}"]
    if venue.last_disconnect_reason:
        lines.append(f"venue: {venue.last_disconnect_reason}")
    if profile.venue.kind == "ib" and global_cancel is None:
        lines.append(
            "if a connection that will not go away holds the engine's client id:"
            f" 'bastion kill --global-cancel {GLOBAL_CANCEL_PHRASE}' cancels every order"
            " in the IB account (other programs' and manual ones too) from its own"
            " client id, then flattens"
        )
    return _not_flat(
        "the venue could not be reached to run the kill switch", lines, venue.counters.as_dict()
    )


GLOBAL_CANCEL_PHRASE = "CANCEL_EVERY_ORDER_IN_THE_ACCOUNT"
"""The operator's confirmation of a global cancel (the IB adapter checks it too)."""


def _refuse(profile: Profile, holder: LockHolder | None, global_cancel: str | None) -> None:
    """What this command must not do, in one line, before anything connects."""
    if global_cancel is not None and holder is not None:
        raise UserError(
            f"--global-cancel: an engine runs for profile {profile.name}"
            f" ({holder.line()}); it runs the kill switch itself: run 'bastion kill'"
            " without --global-cancel"
        )
    if holder is None and profile.environment is Environment.SIM:
        raise UserError(
            f"profile {profile.name} is a sim profile and no session is running: its"
            " simulated venue lives only inside a session, so nothing outside one holds"
            " positions to flatten (the journal's positions are the last session's record);"
            " run the kill from a running session, or use a paper or live profile"
        )
    if global_cancel is not None and global_cancel != GLOBAL_CANCEL_PHRASE:
        raise UserError(
            "--global-cancel cancels every order in the account, other programs' and manual"
            f" ones too; confirm it with --global-cancel {GLOBAL_CANCEL_PHRASE}"
        )
    if global_cancel is not None and profile.venue.kind != "ib":
        raise UserError(
            f"--global-cancel: venue kind {profile.venue.kind} has no global cancel"
            " (IB only); run 'bastion kill' without it"
        )


def _run_kill(
    engine: Engine, wait_seconds: float, sleep: Callable[[float], None]
) -> KillReport | None:
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        engine.iterate(trade=False)
        if engine.kill_reports:
            return engine.kill_reports[-1]
        sleep(0.05)
    return None


def _not_flat(why: str, lines: list[str], api_calls: dict[str, int]) -> KillOutcome:
    return KillOutcome(
        via="this command's engine",
        headline=f"KILL SWITCH: NOT FLAT - {why}; trading stays HALTED; act now: see docs/risk.md",
        flat_confirmed=False,
        lines=lines,
        api_calls=api_calls,
    )


def _cancel_everything(
    engine: Engine,
    confirmation: str,
    reason: str,
    timeout: float,
    sleep: Callable[[float], None],
) -> str | None:
    """Connect, recover, then the venue's global cancel through the send path; what went
    wrong, or ``None`` once it was sent."""
    deadline = time.monotonic() + timeout
    while not engine.sync():
        if time.monotonic() >= deadline:
            why = engine.venue.last_disconnect_reason or "no answer"
            return f"the venue could not be reached for the global cancel ({why})"
        sleep(0.05)
    result = engine.gateway.cancel_everything(confirmation, f"kill switch: {reason}")
    if result.outcome is not SendOutcome.SENT:
        return f"the global cancel was not sent ({result.message})"
    return None
