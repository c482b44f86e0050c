"""A session against a venue in another process (paper now; live brokers later).

The same core objects as a backtest (OMS, order stack, risk engine), on the wall clock,
with what a venue across a socket needs around them (R5.4, R7, R10.5):

1. the journal (durable, LIVE mode) is folded back into the book on open;
2. on every new connection: restart recovery against the venue's open orders, fills
   since the saved cursor and positions; then reconciliation. Until both are complete
   and clean, nothing is sent (``ready`` is False) and events are only applied;
3. while connected: targets go through the stack (risk gate, write-ahead, submit);
   reconciliation runs every ``reconcile_every``; a break locks its instrument;
4. on a disconnect: new orders stop, what was in flight is recorded, the adapter
   reconnects with backoff, and step 2 runs again before anything is sent;
5. at the end: working orders are cancelled, fills applied, and a final recovery and
   reconciliation say whether Bastion and the venue agree.

``after_reconcile`` is called with the venue after every reconciliation, so callers can
refresh what else depends on fresh snapshots (the pre-submit gate's broker state).
Watch mode (R8.9, send nothing) is ``bastion session --watch`` in ``bastion.gates.watch``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bastion.clock import Clock, WallClock
from bastion.config import Profile
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId, InstrumentId, StrategyId
from bastion.domain.records import Note
from bastion.domain.targets import Target
from bastion.oms import OrderManager
from bastion.oms.recovery import recover
from bastion.oms.retry import RestartCounter
from bastion.ops.logging import CorrelationIndex, configure_logging, get_logger, log_journal
from bastion.ops.records import redactor_for
from bastion.orders.rolls import FixedSchedule
from bastion.orders.stack import StackHandler
from bastion.recon import LockBook, LockingGate, Reconciler
from bastion.recon.locks import LockSource
from bastion.risk.engine import RiskEngine
from bastion.risk.port import RiskGate
from bastion.store import SqliteStore, StoreMode
from bastion.store.targets import TargetStore
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.port import FillCursor, VenuePort

__all__ = ["VenueSession", "VenueSessionResult", "fix_venue_for", "targets_for"]

CURSOR_KEY = "recovery.fill_cursor"


@dataclass(slots=True)
class VenueSessionResult:
    seconds: float
    ready_seconds: float
    """How long the session was connected, recovered and reconciled clean."""
    targets_met: bool
    orders: int
    fills: int
    send_order_calls: int
    cancel_order_calls: int
    positions: dict[str, int]
    venue_positions: dict[str, int] | None
    reconcile_clean: bool
    breaks: list[str]
    unknown: list[str]
    recoveries: list[str]
    disconnects: int
    restarts: int
    journal: Path
    log: Path
    """JSON lines, one per journal record and loop event, with correlation ids (R9.3)."""
    problems: list[str] = field(default_factory=list)


class _Stopwatch:
    """How long a condition (connected, recovered, reconciled clean) has held in total."""

    __slots__ = ("_since", "on", "total")

    def __init__(self) -> None:
        self.on = False
        self.total = 0.0
        self._since = 0.0

    def set(self, on: bool) -> None:
        now = time.monotonic()
        if on and not self.on:
            self._since = now
        elif self.on and not on:
            self.total += now - self._since
        self.on = on


class VenueSession:
    def __init__(
        self,
        profile: Profile,
        venue: VenuePort,
        contracts: dict[ContractId, ContractSpec],
        *,
        clock: Clock | None = None,
        risk_level: str | None = None,
        risk_level_source: str = "no signal plan",
        wrap_gate: Callable[[RiskGate], RiskGate] | None = None,
        reconcile_every: dt.timedelta = dt.timedelta(seconds=10),
        poll_seconds: float = 0.05,
        after_reconcile: Callable[[VenuePort], None] | None = None,
    ) -> None:
        self.profile = profile
        self.venue = venue
        self.clock: Clock = clock if clock is not None else WallClock()
        path = profile.store.path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.store = SqliteStore(path, mode=StoreMode.LIVE, clock=self.clock)
        self.restarts = RestartCounter(self.store, limit=1000).note_start(self.store.last_seq)
        self.oms = OrderManager(self.store)
        self.locks = LockBook(self.store)
        self.reconciler = Reconciler(
            self.oms, self.locks, self.clock, journal=self.store, interval=reconcile_every
        )
        for order in self.oms.book.broker_orders.values():
            venue.remember(order)  # adapters that map venue ids keep our live orders known
        wanted = set(profile.instruments)
        chosen: dict[InstrumentId, ContractId] = {}
        for cid in sorted(contracts):
            iid = contracts[cid].instrument_id
            if iid in wanted and iid not in chosen:
                chosen[iid] = cid
        missing = wanted - set(chosen)
        self.problems: list[str] = [f"{i}: the venue lists no contract" for i in sorted(missing)]
        specs = {iid: contracts[cid] for iid, cid in chosen.items()}
        self.risk = RiskEngine(
            profile.risk,
            specs,
            ledger=self.oms,
            store=self.store,
            clock=self.clock,
            market=venue.market,
            venue_limits={venue.name: venue.rate_limits},
        )
        if risk_level is not None:
            self.risk.set_risk_level(risk_level, risk_level_source)
        self._broker: dict[ContractId, int] | None = None
        gate: RiskGate = LockingGate(self.risk, self.locks, lambda: self._broker)
        if wrap_gate is not None:
            gate = wrap_gate(gate)
        self.stack = StackHandler(
            oms=self.oms,
            venue=venue,
            risk=gate,
            schedule=FixedSchedule(contracts=dict(chosen)),
            market=venue.market,
            clock=self.clock,
            specs=specs,
        )
        self.stack.on_trip = self._trip
        # R9.3: every journal record becomes a JSON log line with its target's correlation
        # id, as the session goes; secrets and account ids are redacted on the way out.
        self.log_path = path.parent / "logs" / "engine.jsonl"
        self._log_stream = configure_logging(self.log_path, redactor_for(profile))
        self.log = get_logger("bastion.session")
        self._correlation = CorrelationIndex()
        for entry in self.store.entries():
            self._correlation.of(entry.record)
        self._logged = self.store.last_seq
        self.log.info(
            "session_start",
            profile=profile.name,
            journal_seq=self._logged,
            restarts=self.restarts.restarts,
        )
        self._poll = poll_seconds
        self._target_store = TargetStore(self.store)
        self._targets: list[Target] = self._target_store.all()
        self._after_reconcile = after_reconcile
        self.recoveries: list[str] = []
        self.disconnects = 0

    # -- the loop ------------------------------------------------------------------------
    def _recover_and_reconcile(self) -> bool:
        cursor = self.store.get_state(CURSOR_KEY)
        result = recover(self.oms, self.venue, self.clock, FillCursor(cursor) if cursor else None)
        self.recoveries.append(result.summary())
        self.log.info("recovery", summary=result.summary())
        if not result.complete:
            return False
        if result.cursor is not None:
            self.store.set_state(CURSOR_KEY, result.cursor)
        return self._reconcile()

    def _reconcile(self) -> bool:
        targets = {(t.strategy_id, t.instrument_id): (t.low, t.high) for t in self._targets}
        report, _ = self.reconciler.run(self.venue, targets)
        snap = self.venue.positions()
        self._broker = {c: r.net for c, r in snap.value.items()} if snap.value is not None else None
        account = self.venue.account()
        if account.value is not None:
            self.risk.on_account(account.value.equity, account.value.margin_used)
        if self._after_reconcile is not None:
            self._after_reconcile(self.venue)
        self.log.info(
            "reconciliation",
            clean=report.clean,
            breaks=[b.line() for b in report.breaks],
            unknown=list(report.unknown),
        )
        return not report.locked_instruments and not report.unknown

    def _record_targets(self, targets: Sequence[Target]) -> None:
        """What the session trades toward goes through the target store (R3.1), and is
        the target view of every reconciliation."""
        changed = [
            t for t in targets if self._target_store.read(t.strategy_id, t.instrument_id) != t
        ]
        for target in changed:
            self._target_store.write(target)
        self._targets = list(targets)

    def _flush_log(self) -> None:
        self._logged += log_journal(self.store.entries(self._logged), index=self._correlation)

    def _targets_met(self, targets: Sequence[Target]) -> bool:
        book = self.oms.book
        if book.instrument_orders or book.contract_orders or book.broker_orders:
            return False
        return all(
            t.low <= book.positions.strategy_position(t.strategy_id, t.instrument_id) <= t.high
            for t in targets
        )

    def run(
        self,
        targets: Sequence[Target] | Callable[[], Sequence[Target]],
        *,
        seconds: float,
        until_met: bool = True,
    ) -> VenueSessionResult:
        """Trade toward ``targets`` (or what a callable returns at each step, for targets
        that move) for at most ``seconds``; with ``until_met``, stop once they are met."""
        fixed = targets if not callable(targets) else None
        wanted = targets if callable(targets) else (lambda: fixed or [])
        venue = self.venue
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        epoch_done, was_connected = -1, False
        ready = _Stopwatch()
        while time.monotonic() < deadline:
            if not venue.is_connected:
                if was_connected:
                    self._note_disconnect()
                was_connected = False
                ready.set(False)
                if not venue.connect():
                    time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
                continue
            was_connected = True
            epoch = venue.connection_epoch
            if epoch != epoch_done:
                ready.set(self._recover_and_reconcile())
                if "INCOMPLETE" in self.recoveries[-1]:
                    time.sleep(0.1)
                    continue
                epoch_done = epoch
            elif self.reconciler.due():
                ready.set(self._reconcile())
            if ready.on:
                current = wanted()
                self._record_targets(current)
                self.stack.step(current)
                if until_met and self._targets_met(current):
                    break
            else:
                self.stack.drain()
            self._flush_log()
            time.sleep(self._poll)
        ready.set(False)
        return self._finish(wanted(), time.monotonic() - started, ready.total)

    def _trip(self, instrument_id: InstrumentId, why: str) -> None:
        """The retry breaker tripped (R5.5): lock the instrument (it survives restarts)
        and leave an alert in the journal."""
        self.locks.lock(instrument_id, LockSource.BREAKER, why)
        self.oms.record(
            Note(
                timestamp=self.clock.now(),
                kind="alert",
                text=f"breaker tripped, {instrument_id} locked: {why}",
                data={"instrument_id": instrument_id},
            )
        )

    def _note_disconnect(self) -> None:
        self.disconnects += 1
        why = self.venue.last_disconnect_reason or "connection lost"
        self.log.warning("disconnect", reason=why, in_flight=sorted(self.oms.book.broker_orders))
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

    def _finish(
        self, targets: Sequence[Target], seconds: float, ready_time: float
    ) -> VenueSessionResult:
        clean, breaks, unknown = False, [], ["venue not connected"]
        if self.venue.is_connected:
            self.stack.end_of_day(max_rounds=100)
            self._recover_and_reconcile()
            report = self.reconciler.last_report
            if report is not None:
                clean = report.clean
                breaks = [b.line() for b in report.breaks]
                unknown = list(report.unknown)
        book = self.oms.book
        result = VenueSessionResult(
            seconds=seconds,
            ready_seconds=ready_time,
            targets_met=self._targets_met(targets),
            orders=sum(1 for o in book.history.values() if hasattr(o, "client_order_id"))
            + len(book.broker_orders),
            fills=len(book.exec_ids),
            send_order_calls=self.venue.counters.send_order_calls,
            cancel_order_calls=self.venue.counters.cancel_order_calls,
            positions={c: q for (_, c), q in sorted(book.positions.contract.items())},
            venue_positions=None
            if self._broker is None
            else {str(c): q for c, q in self._broker.items()},
            reconcile_clean=clean,
            breaks=breaks,
            unknown=unknown,
            recoveries=self.recoveries,
            disconnects=self.disconnects,
            restarts=self.restarts.restarts,
            journal=self.profile.store.path,
            log=self.log_path,
            problems=[*self.problems, *dict.fromkeys(self.stack.problems)],
        )
        self._flush_log()
        self.log.info(
            "session_end",
            targets_met=result.targets_met,
            reconcile_clean=result.reconcile_clean,
            send_order_calls=result.send_order_calls,
            cancel_order_calls=result.cancel_order_calls,
        )
        self._log_stream.close()
        self.venue.disconnect()
        self.store.close()
        return result


def targets_for(strategy_id: str, wanted: dict[str, int], when: dt.datetime) -> list[Target]:
    """Plain targets (no buffer) for a strategy: ``{instrument: lots}``."""
    return [
        Target(
            strategy_id=StrategyId(strategy_id),
            instrument_id=InstrumentId(iid),
            low=lots,
            high=lots,
            generated_time=when,
        )
        for iid, lots in sorted(wanted.items())
    ]
