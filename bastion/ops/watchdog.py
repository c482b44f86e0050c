"""The watchdog for a silent engine (R9.1, R9.5): ``bastion watchdog --profile P``.

A small separate process that reads the engine's heartbeat and lock beside the journal
(``bastion.ops.heartbeat``) every ``alerts.watchdog.poll_seconds`` and decides, with
``assess`` (pure: the time is an argument):

- ``never_ran`` / ``stopped``: no engine, or it stopped on purpose (``state: stopped``):
  nothing to say;
- ``not_started``: no heartbeat at all, while one of the profile's instruments has been
  in session (its exchange calendar, ``bastion.marketdata.calendars``) for
  ``timeout_seconds``: the engine should be running and never started. It alerts once
  per session window (``alerts.watchdog.trading_hours``, on by default); outside
  trading hours, or before the timeout has passed since the open, it says nothing;
- ``running``: a fresh heartbeat (younger than ``timeout_seconds``);
- ``dead``: the heartbeat still says running but the engine's lock is free (the kernel
  drops an ``flock`` when its process dies, SIGKILL included), or, with no lock file,
  its pid is gone on this host. Certain at once, so it alerts at once;
- ``silent``: the process lives (it holds the lock) but has not beaten for
  ``timeout_seconds``: hung.

On ``dead`` the watchdog takes the engine's lock itself (so no second engine starts
while it acts, and its journal writes cannot collide with an engine's), journals
``watchdog.heartbeat_stopped``, and where ``cancel_working_orders`` is set cancels every
working order at the venue through ``cancel_working`` and journals the outcome
(``watchdog.cancel.result``). The alerts come from those journal notes through the same
mapping as every other alert. On ``silent`` it cannot write the journal (the engine
holds it) and must not cancel under a live engine, so it alerts from an unjournaled
note and says what to do. Each incident (one engine run) alerts once; when a heartbeat
comes back, ``heartbeat_resumed`` says so. The watchdog's memory of what it did is
``journal-watchdog.json``, so a one-shot run from a timer behaves as the loop does.

It also sends the daily all-clear at ``alerts.daily_all_clear`` when that is set.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from bastion.clock import Clock, WallClock
from bastion.config import Profile
from bastion.domain.records import Note
from bastion.engine.lock import EngineLock, LockProbe, lock_path, probe_lock
from bastion.errors import UserError
from bastion.ops.alerts.mapping import (
    HEARTBEAT_RESUMED,
    HEARTBEAT_STOPPED,
    WATCHDOG_CANCEL,
    WATCHDOG_CANCEL_RESULT,
    AlertSink,
    alerts_for_record,
    watchdog_note,
)
from bastion.ops.heartbeat import (
    RUNNING,
    STOPPED,
    Heartbeat,
    heartbeat_path,
    read_heartbeat,
)

if TYPE_CHECKING:
    from bastion.engine.engine import Engine

__all__ = [
    "Assessment",
    "CancelOutcome",
    "Verdict",
    "Watchdog",
    "WatchdogPass",
    "assess",
    "cancel_working_orders",
    "state_path",
]

log = logging.getLogger(__name__)

MAX_CANCEL_TRIES = 3


class Verdict(StrEnum):
    NEVER_RAN = "never_ran"
    NOT_STARTED = "not_started"
    STOPPED = "stopped"
    RUNNING = "running"
    SILENT = "silent"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Assessment:
    verdict: Verdict
    reason: str
    heartbeat: Heartbeat | None = None
    age: dt.timedelta | None = None
    opened: dt.datetime | None = None
    """``not_started``: when the session window the engine missed opened."""

    @property
    def stopped_beating(self) -> bool:
        return self.verdict in {Verdict.SILENT, Verdict.DEAD, Verdict.NOT_STARTED}

    @property
    def incident(self) -> str:
        """Which engine run this is about."""
        if self.heartbeat is not None:
            return self.heartbeat.incident_key
        if self.opened is not None:
            return f"not-started-{self.opened.isoformat()}"
        return "no-heartbeat"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def assess(  # noqa: PLR0911 - one return per verdict
    beat: Heartbeat | None,
    beat_problem: str,
    lock: LockProbe,
    now: dt.datetime,
    timeout: dt.timedelta,
    *,
    host: str | None = None,
    pid_alive: Callable[[int], bool] = _pid_alive,
) -> Assessment:
    """What the heartbeat and the lock say about the engine at ``now``."""
    if beat is None:
        since = _since(lock)
        if lock.exists and lock.held:
            if since is not None and now - since >= timeout:
                return Assessment(
                    Verdict.SILENT,
                    f"the engine (pid {lock.holder.get('pid', '?')}) holds its lock since"
                    f" {since:%H:%M:%S} UTC but writes no heartbeat ({beat_problem})",
                )
            return Assessment(Verdict.RUNNING, f"engine starting ({beat_problem})")
        return Assessment(Verdict.NEVER_RAN, f"no engine heartbeat ({beat_problem})")
    age = now - beat.time
    if beat.state == STOPPED and not (lock.exists and lock.held):
        return Assessment(Verdict.STOPPED, "the engine stopped on purpose", beat, age)
    if beat.state not in {RUNNING, STOPPED}:
        return Assessment(Verdict.SILENT, f"heartbeat state {beat.state!r} unknown", beat, age)
    alive: bool | None
    if lock.exists:
        alive = lock.held
    elif beat.host == (host if host is not None else socket.gethostname()):
        alive = pid_alive(beat.pid)
    else:
        alive = None
    where = f"pid {beat.pid} on {beat.host}"
    if alive is False:
        return Assessment(
            Verdict.DEAD,
            f"the engine process ({where}) is gone; its last heartbeat, iteration"
            f" {beat.iteration}, was {age.total_seconds():.0f} s ago",
            beat,
            age,
        )
    if beat.state == STOPPED:
        return Assessment(Verdict.RUNNING, "a new engine is starting", beat, age)
    if age >= timeout:
        return Assessment(
            Verdict.SILENT,
            f"no engine heartbeat for {age.total_seconds():.0f} s (timeout"
            f" {timeout.total_seconds():.0f} s); the process ({where}) is"
            + (" alive but silent: hung?" if alive else " of unknown state (another host)"),
            beat,
            age,
        )
    return Assessment(Verdict.RUNNING, f"heartbeat {age.total_seconds():.1f} s old", beat, age)


def _since(lock: LockProbe) -> dt.datetime | None:
    raw = lock.holder.get("since")
    try:
        return dt.datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def expected_running(
    instruments: tuple[str, ...] | list[str], now: dt.datetime, timeout: dt.timedelta
) -> tuple[dt.datetime | None, str]:
    """When the session window that makes an engine due opened (an instrument's exchange
    has been open at least ``timeout`` at ``now``), or ``None``; and why, in words.

    An instrument the bundled specs do not list, or a ``now`` outside its calendar's
    coverage, cannot say; that is reported in the reason, never guessed."""
    from bastion.marketdata.calendars import CalendarCoverageError, calendar_for
    from bastion.marketdata.specs import SpecRegistry

    registry = SpecRegistry.bundled()
    unknown: list[str] = []
    opening: list[str] = []
    for instrument in instruments:
        spec = registry.get(instrument)
        if spec is None:
            unknown.append(f"{instrument} (no exchange calendar)")
            continue
        calendar = calendar_for(spec)
        try:
            windows = calendar.windows(calendar.trading_day_of(now))
        except CalendarCoverageError as exc:
            unknown.append(f"{instrument} ({exc})")
            continue
        for start, end in windows:
            if start <= now < end:
                if now - start >= timeout:
                    return start, (
                        f"{instrument} has been in session since {start:%Y-%m-%d %H:%M} UTC"
                        f" ({calendar.name})"
                    )
                opening.append(f"{instrument} opened at {start:%H:%M} UTC")
    parts = [*opening, *(f"schedule unknown for {u}" for u in unknown)]
    return None, "; ".join(parts) if parts else "outside trading hours"


# -- cancelling working orders --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    confirmed: bool
    """The venue listed no working order afterwards (a fresh query, never belief)."""
    requested: tuple[str, ...] = ()
    remaining: tuple[str, ...] = ()
    detail: str = ""


def cancel_working_orders(
    profile: Profile,
    clock: Clock,
    *,
    timeout: float,
    wait: Callable[[float], None] = time.sleep,
) -> CancelOutcome:
    """Cancel every working order the profile's venue lists, through the one send path
    of a fresh engine built by the kernel (its own venue session, role ``watchdog``).

    It runs only while the watchdog holds the store's engine lock (no engine is alive),
    so the fresh engine uses that lock rather than taking it. The engine connects, runs
    restart recovery and a reconciliation (journaled), and nothing else: no trading, no
    reductions. Each cancel goes through ``OrderGateway.cancel``, which journals the
    request first (CANCEL_PENDING for orders Bastion knows, a ``cancel.foreign`` note
    for any other); a fresh venue query confirms that nothing is left working.
    """
    from bastion.engine.kernel import build_engine, config_from_profile
    from bastion.orders.rolls import FixedSchedule
    from bastion.venues.registry import open_venue, profile_contracts

    specs = {spec.instrument_id: spec for spec in profile_contracts(profile).values()}
    venue = open_venue(profile, "watchdog", clock, timeout=timeout)
    engine = build_engine(
        config_from_profile(
            profile, specs, FixedSchedule(contracts={}), role="watchdog", lock_held=True
        ),
        venue,
        clock,
    )
    try:
        deadline = time.monotonic() + timeout
        while not engine.sync():
            if time.monotonic() >= deadline:
                why = venue.last_disconnect_reason or "no connection"
                return CancelOutcome(
                    confirmed=False, detail=f"venue unreachable ({why}); nothing canceled"
                )
            wait(0.1)
        listed = engine.venue.open_orders()
        if not listed.is_known or listed.value is None:
            return CancelOutcome(
                confirmed=False, detail=f"venue open orders unknown ({listed.reason})"
            )
        requested: list[str] = []
        for rec in listed.value:
            engine.oms.record(
                watchdog_note(
                    clock.now(),
                    WATCHDOG_CANCEL,
                    f"watchdog cancel request for {rec.client_order_id}",
                    client_order_id=rec.client_order_id,
                    contract_id=rec.contract_id,
                )
            )
            engine.gateway.cancel(rec.client_order_id, "watchdog: the engine stopped")
            requested.append(rec.client_order_id)
        return _confirm(engine, requested, timeout, wait)
    finally:
        venue.disconnect()
        engine.close()


def _confirm(
    engine: Engine,
    requested: list[str],
    timeout: float,
    wait: Callable[[float], None],
) -> CancelOutcome:
    """Apply what the venue says and query it until it lists no working order."""
    remaining: set[str] = set(requested)
    deadline = time.monotonic() + timeout
    while True:
        engine.sync()
        now_open = engine.venue.open_orders()
        if now_open.is_known and now_open.value is not None:
            remaining = {r.client_order_id for r in now_open.value}
            if not remaining:
                return CancelOutcome(
                    confirmed=True,
                    requested=tuple(requested),
                    detail=f"{len(requested)} working orders canceled; the venue lists none",
                )
        if time.monotonic() >= deadline:
            return CancelOutcome(
                confirmed=False,
                requested=tuple(requested),
                remaining=tuple(sorted(remaining)),
                detail=f"{len(remaining)} orders still working after {timeout:g} s",
            )
        wait(0.2)


# -- the watchdog ------------------------------------------------------------------------------


def state_path(journal: Path) -> Path:
    return journal.with_name(f"{journal.stem}-watchdog.json")


@dataclass(slots=True)
class _State:
    incident: str | None = None
    verdict: str | None = None
    cancel: str = ""
    """``confirmed``, ``failed`` or empty (not asked or not yet tried)."""
    cancel_tries: int = 0
    all_clear_day: str | None = None

    @classmethod
    def load(cls, path: Path) -> _State:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(raw, dict):
            return cls()
        return cls(
            incident=raw.get("incident"),
            verdict=raw.get("verdict"),
            cancel=str(raw.get("cancel", "")),
            cancel_tries=int(raw.get("cancel_tries", 0)),
            all_clear_day=raw.get("all_clear_day"),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)  # an engine that never ran yet
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(self)), encoding="utf-8")
        tmp.replace(path)


@dataclass(slots=True)
class WatchdogPass:
    """What one check saw and did."""

    assessment: Assessment
    alerted: list[str] = field(default_factory=list)
    cancel: CancelOutcome | None = None
    all_clear: bool = False


class Watchdog:
    def __init__(
        self,
        profile: Profile,
        sink: AlertSink,
        *,
        clock: Clock | None = None,
        cancel_working: Callable[[], CancelOutcome] | None = None,
        all_clear: Callable[[dt.date], None] | None = None,
    ) -> None:
        """``cancel_working`` defaults to ``cancel_working_orders`` on the profile's venue
        (the interim path); ``all_clear(day)`` sends the daily all-clear (default: built
        from the journal by ``daily_all_clear`` and sent to ``sink``)."""
        self.profile = profile
        self.sink = sink
        self.clock: Clock = clock if clock is not None else WallClock()
        self.settings = profile.alerts.watchdog
        self.journal = profile.store.path
        self._cancel = cancel_working or self._default_cancel
        self._all_clear = all_clear or self._default_all_clear
        self.state_file = state_path(self.journal)

    def _default_cancel(self) -> CancelOutcome:
        return cancel_working_orders(
            self.profile, self.clock, timeout=self.settings.cancel_timeout_seconds
        )

    def _default_all_clear(self, day: dt.date) -> None:
        from bastion.ops.alerts.allclear import daily_all_clear
        from bastion.store.sqlite import SqliteStore, StoreMode

        if not self.journal.exists():
            log.warning("no journal at %s yet: no daily all-clear", self.journal)
            return
        with SqliteStore(self.journal, mode=StoreMode.LIVE) as store:
            self.sink.send(daily_all_clear(store, self.profile, day))

    # -- one look ----------------------------------------------------------------------------
    def assess(self) -> Assessment:
        beat, problem = read_heartbeat(heartbeat_path(self.journal))
        return assess(
            beat,
            problem,
            probe_lock(lock_path(self.journal)),
            self.clock.now(),
            dt.timedelta(seconds=self.settings.timeout_seconds),
        )

    def _scheduled(self, seen: Assessment) -> Assessment:
        """``never_ran`` becomes ``not_started`` while the profile's trading hours say an
        engine should be running."""
        if seen.verdict is not Verdict.NEVER_RAN or not self.settings.trading_hours:
            return seen
        opened, why = expected_running(
            self.profile.instruments,
            self.clock.now(),
            dt.timedelta(seconds=self.settings.timeout_seconds),
        )
        if opened is None:
            return Assessment(Verdict.NEVER_RAN, f"{seen.reason}; {why}")
        return Assessment(
            Verdict.NOT_STARTED,
            f"no engine ever started and none is running, but {why}: {seen.reason}",
            opened=opened,
        )

    def check(self) -> WatchdogPass:
        """One pass: assess, alert once per incident, cancel where asked, all-clear."""
        seen = self._scheduled(self.assess())
        done = WatchdogPass(seen)
        state = _State.load(self.state_file)
        if seen.verdict is Verdict.NOT_STARTED:
            if state.incident != seen.incident:
                note = watchdog_note(
                    self.clock.now(),
                    HEARTBEAT_STOPPED,
                    f"engine not running in trading hours: {seen.reason}; start the session",
                    verdict=seen.verdict.value,
                    session_opened=seen.opened.isoformat() if seen.opened else "",
                )
                self._alert(note, None, done)  # no engine: nothing to journal into yet
                state.incident, state.verdict = seen.incident, seen.verdict
                state.cancel, state.cancel_tries = "", 0
        elif seen.stopped_beating:
            self._stopped(seen, state, done)
        elif (
            seen.verdict is Verdict.RUNNING
            and state.incident is not None
            and (seen.incident != state.incident or state.verdict == Verdict.SILENT)
        ):
            self._resumed(seen, state, done)
        self._maybe_all_clear(state, done)
        state.save(self.state_file)
        return done

    def _stopped(self, seen: Assessment, state: _State, done: WatchdogPass) -> None:
        new = state.incident != seen.incident or state.verdict != seen.verdict
        if seen.verdict is Verdict.SILENT:
            if new:
                note = watchdog_note(
                    self.clock.now(),
                    HEARTBEAT_STOPPED,
                    f"engine heartbeat stopped: {seen.reason}; the watchdog cannot journal or"
                    " cancel while that process holds the engine lock: stop it (kill the pid)"
                    " and the watchdog acts",
                    **_beat_data(seen),
                )
                self._alert(note, None, done)
                state.incident, state.verdict = seen.incident, seen.verdict
                state.cancel, state.cancel_tries = "", 0
            return
        want_cancel = self.settings.cancel_working_orders
        needs_cancel = (
            want_cancel
            and state.cancel != "confirmed"
            and (new or state.cancel_tries < MAX_CANCEL_TRIES)
        )
        if not new and not needs_cancel:
            return
        try:
            lock = EngineLock.acquire(self.journal, self.profile.name, role="watchdog", wait=0.0)
        except UserError:
            return  # an engine (or another watchdog) took the lock: look again next pass
        try:
            if new:
                state.incident, state.verdict = seen.incident, seen.verdict
                state.cancel, state.cancel_tries = "", 0
                text = f"engine heartbeat stopped: {seen.reason}" + (
                    "; canceling working orders at the venue"
                    if want_cancel
                    else "; working orders stay at the venue (watchdog.cancel_working_orders"
                    " is off)"
                )
                note = watchdog_note(self.clock.now(), HEARTBEAT_STOPPED, text, **_beat_data(seen))
                self._alert(note, self._journaled(note), done)
            if want_cancel and state.cancel != "confirmed":
                self._cancel_now(state, done)
        finally:
            lock.release()

    def _cancel_now(self, state: _State, done: WatchdogPass) -> None:
        state.cancel_tries += 1
        try:
            outcome = self._cancel()
        except Exception as exc:
            log.exception("watchdog cancel failed")
            outcome = CancelOutcome(
                confirmed=False, detail=f"cancel failed: {type(exc).__name__}: {exc}"
            )
        done.cancel = outcome
        state.cancel = "confirmed" if outcome.confirmed else "failed"
        last = not outcome.confirmed and state.cancel_tries >= MAX_CANCEL_TRIES
        text = (
            f"watchdog cancel: {outcome.detail}"
            if outcome.confirmed
            else f"watchdog cancel NOT confirmed (try {state.cancel_tries}/{MAX_CANCEL_TRIES}):"
            f" {outcome.detail}" + ("; giving up: cancel by hand at the venue" if last else "")
        )
        note = watchdog_note(
            self.clock.now(),
            WATCHDOG_CANCEL_RESULT,
            text,
            confirmed=str(outcome.confirmed).lower(),
            requested=",".join(outcome.requested),
            remaining=",".join(outcome.remaining),
        )
        self._alert(note, self._journaled(note), done)

    def _resumed(self, seen: Assessment, state: _State, done: WatchdogPass) -> None:
        note = watchdog_note(
            self.clock.now(),
            HEARTBEAT_RESUMED,
            f"engine heartbeat back: {seen.reason}",
            **_beat_data(seen),
        )
        self._alert(note, None, done)  # the engine owns the journal again: not journaled
        state.incident = state.verdict = None
        state.cancel, state.cancel_tries = "", 0

    def _journaled(self, note: Note) -> int | None:
        """Journal ``note`` (the watchdog holds the engine lock); its sequence number."""
        from bastion.store.sqlite import SqliteStore, StoreMode

        try:
            with SqliteStore(self.journal, mode=StoreMode.LIVE) as store:
                store.record([note])
                return store.last_seq
        except Exception:
            log.exception("watchdog could not journal %s", note.kind)
            return None

    def _alert(self, note: Note, seq: int | None, done: WatchdogPass) -> None:
        for alert in alerts_for_record(note, profile=self.profile.name, seq=seq):
            self.sink.send(alert)
            done.alerted.append(alert.kind.value)

    def _maybe_all_clear(self, state: _State, done: WatchdogPass) -> None:
        at = self.profile.alerts.daily_all_clear
        if at is None:
            return
        local = self.clock.now().astimezone(zoneinfo.ZoneInfo(self.profile.alerts.timezone))
        day = local.date()
        if local.time() < at or state.all_clear_day == day.isoformat():
            return
        state.all_clear_day = day.isoformat()
        try:
            self._all_clear(day)
            done.all_clear = True
        except Exception:
            log.exception("daily all-clear failed")

    # -- the loop ---------------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event,
        *,
        max_seconds: float | None = None,
        report: Callable[[WatchdogPass], None] | None = None,
    ) -> int:
        """Check every ``poll_seconds`` until ``stop`` is set (or ``max_seconds``);
        ``report`` sees each pass."""
        passes = 0
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        while not stop.is_set():
            try:
                done = self.check()
                if report is not None:
                    report(done)
            except Exception:
                log.exception("watchdog pass failed")
            passes += 1
            if deadline is not None and time.monotonic() >= deadline:
                break
            stop.wait(self.settings.poll_seconds)
        return passes


def _beat_data(seen: Assessment) -> dict[str, object]:
    beat = seen.heartbeat
    data: dict[str, object] = {"verdict": seen.verdict.value}
    if beat is not None:
        data |= {
            "pid": beat.pid,
            "host": beat.host,
            "iteration": beat.iteration,
            "last_heartbeat": beat.time.isoformat(),
        }
    if seen.age is not None:
        data["age_seconds"] = f"{seen.age.total_seconds():.1f}"
    return data
