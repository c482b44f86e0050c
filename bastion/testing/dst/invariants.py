"""The invariants a simulated run must keep, checked as it goes and at its end.

``Auditor`` watches three places and owns no engine state of its own:

- **the journal**, through its own connection to the shared store, after every durable
  commit (``SqliteStore.on_commit``): it folds each new record into its own ``Book``
  (the journal fold, independent of any engine's memory), and checks each fact the
  moment it is committed: an execution id never journaled twice; an algo's journaled
  memory only moves forward (a restart never starts its patience again nor moves its
  last clip back); "flat confirmed" only
  while the venue is flat; after each complete restart recovery, every venue fill
  before the recovery's fill cursor is in the journal;
- **the door to the venue** (``AuditedVenue.submit``): an order reaches the venue only
  after its write-ahead record is committed and the risk engine allowed it
  (``AuditGate`` and the kill switch's reduced checks record every decision); it never
  makes its instrument order or contract order able to execute beyond its quantity;
  a best-execution order that turned aggressive never sends a passive child again;
  it never takes the instrument's worst case beyond the position limit; a strategy's
  order never goes beyond its target counting what is already working, nor to the
  other side while anything of the instrument is still working at the venue;
- **the step's end**: the strategy table sums to the contract table, the store's
  projections equal the fold, and no instrument order has executed at the venue
  beyond its quantity unless the venue's faults hid something from Bastion (a report
  dropped or lost, a fill made up after a cancel: ``Faults.on_inject``).

``final`` checks the end state after the last recovery: contract positions equal the
venue's, nothing working on either side, a reconciliation with no locking break and
nothing unknown, every venue fill journaled exactly once, projections equal a fresh
fold of the whole journal.

A broken invariant raises ``InvariantBroken`` (a ``BaseException``, so no handler in
the engine that keeps going after an ordinary error can swallow it).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from bastion.domain.algo_memory import AlgoMemory
from bastion.domain.book import Book
from bastion.domain.contracts import parse_contract_id
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, InstrumentId, OrderId, StrategyId
from bastion.domain.order_state import IN_FLIGHT
from bastion.domain.orders import BrokerOrder
from bastion.domain.records import (
    AlgoStateRecorded,
    BrokerOrderCreated,
    FillRecorded,
    ForeignFillRecorded,
    JournalRecord,
    Note,
    OrderStopped,
)
from bastion.engine.engine import Engine
from bastion.errors import InvariantError
from bastion.recon.breaks import BreakKind
from bastion.recon.locks import LockSource
from bastion.risk.port import OrderRequest, RiskDecision, RiskGate
from bastion.store.projection import Rows, rows_of
from bastion.venues.sim import SimVenue

__all__ = ["AuditGate", "Auditor", "InvariantBroken"]

_decoder = msgspec.json.Decoder(JournalRecord)
CANCEL_WINDOW = dt.timedelta(seconds=5)
CANCELS_PER_WINDOW = 2
_TARGET_STOPS = frozenset({"target reversed", "opposite trade wanted: never buy and sell at once"})
"""Why the stack stops orders when a target moves; never a reason to drop a reduction."""


class InvariantBroken(BaseException):
    """An invariant failed; ``invariant`` names it for shrinking (a shrunk schedule must
    break the same one)."""

    def __init__(self, invariant: str, detail: str, step: int | None = None) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail
        self.step = step


class AuditGate:
    """Wraps the engine's risk gate and remembers every order it allowed."""

    def __init__(self, inner: RiskGate, allowed: set[ClientOrderId]) -> None:
        self.inner = inner
        self.allowed = allowed

    def check(self, request: OrderRequest) -> RiskDecision:
        decision = self.inner.check(request)
        if decision.allowed:
            self.allowed.add(request.order.client_order_id)
        return decision


@dataclass(slots=True)
class _Target:
    low: int
    high: int


@dataclass
class Auditor:
    """See the module docstring. ``engine`` returns the engine running now."""

    venue: SimVenue
    reader: sqlite3.Connection
    engine: Callable[[], Engine]
    position_limit: int
    targets: Callable[[], dict[StrategyId, tuple[int, int, dt.datetime]]]
    """What each strategy wants (low, high, when the target was made)."""
    allowed: set[ClientOrderId] = field(default_factory=set)
    fold: Book = field(default_factory=Book)
    last_seq: int = 0
    created: set[ClientOrderId] = field(default_factory=set)
    exec_ids: set[ExecId] = field(default_factory=set)
    fills_cursor: int = 0
    """The next cursor of the last ``fills_since`` page the venue returned."""
    faulted: set[ClientOrderId] = field(default_factory=set)
    """Orders a report was withheld for good or a fill was made up for."""
    exposed: set[OrderId] = field(default_factory=set)
    """Instrument orders the venue's faults may have overfilled (see the docstring)."""
    executed: dict[OrderId, int] = field(default_factory=dict)
    venue_fills_seen: int = 0
    overfilled: dict[OrderId, InstrumentId] = field(default_factory=dict)
    """Instrument orders that executed beyond their quantity at the venue (a fault hid a
    report): each must end with its instrument locked as an anomaly, never silent."""
    checks: dict[str, int] = field(default_factory=dict)
    cancels: dict[ClientOrderId, list[dt.datetime]] = field(default_factory=dict)
    killed_at: dt.datetime | None = None
    """When the last kill switch finished (targets made before it are void)."""
    step: int = 0

    def _fail(self, invariant: str, detail: str) -> InvariantBroken:
        return InvariantBroken(invariant, f"step {self.step}: {detail}", self.step)

    def _count(self, name: str) -> None:
        self.checks[name] = self.checks.get(name, 0) + 1

    # -- the journal ------------------------------------------------------------------------
    def on_commit(self) -> list[JournalRecord]:
        """Fold and check what was committed since the last call; returns it."""
        rows = self.reader.execute(
            "SELECT seq, payload FROM journal WHERE seq > ? ORDER BY seq", (self.last_seq,)
        ).fetchall()
        records: list[JournalRecord] = []
        for seq, payload in rows:
            if seq != self.last_seq + 1:
                raise self._fail("journal", f"sequence gap: {self.last_seq} then {seq}")
            record = _decoder.decode(payload)
            self.last_seq = seq
            if isinstance(record, AlgoStateRecorded):
                self._check_algo_memory(record)
            self._check_record(record)
            try:
                self.fold.apply(record)
            except InvariantError as exc:
                raise self._fail("journal fold", f"record {seq} does not fold: {exc}") from None
            records.append(record)
        return records

    def _check_record(self, record: JournalRecord) -> None:
        if isinstance(record, FillRecorded | ForeignFillRecorded):
            exec_id = record.fill.exec_id
            if exec_id in self.exec_ids:
                raise self._fail("fills once", f"execution {exec_id} journaled twice")
            self.exec_ids.add(exec_id)
        elif isinstance(record, BrokerOrderCreated):
            self.created.add(record.client_order_id)
        elif isinstance(record, OrderStopped):
            order = self.fold.instrument_order(record.order_id)
            if order is not None and order.reduce_only and record.reason in _TARGET_STOPS:
                raise self._fail(
                    "reductions outrank targets",
                    f"risk reduction {record.order_id} stopped by a target ({record.reason})",
                )
        elif isinstance(record, Note):
            if record.kind in ("risk.kill.result", "risk.kill.alert") and record.text.startswith(
                "KILL SWITCH:"
            ):
                self.killed_at = record.timestamp  # the kill switch finished
            if record.kind == "risk.kill.result" and record.data.get("flat") == "true":
                self._count("flat confirmed")
                held = self.venue_positions()
                if held:
                    raise self._fail(
                        "flat confirmed", f"the kill switch said flat; the venue holds {held}"
                    )
            elif record.kind == "recovery" and record.text.startswith("recovery complete"):
                self._count("recovery fills")
                missing = [
                    f.exec_id
                    for f in self.venue.fills[: self.fills_cursor]
                    if f.exec_id not in self.exec_ids
                ]
                if missing:
                    raise self._fail(
                        "fills after recovery",
                        f"a complete recovery left venue fills out of the journal: {missing[:5]}",
                    )

    def _check_algo_memory(self, record: AlgoStateRecorded) -> None:
        """What an algo remembers only moves forward, across restarts too."""
        self._count("algo memory")
        order = self.fold.contract_order(record.order_id)
        was = order.algo_memory if order is not None else AlgoMemory()
        new = record.memory
        back = [
            what
            for what, moved in (
                ("patience start", was.started is not None and new.started != was.started),
                ("anchor", was.anchor_ticks is not None and new.anchor_ticks != was.anchor_ticks),
                ("aggressive", was.aggressive and not new.aggressive),
                ("clip count", new.clips < was.clips),
                (
                    "last clip",
                    was.last_clip is not None
                    and (new.last_clip is None or new.last_clip < was.last_clip),
                ),
            )
            if moved
        ]
        if back:
            raise self._fail(
                "algo memory", f"{record.order_id}: {', '.join(back)} went back ({was} -> {new})"
            )

    def venue_positions(self) -> dict[ContractId, int]:
        """The venue's truth, read without moving its clock."""
        return {cid: book.net for cid, book in self.venue.account_book.books.items() if book.net}

    # -- the door -----------------------------------------------------------------------------
    def before_cancel(self, coid: ClientOrderId) -> None:
        """No cancel storm: at most ``CANCELS_PER_WINDOW`` cancels of one order within
        ``CANCEL_WINDOW`` from one engine (the stack's and the kill switch's own); a
        restarted engine, knowing nothing of what the last one sent, may send again."""
        now = self.venue.current_time()
        recent = [t for t in self.cancels.get(coid, []) if now - t < CANCEL_WINDOW]
        recent.append(now)
        self.cancels[coid] = recent
        self._count("cancels")
        if len(recent) > CANCELS_PER_WINDOW:
            raise self._fail(
                "no cancel storm",
                f"{coid}: {len(recent)} cancels within {CANCEL_WINDOW.total_seconds():g} s",
            )

    def before_submit(self, order: BrokerOrder) -> None:
        self.on_commit()
        coid = order.client_order_id
        self._count("submits")
        if coid not in self.created:
            raise self._fail("write-ahead", f"{coid} reached the venue with no journal record")
        if coid not in self.allowed:
            raise self._fail("risk decision", f"{coid} reached the venue with no risk decision")
        book = self.engine().oms.book
        if self._stale_knowledge(book):
            self._expose(order)
        if order.attribute_to_holders:
            self._check_kill_order(order)
            return
        parent = self.fold.contract_order(order.parent_id) if order.parent_id else None
        if (
            parent is not None
            and parent.algo == "best"
            and parent.algo_memory.aggressive
            and order.order_type is OrderType.LIMIT
        ):
            raise self._fail("algo memory", f"{order.client_order_id}: passive after aggressive")
        self._check_quantities(book, order)
        self._check_limit(book, order)
        self._check_target(book, order)

    def _stale_knowledge(self, book: Book) -> bool:
        """Whether the venue's faults hid a fill of an order Bastion thinks finished."""
        for coid in self.faulted:
            ours = book.broker_order(coid)
            if ours is None or not ours.is_terminal:
                continue
            if ours.filled < self._venue_filled(coid):
                return True
        return False

    def _venue_filled(self, coid: ClientOrderId) -> int:
        live = self.venue.orders.get(coid)
        if live is not None:
            return live.filled
        done = self.venue.status.get(coid)
        return 0 if done is None else done.filled

    def _io_of(self, book: Book, coid: ClientOrderId) -> OrderId | None:
        broker = book.broker_order(coid)
        if broker is None or broker.parent_id is None:
            return None
        contract = book.contract_order(broker.parent_id)
        if contract is None or contract.parent_id is None:
            return None
        return contract.parent_id

    def _expose(self, order: BrokerOrder) -> None:
        io = self._io_of(self.fold, order.client_order_id)
        if io is not None:
            self.exposed.add(io)

    def on_inject(self, kind: str, coid: ClientOrderId | None) -> None:
        """The venue's faults hid or made up a report about ``coid``."""
        self._count(f"venue {kind}")
        if coid is not None and kind in ("drop", "lost", "late_fill"):
            self.faulted.add(coid)
            io = self._io_of(self.fold, coid)
            if io is not None:
                self.exposed.add(io)

    def _check_quantities(self, book: Book, order: BrokerOrder) -> None:
        """Filled plus everything still in flight (this order included) within quantity."""
        if order.parent_id is None:
            return
        co = book.contract_order(order.parent_id)
        if co is None:
            raise self._fail("write-ahead", f"{order.client_order_id}: no contract order")
        if co.spread_leg is not None:
            return
        flight = sum(
            o.remaining
            for c in co.children
            if (o := book.broker_orders.get(c)) is not None and o.state in IN_FLIGHT
        )
        if co.filled + flight > co.quantity:
            raise self._fail(
                "no overfill",
                f"{order.client_order_id}: contract order {co.order_id} could execute"
                f" {co.filled + flight} of {co.quantity} ({co.filled} filled, {flight} in flight)",
            )
        io = book.instrument_order(co.parent_id) if co.parent_id else None
        if io is None:
            return
        io_flight = 0
        for cid in io.children:
            child = book.contract_order(cid)
            if child is None:
                continue
            io_flight += sum(
                o.remaining
                for c in child.children
                if (o := book.broker_orders.get(c)) is not None and o.state in IN_FLIGHT
            )
        if io.filled + io_flight > io.quantity:
            raise self._fail(
                "no overfill",
                f"{order.client_order_id}: instrument order {io.order_id} could execute"
                f" {io.filled + io_flight} of {io.quantity}",
            )

    def _working(
        self, book: Book, instrument: InstrumentId, strategy: StrategyId | None = None
    ) -> tuple[int, int]:
        buy = sell = 0
        for live in book.broker_orders.values():
            if live.state not in IN_FLIGHT or parse_contract_id(live.contract_id)[0] != instrument:
                continue
            if strategy is not None and self._target_strategy_of(book, live) != strategy:
                continue
            if live.side is Side.BUY:
                buy += live.remaining
            else:
                sell += live.remaining
        return buy, sell

    def _strategy_working(
        self, book: Book, instrument: InstrumentId, strategy: StrategyId
    ) -> tuple[int, int]:
        """What the strategy's target orders could still add to its position, each
        instrument order at most its remainder: whatever an order in flight fills
        beyond it goes to ``UNATTRIBUTED``, never to the strategy."""
        buy = sell = 0
        for io in book.instrument_orders.values():
            if io.strategy_id != strategy or io.instrument_id != instrument or io.manual:
                continue
            flight = 0
            for co_id in io.children:
                co = book.contract_order(co_id)
                if co is None:
                    continue
                flight += sum(
                    o.remaining
                    for c in co.children
                    if (o := book.broker_orders.get(c)) is not None and o.state in IN_FLIGHT
                )
            could = min(io.remaining, flight)
            if io.side is Side.BUY:
                buy += could
            else:
                sell += could
        return buy, sell

    def _target_strategy_of(self, book: Book, order: BrokerOrder) -> StrategyId | None:
        """The strategy whose target the order works for; ``None`` for a risk reduction
        (the risk engine's, beside any target), a roll or a kill-switch order."""
        io = self._io_of(book, order.client_order_id)
        found = book.instrument_order(io) if io is not None else None
        return None if found is None or found.manual else found.strategy_id

    def _check_limit(self, book: Book, order: BrokerOrder) -> None:
        instrument = parse_contract_id(order.contract_id)[0]
        pos = book.positions.instrument_position(instrument)
        buy, sell = self._working(book, instrument)
        qty = order.remaining
        before = max(
            abs(pos + buy - (qty if order.side is Side.BUY else 0)),
            abs(pos - sell + (qty if order.side is Side.SELL else 0)),
        )
        after = max(abs(pos + buy), abs(pos - sell))
        if after > self.position_limit and after > before:
            raise self._fail(
                "position limit",
                f"{order.client_order_id} ({order.side} {qty}): {instrument} could reach"
                f" {after} lots (position {pos:+d}, working +{buy}/-{sell}), limit"
                f" {self.position_limit}",
            )

    def _check_target(self, book: Book, order: BrokerOrder) -> None:
        """A strategy's order: never beyond its target counting what already works, and
        never the other side while the instrument has anything working at the venue."""
        instrument = parse_contract_id(order.contract_id)[0]
        opposite = [
            o.client_order_id
            for o in book.broker_orders.values()
            if o.contract_id == order.contract_id
            and o.side is not order.side
            and o.state in IN_FLIGHT
        ]
        if opposite:
            raise self._fail(
                "one side at a time",
                f"{order.client_order_id} ({order.side} {order.quantity}) sent while"
                f" {', '.join(opposite)} on the other side of {order.contract_id} is working",
            )
        io_id = self._io_of(book, order.client_order_id)
        io = book.instrument_order(io_id) if io_id is not None else None
        if io is not None and io.manual:
            self._check_reduction(book, order, instrument)
            return
        if io is None:
            return  # a roll: not a target's
        target = self.targets().get(io.strategy_id)
        if target is None:
            return
        low, high, made = target
        if self.killed_at is not None and made <= self.killed_at:
            low = high = 0  # a kill ends the plan it interrupted: older targets are void
        pos = book.positions.strategy_position(io.strategy_id, instrument)
        s_buy, s_sell = self._strategy_working(book, instrument, io.strategy_id)
        if order.side is Side.BUY and pos + s_buy > max(high, pos):
            raise self._fail(
                "residual",
                f"{order.client_order_id}: strategy {io.strategy_id} could reach"
                f" {pos + s_buy} (held {pos:+d}, buying {s_buy}) with a target of {high:+d}",
            )
        if order.side is Side.SELL and pos - s_sell < min(low, pos):
            raise self._fail(
                "residual",
                f"{order.client_order_id}: strategy {io.strategy_id} could reach"
                f" {pos - s_sell} (held {pos:+d}, selling {s_sell}) with a target of {low:+d}",
            )

    def _check_reduction(self, book: Book, order: BrokerOrder, instrument: InstrumentId) -> None:
        """A margin reduction (the only manual orders here) stops at flat, counting every
        reducing order already working."""
        pos = book.positions.instrument_position(instrument)
        buy, sell = self._working(book, instrument)
        reach = pos - sell if order.side is Side.SELL else pos + buy
        if pos == 0 or reach * pos < 0:
            raise self._fail(
                "reductions stop at flat",
                f"{order.client_order_id} ({order.side} {order.remaining}): {instrument} held"
                f" {pos:+d} could reach {reach:+d} with the reductions working",
            )

    def _check_kill_order(self, order: BrokerOrder) -> None:
        held = self.venue_positions().get(order.contract_id, 0)
        after = held + order.remaining * order.side.sign
        if held == 0 or abs(after) > abs(held) or after * held < 0:
            raise self._fail(
                "kill reduces",
                f"{order.client_order_id} ({order.side} {order.remaining}) with the venue"
                f" holding {held:+d} does not only reduce",
            )

    # -- the step's end -------------------------------------------------------------------------
    def after_step(self, *, full: bool) -> None:
        self.on_commit()
        engine = self.engine()
        self._check_sums(engine.oms.book, "the engine's book")
        self._check_sums(self.fold, "the journal fold")
        self._check_truth_overfill()
        if full:
            self.check_projections(engine)
        else:
            self._check_live_projections()

    def _check_sums(self, book: Book, where: str) -> None:
        positions = book.positions
        strategies: dict[InstrumentId, int] = {}
        for (_, iid), qty in positions.strategy.items():
            strategies[iid] = strategies.get(iid, 0) + qty
        contracts: dict[InstrumentId, int] = {}
        for (iid, _), qty in positions.contract.items():
            contracts[iid] = contracts.get(iid, 0) + qty
        for iid in set(strategies) | set(contracts):
            if strategies.get(iid, 0) != contracts.get(iid, 0):
                raise self._fail(
                    "strategies sum to contracts",
                    f"{where}: {iid} strategies {strategies.get(iid, 0):+d},"
                    f" contracts {contracts.get(iid, 0):+d}",
                )

    def _check_live_projections(self) -> None:
        """Every step: the live-order and position tables equal the fold (the history
        table, which only grows, is compared on full checks)."""
        db = self.reader
        fold = self.fold
        live = {(lv, oid): bytes(p) for lv, oid, p in db.execute("SELECT * FROM live_orders")}
        strategy = {(s, i): q for s, i, q in db.execute("SELECT * FROM positions_strategy")}
        contract = {(i, c): q for i, c, q in db.execute("SELECT * FROM positions_contract")}
        ours = rows_of_live(fold)
        if live != ours.live or strategy != ours.strategy or contract != ours.contract:
            raise self._fail("projections", _diff(ours, Rows(live, {}, strategy, contract)))

    def check_projections(self, engine: Engine) -> None:
        self.on_commit()  # what a new engine journaled while it was built
        self._count("projections")
        ours = rows_of(self.fold)
        theirs = engine.store.table_rows()
        if ours != theirs:
            raise self._fail("projections", _diff(ours, theirs))
        if rows_of(engine.oms.book) != ours:
            raise self._fail(
                "projections", "the engine's book differs from the fold of the journal"
            )

    def _check_truth_overfill(self) -> None:
        fills = self.venue.fills
        for fill in fills[self.venue_fills_seen :]:
            io = self._io_of(self.fold, fill.client_order_id)
            if io is not None:
                self.executed[io] = self.executed.get(io, 0) + fill.quantity
                order = self.fold.instrument_order(io)
                done = self.executed[io]
                if order is not None and done > order.quantity and io not in self.exposed:
                    raise self._fail(
                        "no overfill",
                        f"instrument order {io} executed {done} of {order.quantity} at the"
                        " venue, and no venue fault hid anything from Bastion",
                    )
                if order is not None and done > order.quantity:
                    self.overfilled[io] = order.instrument_id
        self.venue_fills_seen = len(fills)

    # -- the end ----------------------------------------------------------------------------------
    def final(self, engine: Engine) -> None:
        """After the last recovery: see the module docstring."""
        self.after_step(full=True)
        book = engine.oms.book
        ours = {c: q for (_, c), q in book.positions.contract.items() if q}
        theirs = self.venue_positions()
        if ours != theirs:
            raise self._fail("final positions", f"Bastion holds {ours}, the venue {theirs}")
        working = sorted(book.broker_orders)
        if working:
            raise self._fail("final nothing working", f"Bastion has {working} in flight")
        if self.venue.orders:
            raise self._fail(
                "final nothing working", f"the venue works {sorted(self.venue.orders)}"
            )
        report = engine.last_report
        if report is None:
            raise self._fail("final reconciliation", "no reconciliation ran")
        locking = [b.line() for b in report.breaks if b.kind is not BreakKind.TARGET_VS_ACTUAL]
        if locking or report.unknown:
            raise self._fail(
                "final reconciliation", f"breaks {locking}, unknown {list(report.unknown)}"
            )
        missing = [f.exec_id for f in self.venue.fills if f.exec_id not in self.exec_ids]
        if missing:
            raise self._fail("fills once", f"venue fills never journaled: {missing[:5]}")
        locks = engine.locks.locks()
        silent = [
            f"{io} ({iid})"
            for io, iid in sorted(self.overfilled.items())
            if LockSource.ANOMALY not in locks.get(iid, {})
        ]
        if silent:
            raise self._fail(
                "overfill never silent",
                f"executed beyond quantity with no anomaly lock on the instrument: {silent}",
            )
        if not engine.store.verify_projections():
            raise self._fail("projections", "the tables differ from a fresh fold of the journal")


def rows_of_live(book: Book) -> Rows:
    """``rows_of`` without the history table."""
    return rows_of(
        Book(
            instrument_orders=book.instrument_orders,
            contract_orders=book.contract_orders,
            broker_orders=book.broker_orders,
            positions=book.positions,
        )
    )


def _diff(ours: object, theirs: object) -> str:
    for name in ("live", "history", "strategy", "contract"):
        a, b = getattr(ours, name), getattr(theirs, name)
        if a != b:
            keys = sorted({*a, *b} - {k for k in a if a.get(k) == b.get(k)}, key=str)
            return f"{name} table differs from the fold at {keys[:4]}"
    return "the tables differ from the fold"
