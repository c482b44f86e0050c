"""The stack handler (R4.1, R4.4-R4.8): instrument orders -> contract orders -> broker orders.

Each step it is asked to take, it:
1. turns targets into instrument orders (generation + netting, ``generation.py``);
2. gives each instrument order a contract order per the roll status (``rolls.py``), and
   creates roll orders, which have no instrument parent;
3. lets each contract order's algo (one per order: the algo lock) propose a child, cuts
   it to the trade limits and to what is not already working, and hands it to the one
   send path (``OrderSender``: risk decision, write-ahead, submit);
4. completes finished families so they move to history.

Fills come back through the OMS and propagate broker -> contract -> instrument in the
book. Nothing here reads a wall clock, and nothing here can send to a venue except
through the sender: the stack holds the venue only as ``VenueQueries``.

Durable intent (nothing decided only in memory decides whether to send):
- an order whose target moved, or that its venue refused for good, is *stopped* by a
  journaled ``OrderStopped`` record: a stopped instrument order is never re-placed,
  a stopped contract order sends no more children, and a restart keeps them stopped;
- what a strategy already has working is what could still fill: a live instrument
  order's unfilled quantity, or, once it is stopped, only its broker orders still in
  flight. A new target's order is the residual over filled plus working, and a
  reversal sends nothing on the other side until the cancels are confirmed;
- an order marked LOST (a query found no record of it) still counts as working: its
  intent is not sent again until ``lost_grace`` has passed on the engine's clock and
  the venue, asked again, still has no record of it (a second, journaled LOST). If the
  venue has it after all, its answer is applied and the order is adopted; a fill that
  comes later fills it, never a second order;
- retry counts and backoff times are persisted in the store's state when they change;
- each contract order's algo (named on the order) journals what it remembers
  (``AlgoStateRecorded``: best execution's patience start, anchor and turn to
  aggressive; TWAP's last clip and count) before it acts on a change, and a restarted
  engine gives that memory back to the algo, so its schedule continues: no early clip,
  no patience started again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bastion.clock import Clock
from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import OrderType, Side
from bastion.domain.fills import Fill
from bastion.domain.ids import (
    UNATTRIBUTED,
    ClientOrderId,
    ContractId,
    InstrumentId,
    OrderId,
    StrategyId,
)
from bastion.domain.market import MarketView
from bastion.domain.order_state import IN_FLIGHT, OrderState
from bastion.domain.orders import BrokerOrder, ContractOrder, InstrumentOrder
from bastion.domain.positions import split_largest_remainder
from bastion.domain.reasons import Reason
from bastion.domain.records import (
    AlgoStateRecorded,
    Allocation,
    BrokerOrderCreated,
    ContractOrderCreated,
    FamilyCompleted,
    InstrumentOrderCreated,
    JournalRecord,
    Note,
    OrderStopped,
)
from bastion.domain.targets import Target
from bastion.domain.venue_events import FillReport
from bastion.errors import UserError
from bastion.oms import ApplyOutcome, OrderManager
from bastion.oms.recovery import status_event
from bastion.oms.retry import RetryTracker, Verdict
from bastion.oms.sending import OrderSender, SendOutcome
from bastion.orders.algos import Algo, AlgoChoice, ChildSpec, make_algo
from bastion.orders.generation import (
    Overrides,
    StrategyTrade,
    desired_trade,
    net_trades,
)
from bastion.orders.holds import DenialHolds
from bastion.orders.limits import TradeLimits
from bastion.orders.rolls import ContractSchedule, RollStatus
from bastion.recon.balance import MANUAL_STRATEGY, balance_trade
from bastion.risk.port import OrderPath, OrderRequest
from bastion.venues.port import VenueOrderStatus, VenueQueries

__all__ = ["StackHandler"]


@dataclass(slots=True)
class _AlgoState:
    algo: Algo
    not_before: dt.datetime | None = None
    """After a retryable reject: no new child before this time (the policy's backoff)."""


@dataclass(slots=True)
class StackHandler:
    oms: OrderManager
    sender: OrderSender
    """The one send path: risk decision, write-ahead, submit (``bastion.engine.send``)."""
    venue: VenueQueries
    """The venue's events and queries; no order calls."""
    schedule: ContractSchedule
    market: MarketView
    clock: Clock
    specs: Mapping[InstrumentId, ContractSpec]
    limits: TradeLimits = field(default_factory=TradeLimits)
    overrides: Overrides = field(default_factory=Overrides)
    position_limits: Mapping[InstrumentId, int] = field(default_factory=dict)
    default_algo: str = "market"
    algos: Mapping[InstrumentId, AlgoChoice] = field(default_factory=dict)
    """Per instrument: the profile's algo and its parameters, over ``default_algo``."""
    session_end: dt.datetime | None = None
    retries: RetryTracker = field(default_factory=RetryTracker)
    """R5.5: each reason's retry policy, and the loop breaker."""
    on_trip: Callable[[InstrumentId, str], None] | None = None
    """Called when the breaker trips for an instrument (lock it and alert)."""
    tripped: dict[InstrumentId, str] = field(default_factory=dict)
    on_fill: Callable[[Fill], None] | None = None
    """Called once for every new (not duplicate) fill, after the OMS applied it."""
    problems: list[str] = field(default_factory=list)
    generation: int = 0
    """The store's restore generation (``bastion store restore`` raises it)."""
    cancel_resend: dt.timedelta = dt.timedelta(seconds=5)
    """How long a cancel the stack sent is waited for before it is sent again."""
    lost_grace: dt.timedelta = dt.timedelta(seconds=30)
    """How long an order marked LOST counts as working before the venue is asked again."""
    holds: DenialHolds = field(default_factory=DenialHolds)
    """An intent refused by risk waits before it is tried again."""
    _algos: dict[OrderId, _AlgoState] = field(default_factory=dict)
    _lost_asked: dict[ClientOrderId, dt.datetime] = field(default_factory=dict)
    _cancels_sent: dict[ClientOrderId, dt.datetime] = field(default_factory=dict)
    _counter: int = 0

    # -- durable intent ----------------------------------------------------------------
    def stop(self, order_id: OrderId, why: str) -> None:
        """Stop an instrument or contract order for good (journaled)."""
        order = self.oms.book.instrument_order(order_id) or self.oms.book.contract_order(order_id)
        if order is not None and order.stopped is None and not order.completed:
            self.oms.record(OrderStopped(timestamp=self.clock.now(), order_id=order_id, reason=why))

    def stop_all(self, why: str, *, made_by: dt.datetime | None = None) -> None:
        """Stop every live instrument and contract order (journaled), or those made by
        ``made_by``: a kill ended the plan they served, and a resume must never place
        them again. What they have in flight completes them when the venue answers."""
        book = self.oms.book
        orders: list[InstrumentOrder | ContractOrder] = [
            *book.instrument_orders.values(),
            *book.contract_orders.values(),
        ]
        for order in orders:
            if made_by is None or order.created <= made_by:
                self.stop(order.order_id, why)

    def _live_children(self, co: ContractOrder) -> list[BrokerOrder]:
        book = self.oms.book
        return [o for coid in co.children if (o := book.broker_orders.get(coid)) is not None]

    def _unconfirmed_lost(self, co: ContractOrder) -> list[BrokerOrder]:
        """Its orders marked LOST and not yet confirmed gone: they may still fill."""
        history = self.oms.book.history
        return [
            o
            for coid in co.children
            if isinstance(o := history.get(coid), BrokerOrder)
            and o.state is OrderState.LOST
            and not o.lost_confirmed
        ]

    def _in_flight(self, co: ContractOrder) -> int:
        """Lots of a contract order still at the venue (could still fill), an order
        marked LOST but not confirmed gone included."""
        return sum(o.remaining for o in self._live_children(co)) + sum(
            o.remaining for o in self._unconfirmed_lost(co)
        )

    def check_lost(self) -> None:
        """Ask the venue again about each order LOST for ``lost_grace`` (once per grace):
        still no record confirms it gone (journaled), so its intent may be sent again;
        a record means it was never lost: its answer is applied and the order adopted."""
        now = self.clock.now()
        for co in list(self.oms.book.contract_orders.values()):
            for order in self._unconfirmed_lost(co):
                coid = order.client_order_id
                since = max(order.lost_at or now, self._lost_asked.get(coid, now - self.lost_grace))
                if now - since < self.lost_grace:
                    continue
                self._lost_asked[coid] = now
                snap = self.venue.order_status(coid)
                if snap.value is None:
                    self.problems.append(f"{coid} (LOST): status unknown: {snap.reason}")
                elif snap.value.status is VenueOrderStatus.NOT_FOUND:
                    grace = self.lost_grace.total_seconds()
                    self.oms.confirm_lost(
                        coid, now, f"asked again {grace:g} s later: still no record at the venue"
                    )
                elif (
                    event := status_event(coid, snap.value, snap.value.timestamp or now)
                ) is not None:
                    self.oms.apply(event)  # the venue has it after all: adopted
                    self.problems.append(f"{coid} was marked LOST; the venue has it: adopted")

    def _io_working(self, io: InstrumentOrder) -> int:
        """What an instrument order could still add to its strategy's position: all of
        its unfilled quantity while it lives, only its orders in flight once stopped."""
        if io.stopped is None:
            return io.remaining
        return min(io.remaining, sum(self._in_flight(c) for c in self._children(io)))

    # -- ids: deterministic per intent, from the journal's own history ---------------------
    def _next_id(self, prefix: str) -> OrderId:
        """``{prefix}{base}-{n}``; after a restore from a backup, ``{prefix}{g}.{base}-{n}``
        with the store's generation ``g``, so an id the venue saw after the backup was
        taken is never made again."""
        self._counter += 1
        book = self.oms.book
        base = len(book.history) + len(book.instrument_orders) + len(book.contract_orders)
        gen = f"{self.generation}." if self.generation else ""
        return OrderId(f"{prefix}{gen}{base}-{self._counter}")

    # -- 1. targets -> instrument orders -----------------------------------------------------
    def generate(self, targets: Iterable[Target]) -> list[InstrumentOrder]:
        book = self.oms.book
        now = self.clock.now()
        working = self._working_by_strategy()
        trades: list[StrategyTrade] = []
        refs: dict[tuple[StrategyId, InstrumentId], Target] = {}
        for target in targets:
            iid, sid = target.instrument_id, target.strategy_id
            if iid not in self.specs:
                self.problems.append(f"target {sid}/{iid}: unknown instrument, skipped")
                continue
            pending = working.get((sid, iid), 0)
            trade = desired_trade(
                target,
                book.positions.strategy_position(sid, iid),
                pending,
                self.overrides.effective(sid, iid),
                self.position_limits.get(iid),
            )
            if trade.quantity != 0 and self._reversed(sid, iid, Side.of(trade.quantity)):
                self._cancel_instrument_orders(sid, iid, "target reversed")
                continue
            trades.append(trade)
            refs[(sid, iid)] = target
        created: list[InstrumentOrder] = []
        for iid, plan in net_trades(trades).items():
            if plan.net != 0 and self._opposite_working(iid, Side.of(plan.net)):
                self._cancel_instrument_side(iid, Side.of(plan.net).opposite)
                continue
            crossed = dict(plan.crossed)
            # One write for the whole plan: an internal cross moves two strategies at once,
            # and a crash between its two halves would leave the strategy table unequal
            # to the contract table.
            records: list[JournalRecord] = []
            order_ids: list[OrderId] = []
            for trade in plan.trades:
                ref = refs[(trade.strategy_id, iid)]
                order_id = self._next_id("I")
                order_ids.append(order_id)
                records.append(
                    InstrumentOrderCreated(
                        timestamp=now,
                        order_id=order_id,
                        strategy_id=trade.strategy_id,
                        instrument_id=iid,
                        side=Side.of(trade.quantity),
                        quantity=abs(trade.quantity),
                        reference_ticks=ref.reference_ticks,
                        reference_contract=ref.reference_contract,
                    )
                )
                cross = crossed.get(trade.strategy_id, 0)
                if cross:
                    records.append(
                        Allocation(
                            timestamp=now,
                            strategy_id=trade.strategy_id,
                            instrument_id=iid,
                            signed_quantity=cross,
                            instrument_order_id=order_id,
                            note="internal cross between strategies",
                        )
                    )
            if records:
                self.oms.record(*records)
                created.extend(book.instrument_orders[oid] for oid in order_ids)
        return created

    def _working_by_strategy(self) -> dict[tuple[StrategyId, InstrumentId], int]:
        """What each strategy's target orders could still add to its position. A risk
        reduction working for the strategy is left out: the target's trade never
        compensates for it (that would buy back what the reduction sells)."""
        totals: dict[tuple[StrategyId, InstrumentId], int] = {}
        for order in self.oms.book.instrument_orders.values():
            if order.reduce_only:
                continue
            key = (order.strategy_id, order.instrument_id)
            totals[key] = totals.get(key, 0) + self._io_working(order) * order.side.sign
        return totals

    def _reversed(self, sid: StrategyId, iid: InstrumentId, side: Side) -> bool:
        """Whether the strategy still works a target's order on the other side of
        ``side`` (order by order: a risk reduction working beside it must not hide it
        in the strategy's net)."""
        return any(
            o.strategy_id == sid
            and o.instrument_id == iid
            and not o.reduce_only
            and o.side is not side
            and self._io_working(o) > 0
            for o in self.oms.book.instrument_orders.values()
        )

    def _opposite_working(self, iid: InstrumentId, side: Side) -> bool:
        return any(
            o.instrument_id == iid and o.side is not side and self._io_working(o) > 0
            for o in self.oms.book.instrument_orders.values()
        )

    # A risk reduction (reduce-only: a margin call's) is never canceled for a target:
    # the target's trade waits until the reduction is done.
    def _cancel_instrument_side(self, iid: InstrumentId, side: Side) -> None:
        for order in list(self.oms.book.instrument_orders.values()):
            if order.instrument_id == iid and order.side is side and not order.reduce_only:
                self._cancel_family(order, "opposite trade wanted: never buy and sell at once")

    def _cancel_instrument_orders(self, sid: StrategyId, iid: InstrumentId, why: str) -> None:
        for order in list(self.oms.book.instrument_orders.values()):
            if order.strategy_id == sid and order.instrument_id == iid and not order.reduce_only:
                self._cancel_family(order, why)

    def _cancel_family(self, order: InstrumentOrder, why: str) -> None:
        """Stop the instrument order and its contract orders (journaled), and cancel what
        they have at the venue. The family completes once nothing is in flight."""
        self.stop(order.order_id, why)
        for co_id in order.children:
            co = self.oms.book.contract_orders.get(co_id)
            if co is None:
                continue
            self.stop(co_id, why)
            for child in self._live_children(co):
                self.cancel_broker(child.client_order_id)
        if not order.children:
            self.oms.record(FamilyCompleted(timestamp=self.clock.now(), order_id=order.order_id))

    # -- 2. instrument orders -> contract orders -----------------------------------------------
    def spawn_contract_orders(self) -> None:
        now = self.clock.now()
        book = self.oms.book
        for io in list(book.instrument_orders.values()):
            if io.stopped is not None:
                continue  # its target moved or it was refused for good: never re-placed
            # Placed: what live contract orders may still trade, and what stopped ones
            # still have in flight at the venue (it could fill).
            placed = sum(
                c.remaining if c.stopped is None else min(c.remaining, self._in_flight(c))
                for c in self._children(io)
            )
            unplaced = io.remaining - placed
            if unplaced <= 0:
                continue
            if io.instrument_id in self.tripped:
                continue  # the breaker halted it: an operator must look first
            if self.holds.held(io.order_id, now):
                continue  # refused by risk a moment ago: not asked again at every pass
            for contract, lots in self._placement(io, unplaced, now):
                self.oms.record(
                    ContractOrderCreated(
                        timestamp=now,
                        order_id=self._next_id("C"),
                        instrument_id=io.instrument_id,
                        contract_id=contract,
                        side=io.side,
                        quantity=lots,
                        parent_id=io.order_id,
                        algo=self._algo_name(io.instrument_id),
                    )
                )

    def _algo_name(self, instrument: InstrumentId) -> str:
        chosen = self.algos.get(instrument)
        return chosen.name if chosen is not None else self.default_algo

    def _make_algo(self, co: ContractOrder) -> Algo:
        """The contract order's algo with the instrument's parameters when the profile
        chose that algo for it; the algo's defaults otherwise."""
        chosen = self.algos.get(co.instrument_id)
        if chosen is not None and chosen.name == co.algo:
            return chosen.build()
        return make_algo(co.algo)

    def _forget_completed(self) -> None:
        """Drop algo state of families that left the stack, so work never grows with history."""
        live = self.oms.book.contract_orders
        for oid in [oid for oid in self._algos if oid not in live]:
            del self._algos[oid]
        working = self.oms.book.broker_orders
        for coid in [coid for coid in self._cancels_sent if coid not in working]:
            del self._cancels_sent[coid]
        for coid in [coid for coid in self._lost_asked if coid not in working]:
            order = self.oms.book.broker_order(coid)
            if order is None or order.state is not OrderState.LOST or order.lost_confirmed:
                del self._lost_asked[coid]

    def _children(self, io: InstrumentOrder) -> list[ContractOrder]:
        book = self.oms.book
        return [c for oid in io.children if (c := book.contract_order(oid)) is not None]

    def _placement(
        self, io: InstrumentOrder, lots: int, now: dt.datetime
    ) -> list[tuple[ContractId, int]]:
        iid = io.instrument_id
        current = self.schedule.current(iid, now)
        if current is None:
            self.problems.append(f"{iid}: no current contract known; nothing placed")
            return []
        status = self.schedule.status(iid, now)
        new = self.schedule.next(iid, now)
        held = self.oms.book.positions.contract_position(current)
        reducing = min(lots, abs(held)) if held * io.side.sign < 0 else 0
        if status is RollStatus.NO_ROLL or new is None:
            return [(current, lots)]
        if status is RollStatus.CLOSE:
            if reducing < lots:
                self.problems.append(f"{iid}: roll status close: {lots - reducing} lots not opened")
            return [(current, reducing)] if reducing else []
        if status is RollStatus.PASSIVE:
            placed = [(current, reducing)] if reducing else []
            return [*placed, (new, lots - reducing)] if lots > reducing else placed
        # FORCE / FORCE_LEG: the old position moves by roll orders; new trades go to new.
        return [(new, lots)]

    def roll(self) -> None:
        """Create roll orders for instruments in FORCE or FORCE_LEG status (R4.5)."""
        now = self.clock.now()
        book = self.oms.book
        rolling = {c.contract_id for c in book.contract_orders.values() if c.roll}
        for iid in self.specs:
            status = self.schedule.status(iid, now)
            if status not in (RollStatus.FORCE, RollStatus.FORCE_LEG):
                continue
            old, new = self.schedule.current(iid, now), self.schedule.next(iid, now)
            if old is None or new is None or old in rolling:
                continue
            held = book.positions.contract_position(old)
            if held == 0 or self._working_in(old):
                continue  # nothing to move, or wait until orders in the old contract finish
            close_side = Side.of(-held)
            base = {"timestamp": now, "instrument_id": iid, "quantity": abs(held), "roll": True}
            if status is RollStatus.FORCE:
                self.oms.record(
                    ContractOrderCreated(
                        order_id=self._next_id("R"),
                        contract_id=old,
                        side=close_side,
                        spread_leg=new,
                        **base,  # type: ignore[arg-type]
                    )
                )
            else:
                self.oms.record(
                    ContractOrderCreated(
                        order_id=self._next_id("R"),
                        contract_id=old,
                        side=close_side,
                        **base,  # type: ignore[arg-type]
                    ),
                    ContractOrderCreated(
                        order_id=self._next_id("R"),
                        contract_id=new,
                        side=close_side.opposite,
                        **base,  # type: ignore[arg-type]
                    ),
                )

    def _working_in(self, contract: ContractId) -> bool:
        book = self.oms.book
        return any(o.contract_id == contract for o in book.broker_orders.values()) or any(
            c.contract_id == contract and c.remaining > 0 for c in book.contract_orders.values()
        )

    # -- 3. contract orders -> broker orders ----------------------------------------------
    def run_algos(self) -> None:
        now = self.clock.now()
        book = self.oms.book
        for co in list(book.contract_orders.values()):
            if co.stopped is not None or co.remaining <= 0:
                continue
            parent = book.instrument_order(co.parent_id) if co.parent_id else None
            if parent is not None and parent.stopped is not None:
                continue
            state = self._algos.get(co.order_id)
            if state is None:
                # The algo lock (R4.4): one algo instance per contract order, held here;
                # a backoff in force before a restart still holds.
                state = self._algos[co.order_id] = self._algo_state(co)
            if state.not_before is not None and now < state.not_before:
                continue
            if co.spread_leg is not None:
                self._run_spread(co, state)
                continue
            working = self._working_child(co)
            action = state.algo.decide(
                co, working, self.market.quote(co.contract_id), now, self.session_end
            )
            memory = state.algo.memory(co.order_id)
            if memory != co.algo_memory:
                # Journaled before the algo's action: a crash after it delays the algo
                # (a clip waits its interval), it never makes it act early.
                self.oms.record(
                    AlgoStateRecorded(
                        timestamp=now, order_id=co.order_id, algo=co.algo, memory=memory
                    )
                )
            if action.cancel and working is not None:
                self.cancel_broker(working.client_order_id)
            if action.submit is not None:
                self._send(co, co.contract_id, co.side, action.submit)

    def _algo_state(self, co: ContractOrder) -> _AlgoState:
        """The contract order's algo, continuing from its journaled memory; a backoff
        in force before a restart still holds."""
        algo = self._make_algo(co)
        algo.restore(co.order_id, co.algo_memory)
        return _AlgoState(algo, self.retries.not_before(self._intent(co)))

    def _run_spread(self, co: ContractOrder, state: _AlgoState) -> None:
        """A calendar spread is worked as a pair of marketable legs sent together."""
        if co.children:
            return  # the pair is out; what it leaves is settled at end of day
        spec = ChildSpec(co.quantity, OrderType.MARKET)
        assert co.spread_leg is not None  # noqa: S101 - guarded by the caller
        first = self._send(co, co.contract_id, co.side, spec)
        if first:
            self._send(co, co.spread_leg, co.side.opposite, spec)
        else:
            self.stop(co.order_id, "spread first leg refused")

    def _working_child(self, co: ContractOrder) -> BrokerOrder | None:
        for coid in reversed(co.children):
            order = self.oms.book.broker_orders.get(coid)
            if order is not None:
                return order
        return None

    def _send(self, co: ContractOrder, contract: ContractId, side: Side, spec: ChildSpec) -> bool:
        now = self.clock.now()
        iid = co.instrument_id
        # Never more than the contract order still needs beyond what is in flight (a
        # cancel not yet confirmed may still fill).
        room = co.remaining - (self._in_flight(co) if co.spread_leg is None else 0)
        parent = self.oms.book.instrument_order(co.parent_id) if co.parent_id else None
        if parent is not None and co.spread_leg is None:
            room = min(room, self._parent_room(co, parent))  # ... nor beyond its parent's
        lots = self.limits.allowed(iid, min(spec.quantity, room), now)
        if lots <= 0:
            if room > 0:
                self.problems.append(f"{co.order_id}: trade limit for {iid} reached today")
            return False
        if self._other_side_working(contract, side):
            return False  # never buy and sell at once: wait until the other side is done
        if parent is not None and parent.reduce_only:
            # A reduction decided on an earlier position (a margin call) never opens one:
            # at most what the position still holds beyond the reductions working.
            lots = min(lots, self._reducible(contract, side))
            if lots <= 0:
                why = "reduce-only: nothing left to reduce"
                self.stop(co.order_id, why)
                self.stop(parent.order_id, why)
                return False
        quote = self.market.quote(contract)
        coid = ClientOrderId(f"{co.order_id}.{len(co.children) + 1}")
        created = BrokerOrderCreated(
            timestamp=now,
            client_order_id=coid,
            contract_id=contract,
            side=side,
            quantity=lots,
            order_type=spec.order_type,
            limit_ticks=spec.limit_ticks,
            parent_id=co.order_id,
            venue=self.sender.venue_name,
            reference_ticks=parent.reference_ticks if parent else None,
            reference_time=parent.created if parent else None,
            mid_ticks=quote.mid_ticks if quote else None,
            side_ticks=(quote.bid_ticks if side is Side.BUY else quote.ask_ticks)
            if quote
            else None,
            offside_ticks=(quote.ask_ticks if side is Side.BUY else quote.bid_ticks)
            if quote
            else None,
        )
        held = self.oms.book.positions.contract_position(contract)
        request = OrderRequest(
            order=created,
            path=OrderPath.ROLL if co.roll else OrderPath.AUTOMATIC,
            instrument_id=iid,
            strategy_id=parent.strategy_id if parent else None,
            reduces_position=held * side.sign < 0 and lots <= abs(held),
        )
        result = self.sender.send(request)
        if result.outcome is SendOutcome.DENIED:
            self.problems.append(f"{coid} denied by risk ({result.check}): {result.message}")
            self.stop(co.order_id, f"denied: {result.check}")
            if parent is not None:
                self.holds.refused(parent.order_id, str(result.check), now)
            return False
        if result.sent:
            self.limits.use(iid, lots, now)
            if parent is not None:
                self.holds.sent(parent.order_id)
        return result.sent

    def _parent_room(self, co: ContractOrder, parent: InstrumentOrder) -> int:
        """What ``parent`` still needs beyond what all of its contract orders have in
        flight: a sibling's late fill may have filled it while ``co`` was waiting. A
        contract order with nothing in flight whose parent is filled is stopped."""
        if parent.remaining <= 0 and not self._in_flight(co):
            self.stop(co.order_id, "its instrument order is filled")
            return 0
        return parent.remaining - sum(self._in_flight(c) for c in self._children(parent))

    def _reducible(self, contract: ContractId, side: Side) -> int:
        """Lots an order on ``side`` may still take off ``contract``'s position, after
        every order on the same side in flight, those marked LOST and not yet confirmed
        gone included (they may still fill)."""
        book = self.oms.book
        held = book.positions.contract_position(contract)
        if held * side.sign >= 0:
            return 0
        in_flight = [o for o in book.broker_orders.values() if o.state in IN_FLIGHT]
        working = sum(
            o.remaining
            for o in (*in_flight, *self._all_unconfirmed_lost())
            if o.contract_id == contract and o.side is side
        )
        return abs(held) - working

    def _all_unconfirmed_lost(self) -> list[BrokerOrder]:
        """Every order marked LOST and not yet confirmed gone: it may still fill."""
        return [
            o for co in self.oms.book.contract_orders.values() for o in self._unconfirmed_lost(co)
        ]

    def _other_side_working(self, contract: ContractId, side: Side) -> bool:
        """Whether an order on the other side of ``contract`` could still fill, whatever
        its parents' quantities say (an order whose cancel was refused may still fill
        beyond them, a margin reduction is nobody's target, and an order marked LOST
        may turn up)."""
        book = self.oms.book
        return any(
            o.contract_id == contract and o.side is not side and o.state in IN_FLIGHT
            for o in book.broker_orders.values()
        ) or any(
            o.contract_id == contract and o.side is not side for o in self._all_unconfirmed_lost()
        )

    def cancel_broker(self, client_order_id: ClientOrderId) -> None:
        """Cancel an order of the stack's, once per ``cancel_resend``: a cancel already
        sent is waited for (the venue answers it, or refused it and the order's own
        report is on its way), never repeated at every step."""
        order = self.oms.book.broker_orders.get(client_order_id)
        if order is None or order.is_terminal:
            return
        now = self.clock.now()
        sent = self._cancels_sent.get(client_order_id)
        if sent is not None and now - sent < self.cancel_resend:
            return
        self._cancels_sent[client_order_id] = now
        self.sender.cancel(client_order_id)

    # -- venue events ---------------------------------------------------------------------
    def drain(self) -> int:
        """Apply every due venue event; returns how many there were."""
        events = self.venue.poll_events()
        for event in events:
            result = self.oms.apply(event)
            if (
                self.on_fill is not None
                and isinstance(event, FillReport)
                and result.outcome is not ApplyOutcome.DUPLICATE_FILL
                and result.outcome is not ApplyOutcome.FOREIGN
            ):
                self.on_fill(event.fill)
            if isinstance(event, FillReport) and result.order is not None:
                parent = result.order.parent_id
                co = self.oms.book.contract_order(parent) if parent else None
                if co is not None:
                    self.retries.on_success(self._intent(co))
            if result.outcome.value in ("foreign", "anomaly"):
                self.problems.append(f"{result.outcome}: {result.message}")
            order = result.order
            if order is not None and order.reject_reason and order.is_terminal:
                self._on_dead_child(order)
        return len(events)

    def _intent(self, co: ContractOrder) -> str:
        """What one retry chain is about: a strategy's trade in an instrument and side
        (so a loop spanning regenerated orders is still one loop), or a roll order."""
        book = self.oms.book
        parent = book.instrument_order(co.parent_id) if co.parent_id else None
        if parent is None:
            return f"roll:{co.order_id}"
        return f"{parent.strategy_id}:{co.instrument_id}:{co.side}"

    def _on_dead_child(self, order: BrokerOrder) -> None:
        if order.parent_id is None or order.state.value != "rejected":
            return
        co = self.oms.book.contract_order(order.parent_id)
        if co is None or co.stopped is not None:
            return
        state = self._algos.get(co.order_id) or self._algos.setdefault(
            co.order_id, self._algo_state(co)
        )
        reason_text = (order.reject_reason or "").split(":", 1)[0]
        try:
            reason = Reason(reason_text)
        except ValueError:
            reason = Reason.UNKNOWN
        decision = self.retries.on_failure(
            self._intent(co), co.instrument_id, reason, self.clock.now()
        )
        if decision.verdict is Verdict.RETRY:
            state.not_before = decision.not_before
            return
        why = f"rejected ({reason}); {decision.message}"
        self.stop(co.order_id, why)
        if co.parent_id is not None:
            self.stop(co.parent_id, why)  # the intent is given up, not re-placed
        self.problems.append(f"{order.client_order_id} rejected: {order.reject_reason}")
        if decision.verdict is Verdict.TRIP:
            self.tripped[co.instrument_id] = decision.message
            self.problems.append(f"breaker tripped for {co.instrument_id}: {decision.message}")
            if self.on_trip is not None:
                self.on_trip(co.instrument_id, decision.message)

    # -- 4. completion ---------------------------------------------------------------------
    def complete_finished(self) -> None:
        book = self.oms.book
        now = self.clock.now()
        for co in list(book.contract_orders.values()):
            if co.parent_id is None and self._family_done(co):
                self.oms.record(FamilyCompleted(timestamp=now, order_id=co.order_id))
        for io in list(book.instrument_orders.values()):
            children = self._children(io)
            if all(self._family_done(c) for c in children) and (
                io.remaining == 0 or io.stopped is not None
            ):
                self.oms.record(FamilyCompleted(timestamp=now, order_id=io.order_id))
        self._forget_completed()

    def _family_done(self, co: ContractOrder) -> bool:
        """Nothing of it in flight, and either filled or stopped."""
        if any(coid in self.oms.book.broker_orders for coid in co.children):
            return False
        if self._unconfirmed_lost(co):
            return False  # it may still fill: the family waits for the venue's word
        return co.remaining == 0 or co.stopped is not None

    def step(self, targets: Iterable[Target] = ()) -> None:
        """One full pass: events, generation, placement, rolls, algos, completion."""
        self.drain()
        self.check_lost()
        self.generate(targets)
        self.spawn_contract_orders()
        self.roll()
        self.run_algos()
        self.drain()
        self.complete_finished()

    def end_of_day(
        self, instruments: set[InstrumentId] | None = None, *, max_rounds: int = 50
    ) -> bool:
        """Cancel working orders, process fills, complete every family (R4.7), for
        ``instruments`` (all when ``None``) at their end of trading day.

        Returns True when nothing of them is left in the stack; False (and a problem)
        when a cancel was not confirmed in ``max_rounds`` drains: those families stay
        live, stopped, and complete when the venue answers.
        """
        book = self.oms.book

        def mine(iid: InstrumentId) -> bool:
            return instruments is None or iid in instruments

        for io in list(book.instrument_orders.values()):
            if mine(io.instrument_id):
                self.stop(io.order_id, "end of day")
        for co in list(book.contract_orders.values()):
            if mine(co.instrument_id):
                self.stop(co.order_id, "end of day")
        ours = [
            o.client_order_id
            for o in book.broker_orders.values()
            if mine(InstrumentId(o.contract_id.split("/", 1)[0]))
        ]
        for coid in ours:
            self.cancel_broker(coid)
        for _ in range(max_rounds):
            self.drain()
            if not any(coid in book.broker_orders for coid in ours):
                break
        self.complete_finished()
        left = [coid for coid in ours if coid in book.broker_orders]
        live = any(mine(o.instrument_id) for o in book.instrument_orders.values()) or any(
            mine(o.instrument_id) for o in book.contract_orders.values()
        )
        if left:
            self.problems.append(
                f"end of day: {len(left)} broker orders still working; the stack is not empty"
            )
        return not left and not live

    # -- manual orders and balance trades (R4.6) --------------------------------------------
    def manual_order(
        self,
        strategy_id: StrategyId,
        instrument_id: InstrumentId,
        quantity: int,
        note: str,
        *,
        reduce_only: bool = False,
    ) -> InstrumentOrder:
        """An operator's order: an instrument order like any other (same risk gate, same
        journal, same venue path), flagged manual, with the operator's note.
        ``reduce_only``: it never sends more than the position still holds."""
        if instrument_id not in self.specs:
            raise UserError(f"manual order: unknown instrument {instrument_id}")
        if quantity == 0:
            raise UserError("manual order: quantity must not be zero")
        if not note.strip():
            raise UserError("manual order: an audit note is required")
        now = self.clock.now()
        order_id = self._next_id("M")
        self.oms.record(
            InstrumentOrderCreated(
                timestamp=now,
                order_id=order_id,
                strategy_id=strategy_id,
                instrument_id=instrument_id,
                side=Side.of(quantity),
                quantity=abs(quantity),
                manual=True,
                reduce_only=reduce_only,
            ),
            Note(timestamp=now, kind="manual_order", text=note, data={"order_id": order_id}),
        )
        return self.oms.book.instrument_orders[order_id]

    def balance_trade(
        self,
        contract_id: ContractId,
        quantity: int,
        price_ticks: int,
        note: str,
        strategy_id: StrategyId | None = None,
    ) -> ClientOrderId:
        """Record a fill that happened outside Bastion (R4.6), with an audit note; see
        ``bastion.recon.balance`` (the strategy defaults to ``manual``)."""
        iid = InstrumentId(contract_id.split("/")[0])
        if iid not in self.specs:
            raise UserError(f"balance trade: unknown contract {contract_id}")
        return balance_trade(
            self.oms,
            self.clock.now(),
            contract_id,
            quantity,
            price_ticks=price_ticks,
            note=note,
            strategy_id=strategy_id or MANUAL_STRATEGY,
        )

    # -- risk-reducing orders (R6.6) ----------------------------------------------------------
    def reduce_instrument(
        self, instrument_id: InstrumentId, lots: int, note: str
    ) -> list[InstrumentOrder]:
        """Reduce an instrument's net position by ``lots`` toward zero, split over the
        strategies that hold it in proportion to their positions (largest remainder);
        what no strategy holds is reduced from ``UNATTRIBUTED``. Each share is an
        instrument order on the ordinary path (the one send path), so the strategy
        table and the contract table move together. Reductions already working count
        toward ``lots``."""
        book = self.oms.book
        net = book.positions.instrument_position(instrument_id)
        # The margin monitor asks again at every equity mark while margin stays high: a
        # reduction already under way counts, or the asks would pile up.
        pending = sum(
            io.remaining
            for io in book.instrument_orders.values()
            if io.instrument_id == instrument_id and io.reduce_only and io.stopped is None
        )
        lots = min(lots, abs(net)) - pending
        if lots <= 0:
            return []
        sign = 1 if net > 0 else -1
        holders = [
            (sid, q * sign)
            for (sid, iid), q in sorted(book.positions.strategy.items())
            if iid == instrument_id and q * sign > 0
        ]
        shares = split_largest_remainder(lots, holders)
        rest = lots - sum(shares.values())
        if rest:
            shares[UNATTRIBUTED] = shares.get(UNATTRIBUTED, 0) + rest
        return [
            self.manual_order(sid, instrument_id, -sign * share, note, reduce_only=True)
            for sid, share in shares.items()
            if share > 0
        ]
