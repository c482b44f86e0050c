"""The engine: the parts the kernel built, and one loop with the same duties in every mode.

``Engine.iterate(targets)`` is one pass of the loop. It reads time only from the
engine's clock and never sleeps: the driver around it (the bar runner of a backtest or
sim session, the wall-clock runner of a venue session, the deterministic simulation
harness, a one-shot operator command) decides how time passes between passes. Each pass,
in this order:

1. **operator requests**: when another process changed the store (``bastion kill``,
   ``risk halt/resume/limits``), the risk engine re-reads its persisted state;
2. **the venue connection**: while disconnected, nothing is sent, the disconnect is
   journaled once with what was in flight, and a reconnect is tried at most every
   ``reconnect_every``; on every new connection (a new ``connection_epoch``) restart
   recovery runs against the venue, then a reconciliation, and nothing is sent until
   both are complete and clean;
3. **venue events** are applied (fills reach the P&L listeners here, whatever sent the
   order);
4. **the kill switch**: a pending kill request starts it; while it runs it is advanced
   and nothing else trades;
5. **reconciliation** on its cadence (breaks lock instruments, clean runs unlock);
6. **the account**: a position held inside its contract's expiry window raises an
   alert (once per contract and trading day); every equity mark (in the account's
   base currency) goes to the loss limits, and margin above the high mark sends
   reducing orders through the stack (the one send path); a mark that cannot be valued
   (no usable rate, no account snapshot) alerts, once when it starts and once a trading
   day while it lasts, and the account opens nothing until a mark is valued again;
7. **trading**: the order stack works toward the targets;
8. **the trading day**: at each instrument's end of trading day (by its exchange
   calendar), working orders are cancelled and families completed; at the account's
   end of day its closing equity is kept for the next day's loss limit and journaled
   (an ``account.equity`` note, as is the last equity mark when the engine closes);
9. **the heartbeat**: time and iteration count, in memory and to the pass listeners
   (the heartbeat file and the alert feed, ``bastion.ops.monitor``).

``status()`` says what the engine is doing in words an operator can act on; it never
says "targets met" while halted, with a kill pending, or with the venue unreachable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import msgspec

from bastion.clock import Clock
from bastion.domain.fills import Fill
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.records import Note
from bastion.domain.targets import Target
from bastion.engine.days import DayEnd, TradingDays
from bastion.engine.lock import EngineLock
from bastion.engine.send import OrderGateway
from bastion.oms.manager import OrderManager, Surprise
from bastion.oms.recovery import RecoveryResult, recover
from bastion.orders.stack import StackHandler
from bastion.recon.breaks import ReconReport
from bastion.recon.locks import LockBook, LockSource
from bastion.recon.reconciler import Reconciler
from bastion.recon.restored import pending_restore
from bastion.risk.engine import RiskEngine
from bastion.risk.kill import KillReport, KillSwitch
from bastion.risk.kill_request import closed_kill
from bastion.risk.loss import equity_note
from bastion.risk.states import Scope, TradingState
from bastion.store.sqlite import SqliteStore
from bastion.store.targets import TargetStore
from bastion.venues.port import FillCursor, VenueQueries

__all__ = ["Engine", "EngineState", "EquitySource", "Heartbeat"]

CURSOR_KEY = "recovery.fill_cursor"

EquitySource = Callable[[], tuple[Decimal, Decimal | None] | str | None]
"""Equity and margin in use now (in the base currency), or why equity cannot be valued
(``None``: unknown, no reason given)."""


class EngineState(StrEnum):
    """What the engine is doing, for ``status()`` and the session summaries."""

    STARTING = "starting"
    TRADING = "trading"
    RECOVERING = "recovering: restart recovery or reconciliation not yet clean"
    UNREACHABLE = "venue unreachable"
    KILLING = "kill switch running"
    KILL_PENDING = "kill pending"
    HALTED = "HALTED"
    CLOCK_SKEW = "new orders halted: the venue's clock is too far from this machine's"


@dataclass(slots=True)
class Heartbeat:
    at: dt.datetime | None = None
    iterations: int = 0


@dataclass(slots=True)
class Engine:
    """Built by ``bastion.engine.kernel.build_engine``; see the module docstring."""

    clock: Clock
    store: SqliteStore
    oms: OrderManager
    locks: LockBook
    risk: RiskEngine
    gateway: OrderGateway
    venue: VenueQueries
    stack: StackHandler
    reconciler: Reconciler
    kill_switch: KillSwitch
    targets: TargetStore
    days: TradingDays
    equity_source: EquitySource
    account_every: dt.timedelta
    reconnect_every: dt.timedelta = dt.timedelta(seconds=1)
    external_check_every: int = 1
    """Check for other processes' changes to the store every N passes (1 live)."""
    lock: EngineLock | None = None
    """The store's one-engine lock (file-backed stores)."""
    fill_listeners: list[Callable[[Fill], None]] = field(default_factory=list)
    day_listeners: list[Callable[[DayEnd], None]] = field(default_factory=list)
    """Called at every end of trading day (a sim venue's DAY expiry, daily equity)."""
    reconcile_listeners: list[Callable[[ReconReport], None]] = field(default_factory=list)
    """Called after every reconciliation (what depends on fresh snapshots)."""
    pass_listeners: list[Callable[[Heartbeat], None]] = field(default_factory=list)
    """Called at the end of every pass, whatever it did (the heartbeat file, alerts)."""
    close_listeners: list[Callable[[], None]] = field(default_factory=list)
    """Called once by ``close`` before the store closes (a last heartbeat, alert flush)."""
    recoveries: list[str] = field(default_factory=list)
    kill_reports: list[KillReport] = field(default_factory=list)
    disconnects: int = 0
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    ready: bool = False
    broker_positions: dict[ContractId, int] | None = None
    last_recovery: RecoveryResult | None = None
    _epoch_done: int = -1
    _was_connected: bool = False
    _next_connect: dt.datetime | None = None
    _next_account: dt.datetime | None = None
    _data_version: int = -1
    _recorded: dict[tuple[str, str], Target] = field(default_factory=dict)
    _reductions_pending: bool = False
    _killed_at: dt.datetime | None = None
    _skew_note: str | None = None
    _last_mark: tuple[Decimal, Decimal | None] | None = None
    _equity_noted: tuple[Decimal, Decimal | None] | None = None
    silence_limit: dt.timedelta | None = None
    """A venue silent this long is treated as disconnected (``None``: the adapter's own
    heartbeat decides)."""
    max_skew: dt.timedelta = dt.timedelta(seconds=5)
    warn_skew: dt.timedelta | None = None
    """A skew from this much (below ``max_skew``) is journaled as a warning, once until
    it falls back below half of it; trading goes on (``None``: no warning band)."""
    _skew_level: str = "ok"

    def __post_init__(self) -> None:
        self.stack.on_fill = self._on_fill
        self.oms.on_surprise = self._on_surprise
        self.oms.on_unplaced = self._on_unplaced
        self.stack.on_trip = self._on_trip
        self._data_version = self._store_version()

    # -- listeners --------------------------------------------------------------------------
    def _on_fill(self, fill: Fill) -> None:
        for listener in self.fill_listeners:
            listener(fill)

    def _on_surprise(self, surprise: Surprise) -> None:
        """A venue fact that does not fit the book: lock the instrument, alert, go on."""
        change = self.locks.lock(surprise.instrument_id, LockSource.ANOMALY, surprise.message)
        if change is not None:
            self._alert(
                f"{surprise.instrument_id} locked: {surprise.message}", surprise.instrument_id
            )

    def _on_unplaced(self, _why: str) -> None:
        """A venue message that could not be placed on any order (journaled as an
        anomaly, which alerts): reconcile at this pass, not at the next cadence."""
        self.reconciler.last_run = None

    def _on_trip(self, instrument_id: InstrumentId, why: str) -> None:
        """The retry breaker tripped (R5.5): lock the instrument (it survives restarts)."""
        self.locks.lock(instrument_id, LockSource.BREAKER, why)
        self._alert(f"breaker tripped, {instrument_id} locked: {why}", instrument_id)

    def _alert(self, text: str, instrument_id: InstrumentId | None = None) -> None:
        data = {"instrument_id": str(instrument_id)} if instrument_id is not None else {}
        self.oms.record(Note(timestamp=self.clock.now(), kind="alert", text=text, data=data))

    # -- the loop ---------------------------------------------------------------------------
    def iterate(self, targets: Sequence[Target] | None = None, *, trade: bool = True) -> None:
        """One pass of every duty (see the module docstring). ``targets`` are what to
        trade toward; ``None`` keeps the last ones. ``trade=False`` runs every duty but
        asks the stack for nothing new (a bar that changed nothing)."""
        heartbeat = self.heartbeat
        heartbeat.iterations += 1
        if heartbeat.iterations % self.external_check_every == 0:
            self._operator_requests()
        if not self._connection():
            self._beat()
            return
        self._venue_duty()
        self.stack.drain()
        if self._kill_duty():
            self._beat()
            return
        if self.reconciler.due():
            self.ready = self._reconcile()
        self._account_duty()
        if targets is not None:
            targets = self._current(targets)
            self._record_targets(targets)
        if (
            self.ready
            and self._skew_note is None
            and (trade or targets is not None or self._reductions_pending)
        ):
            self._reductions_pending = False
            self.stack.step(targets if targets is not None else ())
        self._day_duty()
        self._beat()

    def _beat(self) -> None:
        self.heartbeat.at = self.clock.now()
        for listener in self.pass_listeners:
            listener(self.heartbeat)

    # 1. operator requests ------------------------------------------------------------------
    def _store_version(self) -> int:
        return int(self.store.connection.execute("PRAGMA data_version").fetchone()[0])

    def _operator_requests(self) -> None:
        version = self._store_version()
        if version != self._data_version:
            self._data_version = version
            self.risk.refresh()

    # 2. the connection -----------------------------------------------------------------------
    def sync(self) -> bool:
        """Only the connection duty and the venue's events: connect if needed, run restart
        recovery and a reconciliation on a new connection, apply what the venue sent.
        True when connected and recovered. For one-shot jobs (a watchdog's cancel) that
        must not trade, reduce or run a kill."""
        if not self._connection():
            return False
        self.stack.drain()
        return True

    def _connection(self) -> bool:
        venue = self.venue
        if not venue.is_connected:
            if self._was_connected:
                self._note_disconnect()
            self._was_connected = False
            self.ready = False
            now = self.clock.now()
            if self._next_connect is not None and now < self._next_connect:
                return False
            self._next_connect = now + self.reconnect_every
            if not venue.connect():
                return False
        self._was_connected = True
        epoch = venue.connection_epoch
        if epoch != self._epoch_done:
            for order in self.oms.book.broker_orders.values():
                venue.remember(order)  # adapters that map venue ids keep our orders known
            complete = self._recover()
            self.ready = complete and self._reconcile()
            if not complete:
                return False  # nothing is sent on a half-known state; next pass retries
            self._epoch_done = epoch
        return True

    def _venue_duty(self) -> None:
        """A venue silent for longer than allowed is treated as disconnected (the next
        pass reconnects, recovers and reconciles); a venue clock too far from ours
        halts new orders until it is back within the limit; each change of level (ok,
        warn, halt) is journaled as a ``clock.skew`` note."""
        now = self.clock.now()
        heard = self.venue.last_heard
        silence = self.silence_limit
        if silence is not None and heard is not None and now - heard > silence:
            why = f"the venue sent nothing for {(now - heard).total_seconds():.0f} s"
            self.oms.record(Note(timestamp=now, kind="venue.silent", text=why))
            self.venue.disconnect()
            return
        skew = self.venue.clock_skew
        if skew is None:
            return
        seconds = skew.total_seconds()
        level = self._skew_level_for(abs(seconds))
        if level == self._skew_level:
            return
        before, self._skew_level = self._skew_level, level
        limit = self.max_skew.total_seconds()
        self._skew_note = None
        if level == "halt":
            self._skew_note = text = (
                f"the venue's clock is {seconds:+.3f} s from this machine's (limit"
                f" {limit:g} s): new orders halted until it is back"
            )
        elif before == "halt":
            text = (
                f"the venue's clock is back within the limit ({seconds:+.3f} s): new orders resume"
            )
        elif level == "warn":
            text = (
                f"the venue's clock is {seconds:+.3f} s from this machine's: trading goes on,"
                f" new orders halt beyond {limit:g} s"
            )
        else:
            text = f"the venue's clock is back within {seconds:+.3f} s"
        self._clock_note(now, seconds, text, level, before)

    def _skew_level_for(self, seconds: float) -> str:
        """``halt`` beyond the limit; ``warn`` from ``warn_skew`` (held down to half of
        it, so a skew at the mark does not flap); ``ok`` otherwise."""
        if seconds > self.max_skew.total_seconds():
            return "halt"
        warn = self.warn_skew
        if warn is not None:
            mark = warn.total_seconds()
            if seconds >= mark or (self._skew_level != "ok" and seconds >= mark / 2):
                return "warn"
        return "ok"

    def _clock_note(
        self, now: dt.datetime, seconds: float, text: str, level: str, before: str
    ) -> None:
        self.oms.record(
            Note(
                timestamp=now,
                kind="clock.skew",
                text=text,
                data={
                    "skew_seconds": f"{seconds:.6f}",
                    "source": self.venue.name,
                    "level": level,
                    "before": before,
                    "limit_seconds": f"{self.max_skew.total_seconds():g}",
                },
            )
        )

    def _recover(self) -> bool:
        cursor = self.store.get_state(CURSOR_KEY)
        targets = [*self._recorded.values(), *self.targets.all()]
        restored = pending_restore(self.store, self.oms, targets)
        result = recover(
            self.oms,
            self.venue,
            self.clock,
            FillCursor(cursor) if cursor else None,
            claim=None if restored is None else restored.claim,
        )
        self.last_recovery = result
        self.recoveries.append(result.summary())
        if result.complete and result.cursor is not None:
            self.store.set_state(CURSOR_KEY, result.cursor)
        for foreign in result.foreign_orders:
            # Someone else is trading this contract in the account (a manual order,
            # another client): Bastion's view of what will fill is not the whole truth.
            instrument = self.risk.instrument_of(foreign.contract_id)
            why = (
                f"an order Bastion did not place is working at the venue:"
                f" {foreign.client_order_id} ({foreign.side} {foreign.quantity}"
                f" {foreign.contract_id}); cancel it there, then clear the lock with"
                " bastion recover"
            )
            if self.locks.lock(instrument, LockSource.ANOMALY, why) is not None:
                self._alert(f"{instrument} locked: {why}", instrument)
        if restored is not None:  # the first recovery after a restore (recon/restored.py)
            for iid, text in restored.alerts():
                self._alert(text, iid)
            for iid, why in restored.locks():
                if self.locks.lock(iid, LockSource.ANOMALY, why) is not None:
                    self._alert(f"{iid} locked: {why}", iid)
            if result.complete:
                restored.done(self.store, self.clock.now())
        return result.complete

    def _note_disconnect(self) -> None:
        self.disconnects += 1
        why = self.venue.last_disconnect_reason or "connection lost"
        in_flight = ",".join(sorted(self.oms.book.broker_orders))
        self.oms.record(
            Note(
                timestamp=self.clock.now(),
                kind="disconnect",
                text=f"disconnected ({why}); new orders halted until recovery and a clean"
                " reconciliation",
                data={"in_flight": in_flight},
            )
        )

    # 4. the kill switch ---------------------------------------------------------------------
    def _kill_duty(self) -> bool:
        """Run a pending kill; True while it runs (nothing else trades then)."""
        kill = self.kill_switch
        if not kill.active:
            request = self.risk.pending_kill()
            if request is None:
                return False
            kill.start(str(request.get("reason", "kill requested")), str(request.get("actor", "")))
        report = kill.advance()
        if report is not None:
            self.kill_reports.append(report)
            self._void_targets()
            self.reconciler.last_run = None  # reconcile at once against the new truth
            return False
        return True

    def _void_targets(self) -> None:
        """A kill ends the plan it interrupted: every order the stack still had for it
        is stopped, every target becomes flat (journaled in the target store), and
        targets generated before the kill are not taken again, so a resume never
        re-enters the old positions; a newer plan is taken as usual."""
        self._end_plan(self.clock.now())

    def _end_plan(self, killed: dt.datetime) -> None:
        """Void the targets and stop the orders made by ``killed`` (see ``_void_targets``)."""
        self._killed_at = killed
        self.stack.stop_all("kill switch: the plan it interrupted is over", made_by=killed)
        for target in [*self._recorded.values(), *self.targets.all()]:
            key = (target.strategy_id, target.instrument_id)
            made = target.generated_time
            if (target.low, target.high) == (0, 0) or (made is not None and made > killed):
                continue
            flat = msgspec.structs.replace(target, low=0, high=0, generated_time=killed)
            self._recorded[key] = flat
            self.targets.write(flat)

    # 5. reconciliation ------------------------------------------------------------------------
    def _reconcile(self) -> bool:
        targets = {
            (t.strategy_id, t.instrument_id): (t.low, t.high) for t in self._recorded.values()
        }
        report, _ = self.reconciler.run(self.venue, targets)
        snap = self.venue.positions()
        self.broker_positions = (
            {c: r.net for c, r in snap.value.items()} if snap.value is not None else None
        )
        for listener in self.reconcile_listeners:
            listener(report)
        # A break locks its instrument (R7.3; the locking gate refuses its orders); the
        # others trade on. Only a view Bastion cannot see stops everything.
        return not report.unknown

    @property
    def last_report(self) -> ReconReport | None:
        return self.reconciler.last_report

    # 6. the account -------------------------------------------------------------------------
    def _account_duty(self) -> None:
        now = self.clock.now()
        if self._next_account is not None and now < self._next_account:
            return
        self._next_account = now + self.account_every
        for instrument, text in self.risk.expiry_alerts(now):
            self._alert(text, instrument)  # held into the expiry window: reduce-only
        mark = self.equity_source()
        if not isinstance(mark, tuple):
            # Fail closed: no loss limit can be checked on equity that has no value.
            alert = self.risk.on_equity_unknown(mark or "no equity mark")
            if alert is not None:
                self._alert(alert)
            return
        self._last_mark = mark
        equity, margin = mark
        check = self.risk.on_account(equity, margin)
        for breach in check.breaches:
            if breach.first:
                self.stack.problems.append(f"risk: {breach.message}")
        for reduction in check.reductions:
            instrument = self.risk.instrument_of(reduction.contract_id)
            if self.stack.reduce_instrument(instrument, reduction.quantity, reduction.reason):
                self._reductions_pending = True

    # 7. targets ------------------------------------------------------------------------------
    def _current(self, targets: Sequence[Target]) -> Sequence[Target]:
        """Targets made before the last kill are void (see ``_void_targets``)."""
        killed = self._killed_at
        if killed is None:
            return targets
        return [t for t in targets if t.generated_time is not None and t.generated_time > killed]

    def _record_targets(self, targets: Sequence[Target]) -> None:
        """What the engine trades toward goes through the target store (R3.1), and is
        the target view of every reconciliation."""
        for target in targets:
            key = (target.strategy_id, target.instrument_id)
            if self._recorded.get(key) != target:
                self._recorded[key] = target
                if self.targets.read(target.strategy_id, target.instrument_id) != target:
                    self.targets.write(target)

    def close(self) -> None:
        """Tell the close listeners, commit what is pending, close the store and release
        the one-engine lock."""
        listeners, self.close_listeners = self.close_listeners, []
        try:
            for listener in listeners:
                listener()
            if self._last_mark is not None:
                day = self.risk.loss.trading_day(self.clock.now())
                self._note_equity(self._last_mark, day, "when the engine stopped")
        finally:
            self._close_store()

    def _close_store(self) -> None:
        try:
            self.store.close()
        finally:
            if self.lock is not None:
                self.lock.release()

    def resync(self) -> None:
        """Run restart recovery and a reconciliation again at the next pass (the end of
        a session, before saying whether Bastion and the venue agree)."""
        self._epoch_done = -1
        self.reconciler.last_run = None

    def load_targets(self) -> None:
        """Take the store's targets as the last known ones (a restart, a new session).
        If a kill switch ever finished, the plan it interrupted stays over in this
        process too: targets and orders made before it are void (idempotent, so a crash
        anywhere after the kill cannot bring them back)."""
        for target in self.targets.all():
            self._recorded[(target.strategy_id, target.instrument_id)] = target
        killed = closed_kill(self.store)
        if killed is not None:
            self._end_plan(killed)

    def targets_met(self, targets: Sequence[Target]) -> bool:
        book = self.oms.book
        if book.instrument_orders or book.contract_orders or book.broker_orders:
            return False
        return all(
            t.low <= book.positions.strategy_position(t.strategy_id, t.instrument_id) <= t.high
            for t in targets
        )

    # 8. the trading day ----------------------------------------------------------------------
    def close_days(self) -> None:
        """Run the end of any trading day the clock has passed. A bar driver calls this
        when its clock moves past a boundary, before the new bar's prices apply, so a
        day closes on its own last prices; ``iterate`` also runs it."""
        self._day_duty()

    def _day_duty(self) -> None:
        ended = self.days.due(self.clock.now())
        if not ended:
            return
        if ended.instruments:
            self.stack.end_of_day(set(ended.instruments))
        if ended.account_day is not None:
            mark = self.equity_source()
            if isinstance(mark, tuple):
                self.risk.loss.close_day(ended.account_day, mark[0], self.clock.now())
                self._note_equity(mark, ended.account_day, "at the close of the trading day")
        for listener in self.day_listeners:
            listener(ended)

    def _note_equity(self, mark: tuple[Decimal, Decimal | None], day: dt.date, why: str) -> None:
        """Journal the account's equity (the daily all-clear's P&L), once per mark."""
        if mark == self._equity_noted:
            return
        self._equity_noted = mark
        self.oms.record(equity_note(self.clock.now(), mark[0], mark[1], day=day, why=why))

    # -- what the engine is doing --------------------------------------------------------------
    def state(self) -> EngineState:  # noqa: PLR0911 - one answer per state, in order
        if self.kill_switch.active:
            return EngineState.KILLING
        if self.risk.pending_kill() is not None:
            return EngineState.KILL_PENDING
        if not self.venue.is_connected:
            return EngineState.UNREACHABLE
        self.risk.board.reload()
        if self.risk.board.state(Scope.account()) is TradingState.HALTED:
            return EngineState.HALTED
        if not self.ready:
            return EngineState.RECOVERING
        if self._skew_note is not None:
            return EngineState.CLOCK_SKEW
        return EngineState.TRADING

    def venue_positions(self) -> dict[ContractId, int] | None:
        """The venue's positions now (R7.4's broker truth for a closing order), or
        ``None`` when unknown."""
        snap = self.venue.positions()
        if snap.value is None:
            return None
        return {c: r.net for c, r in snap.value.items()}
