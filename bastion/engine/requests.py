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
from bastion.errors import UserError
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
    attach: Callable[[Engine], object] | None = None,
) -> KillOutcome:
    """HALTED now, then the kill switch by whichever engine serves the profile.

    ``attach`` is called with this command's own engine when it builds one (the
    operator's heartbeat and alerts, ``bastion.ops.monitor``)."""
    if profile.store.path.exists():
        check_journal(profile.store.path)  # a damaged journal is refused first, in one line
    holder = EngineLock.holder(profile.store.path)
    if holder is not None:
        return _through_running(
            profile, holder, (reason, actor), clock, wait_seconds=wait_seconds, sleep=sleep
        )
    if profile.environment is Environment.SIM:
        raise UserError(
            f"profile {profile.name} is a sim profile and no session is running: its"
            " simulated venue lives only inside a session, so nothing outside one holds"
            " positions to flatten (the journal's positions are the last session's record);"
            " run the kill from a running session, or use a paper or live profile"
        )
    contracts = profile_contracts(profile)
    specs = {spec.instrument_id: spec for spec in contracts.values()}
    venue = open_venue(profile, role, clock, timeout=timeout)
    engine = build_engine(
        config_from_profile(profile, specs, FixedSchedule(contracts={}), role=role),
        venue,
        clock,
    )
    state = ""
    try:
        if attach is not None:
            attach(engine)
        engine.risk.request_kill(reason, actor)
        report: KillReport | None = None
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            engine.iterate(trade=False)
            if engine.kill_reports:
                report = engine.kill_reports[-1]
                break
            sleep(0.05)
        state = engine.state().value
    finally:
        venue.disconnect()
        engine.close()
    if report is None:
        return KillOutcome(
            via="this command's engine",
            headline="KILL SWITCH: NOT FLAT - the venue could not be reached to run the kill"
            " switch; trading stays HALTED; act now: see docs/risk.md",
            flat_confirmed=False,
            lines=[f"engine state: {state}"],
            api_calls=venue.counters.as_dict(),
        )
    return KillOutcome(
        via="this command's engine",
        headline=report.headline,
        flat_confirmed=report.flat_confirmed,
        lines=report.lines(),
        api_calls=report.api_calls,
    )
