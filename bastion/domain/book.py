"""The book: live orders per level, both position tables and order history.

``Book.apply(record)`` is the single fold from journal records to state. The OMS uses it
for its working state, and the store uses it to maintain and to rebuild its
projections; a rebuild from the journal therefore equals the incremental result by
construction, and a test checks it on random histories.

Invariants kept here:
- an execution id is applied at most once (a repeat in the journal is Bastion's own
  bug: ``InvariantError``);
- the contract position table moves by exactly each fill's signed quantity: the venue
  is the truth for what is held;
- fills propagate broker -> contract -> instrument order, each order's filled quantity
  never above its quantity;
- the fold never raises on a venue fact. What the venue traded beyond an order's
  quantity, for an order Bastion did not place, or for a flatten of a position no
  strategy held goes to the reserved ``UNATTRIBUTED`` strategy, so the strategy table
  still sums to the contract table; the OMS marks it an anomaly and the engine locks
  the instrument. A restart on such a journal comes up.
Bastion's own records that contradict the book (an unknown parent, an order created
twice) still raise ``InvariantError``: they are bugs, not market facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import (
    UNATTRIBUTED,
    ClientOrderId,
    ContractId,
    ExecId,
    InstrumentId,
    OrderId,
    VenueOrderId,
)
from bastion.domain.order_state import OrderState
from bastion.domain.orders import BrokerOrder, ContractOrder, CostRecord, InstrumentOrder
from bastion.domain.positions import PositionBook, split_largest_remainder
from bastion.domain.records import (
    AlgoStateRecorded,
    Allocation,
    BrokerOrderCreated,
    BrokerOrderSubmitted,
    ContractOrderCreated,
    FamilyCompleted,
    FillRecorded,
    ForeignFillRecorded,
    InstrumentOrderCreated,
    JournalRecord,
    Note,
    OrderStopped,
    OrderTransition,
    TradeCorrected,
)
from bastion.errors import InvariantError

__all__ = ["Book"]


@dataclass(slots=True)
class Book:
    instrument_orders: dict[OrderId, InstrumentOrder] = field(default_factory=dict)
    contract_orders: dict[OrderId, ContractOrder] = field(default_factory=dict)
    broker_orders: dict[ClientOrderId, BrokerOrder] = field(default_factory=dict)
    """Live broker orders (not terminal)."""
    history: dict[str, InstrumentOrder | ContractOrder | BrokerOrder] = field(default_factory=dict)
    """Completed families and terminal broker orders, by id."""
    positions: PositionBook = field(default_factory=PositionBook)
    exec_ids: set[ExecId] = field(default_factory=set)
    executions: dict[ExecId, tuple[ContractId, int, int]] = field(default_factory=dict)
    """Each execution's contract, side (+1/-1) and the lots it moved the contract table
    by (after any correction): what a bust or a correction reverses."""
    by_venue_id: dict[VenueOrderId, ClientOrderId] = field(default_factory=dict)

    # -- lookups ---------------------------------------------------------------------
    def broker_order(self, client_order_id: ClientOrderId) -> BrokerOrder | None:
        order = self.broker_orders.get(client_order_id)
        if order is None:
            found = self.history.get(client_order_id)
            order = found if isinstance(found, BrokerOrder) else None
        return order

    def contract_order(self, order_id: OrderId) -> ContractOrder | None:
        order = self.contract_orders.get(order_id)
        if order is None:
            found = self.history.get(order_id)
            order = found if isinstance(found, ContractOrder) else None
        return order

    def instrument_order(self, order_id: OrderId) -> InstrumentOrder | None:
        order = self.instrument_orders.get(order_id)
        if order is None:
            found = self.history.get(order_id)
            order = found if isinstance(found, InstrumentOrder) else None
        return order

    # -- the fold --------------------------------------------------------------------
    def apply(self, record: JournalRecord) -> None:
        if isinstance(record, InstrumentOrderCreated):
            self._add_instrument_order(record)
        elif isinstance(record, ContractOrderCreated):
            self._add_contract_order(record)
        elif isinstance(record, BrokerOrderCreated):
            self._add_broker_order(record)
        elif isinstance(record, BrokerOrderSubmitted):
            order = self._require_broker(record.client_order_id)
            order.costs.submitted_time = record.timestamp
        elif isinstance(record, OrderTransition):
            self._transition(record)
        elif isinstance(record, FillRecorded):
            self._fill(record)
        elif isinstance(record, Allocation):
            self._allocate(record)
        elif isinstance(record, FamilyCompleted):
            self._complete(record.order_id)
        elif isinstance(record, ForeignFillRecorded | TradeCorrected):
            self._venue_fact(record)
        elif isinstance(record, OrderStopped | AlgoStateRecorded):
            self._stack_fact(record)
        elif isinstance(record, Note):
            pass
        else:  # pragma: no cover - exhaustiveness guard
            raise InvariantError(f"unknown journal record {record!r}")

    def _add_instrument_order(self, r: InstrumentOrderCreated) -> None:
        if r.order_id in self.instrument_orders or r.order_id in self.history:
            raise InvariantError(f"instrument order {r.order_id} created twice")
        self.instrument_orders[r.order_id] = InstrumentOrder(
            order_id=r.order_id,
            strategy_id=r.strategy_id,
            instrument_id=r.instrument_id,
            side=r.side,
            quantity=r.quantity,
            created=r.timestamp,
            reference_ticks=r.reference_ticks,
            reference_contract=r.reference_contract,
            reduce_only=r.reduce_only,
            manual=r.manual,
        )

    def _add_contract_order(self, r: ContractOrderCreated) -> None:
        if r.order_id in self.contract_orders or r.order_id in self.history:
            raise InvariantError(f"contract order {r.order_id} created twice")
        self.contract_orders[r.order_id] = ContractOrder(
            order_id=r.order_id,
            instrument_id=r.instrument_id,
            contract_id=r.contract_id,
            side=r.side,
            quantity=r.quantity,
            created=r.timestamp,
            parent_id=r.parent_id,
            spread_leg=r.spread_leg,
            roll=r.roll,
            algo=r.algo,
        )
        if r.parent_id is not None:
            parent = self.instrument_order(r.parent_id)
            if parent is None:
                raise InvariantError(f"contract order {r.order_id}: no parent {r.parent_id}")
            parent.children.append(r.order_id)

    def _add_broker_order(self, r: BrokerOrderCreated) -> None:
        if self.broker_order(r.client_order_id) is not None:
            raise InvariantError(f"broker order {r.client_order_id} created twice")
        order = BrokerOrder(
            client_order_id=r.client_order_id,
            contract_id=r.contract_id,
            side=r.side,
            quantity=r.quantity,
            order_type=r.order_type,
            created=r.timestamp,
            time_in_force=r.time_in_force,
            limit_ticks=r.limit_ticks,
            stop_ticks=r.stop_ticks,
            expire_at=r.expire_at,
            parent_id=r.parent_id,
            strategy_id=r.strategy_id,
            offset=r.offset,
            venue=r.venue,
            attribute_to_holders=r.attribute_to_holders,
            costs=CostRecord(
                reference_ticks=r.reference_ticks,
                mid_ticks=r.mid_ticks,
                side_ticks=r.side_ticks,
                offside_ticks=r.offside_ticks,
                reference_time=r.reference_time,
                generated_time=r.timestamp,
            ),
        )
        self.broker_orders[r.client_order_id] = order
        if r.parent_id is not None:
            parent = self.contract_order(r.parent_id)
            if parent is None:
                raise InvariantError(f"broker order {r.client_order_id}: no parent {r.parent_id}")
            parent.children.append(r.client_order_id)

    def _require_broker(self, client_order_id: ClientOrderId) -> BrokerOrder:
        order = self.broker_order(client_order_id)
        if order is None:
            raise InvariantError(f"no broker order {client_order_id} in the book")
        return order

    def _transition(self, r: OrderTransition) -> None:
        order = self._require_broker(r.client_order_id)
        if r.state is OrderState.LOST:
            # The first query that finds nothing makes it LOST; a second one, after the
            # grace, confirms it gone (its intent may then be sent again).
            if order.state is OrderState.LOST:
                order.lost_confirmed = True
            else:
                order.lost_at, order.lost_confirmed = r.timestamp, False
        order.state = r.state
        if r.venue_order_id is not None and order.venue_order_id != r.venue_order_id:
            order.venue_order_id = r.venue_order_id
            self.by_venue_id[r.venue_order_id] = order.client_order_id
        if r.state is OrderState.ACCEPTED and order.costs.acknowledged_time is None:
            order.costs.acknowledged_time = r.timestamp
        if r.reason is not None:
            order.reject_reason = r.reason
        self._file_broker_order(order)

    def _file_broker_order(self, order: BrokerOrder) -> None:
        """Keep live and history tables true to the order's state."""
        coid = order.client_order_id
        if order.is_terminal:
            if self.broker_orders.pop(coid, None) is not None:
                self.history[coid] = order
        elif coid in self.history:
            del self.history[coid]
            self.broker_orders[coid] = order

    def _fill(self, r: FillRecorded) -> None:
        fill = r.fill
        if fill.exec_id in self.exec_ids:
            raise InvariantError(f"execution {fill.exec_id} applied twice")
        order = self.broker_order(fill.client_order_id)
        if order is None or fill.contract_id != order.contract_id or fill.side is not order.side:
            # Not Bastion's order, or not what it asked for: the venue traded anyway.
            self._unattributed(fill.contract_id, fill.exec_id, fill.signed_quantity)
            return
        self.exec_ids.add(fill.exec_id)
        self.executions[fill.exec_id] = (fill.contract_id, fill.side.sign, fill.quantity)
        fits = max(0, min(fill.quantity, order.quantity - order.filled))
        order.filled += fits
        order.filled_value_ticks += fits * fill.price_ticks
        order.exec_ids.add(fill.exec_id)
        order.costs.filled_time = fill.timestamp
        self.positions.apply_contract_fill(fill.contract_id, fill.signed_quantity)
        instrument, _ = parse_contract_id(fill.contract_id)
        sign = fill.side.sign
        excess = fill.quantity - fits
        if fits and order.parent_id is not None:
            excess += self._propagate(order.parent_id, fits)
        elif fits and (strategy := r.strategy_id or order.strategy_id) is not None:
            self.positions.apply_strategy_fill(strategy, instrument, fits * sign)
        elif fits and order.attribute_to_holders:
            self._to_holders(instrument, fits * sign)
        else:
            excess += fits  # nobody owns it: visible, never dropped
        if excess:
            self.positions.apply_strategy_fill(UNATTRIBUTED, instrument, excess * sign)

    def _unattributed(self, contract_id: ContractId, exec_id: ExecId, signed: int) -> None:
        self.exec_ids.add(exec_id)
        self.executions[exec_id] = (contract_id, 1 if signed > 0 else -1, abs(signed))
        self.positions.apply_contract_fill(contract_id, signed)
        instrument, _ = parse_contract_id(contract_id)
        self.positions.apply_strategy_fill(UNATTRIBUTED, instrument, signed)

    def _venue_fact(self, r: ForeignFillRecorded | TradeCorrected) -> None:
        """A fill for no order of Bastion's, or a bust or correction of an execution:
        the contract table and ``UNATTRIBUTED`` move together."""
        if isinstance(r, ForeignFillRecorded):
            if r.fill.exec_id in self.exec_ids:
                raise InvariantError(f"execution {r.fill.exec_id} applied twice")
            self._unattributed(r.fill.contract_id, r.fill.exec_id, r.fill.signed_quantity)
            return
        if r.exec_id in self.exec_ids:
            raise InvariantError(f"correction {r.exec_id} applied twice")
        self.exec_ids.add(r.exec_id)
        known = self.executions.get(r.exec_ref_id)
        if known is None:
            return  # nothing of it was ever applied: nothing to reverse
        contract_id, sign, lots = known
        self.executions[r.exec_ref_id] = (contract_id, sign, r.quantity)
        moved = (r.quantity - lots) * sign
        if moved:
            instrument, _ = parse_contract_id(contract_id)
            self.positions.apply_contract_fill(contract_id, moved)
            self.positions.apply_strategy_fill(UNATTRIBUTED, instrument, moved)

    def _to_holders(self, instrument: InstrumentId, signed: int) -> None:
        """A flatten's fill reduces the strategies holding the instrument, in proportion
        (largest remainder); what no strategy held goes to ``UNATTRIBUTED``."""
        holders = [
            (sid, abs(q))
            for (sid, iid), q in sorted(self.positions.strategy.items())
            if iid == instrument and q * signed < 0
        ]
        shares = split_largest_remainder(abs(signed), holders)
        sign = 1 if signed > 0 else -1
        for sid, share in shares.items():
            self.positions.apply_strategy_fill(sid, instrument, share * sign)
        rest = abs(signed) - sum(shares.values())
        if rest:
            self.positions.apply_strategy_fill(UNATTRIBUTED, instrument, rest * sign)

    def _stack_fact(self, r: OrderStopped | AlgoStateRecorded) -> None:
        """What the stack decided about an order: stopped, or its algo's memory."""
        if isinstance(r, AlgoStateRecorded):
            contract = self.contract_order(r.order_id)
            if contract is None:
                raise InvariantError(f"algo state for unknown contract order {r.order_id}")
            contract.algo_memory = r.memory
            return
        order = self.instrument_order(r.order_id) or self.contract_order(r.order_id)
        if order is None:
            raise InvariantError(f"cannot stop unknown order {r.order_id}")
        order.stopped = r.reason

    def _propagate(self, contract_order_id: OrderId, quantity: int) -> int:
        """Apply ``quantity`` filled lots up the family; returns the lots no order could
        take (beyond a contract or instrument order's quantity), for ``UNATTRIBUTED``."""
        parent = self.contract_order(contract_order_id)
        if parent is None:
            raise InvariantError(f"fill for a missing contract order {contract_order_id}")
        excess = 0
        if parent.spread_leg is None:
            fits = min(quantity, parent.quantity - parent.filled)
            excess = quantity - fits
            parent.filled += fits
            quantity = fits
        else:
            # A calendar spread is filled as far as both legs are: count pairs, not legs.
            before = parent.filled
            parent.filled = min(
                self._leg_filled(parent, parent.contract_id),
                self._leg_filled(parent, parent.spread_leg),
                parent.quantity,
            )
            quantity = parent.filled - before
        if parent.parent_id is None or quantity == 0:
            return excess  # a roll moves no strategy; only what overfilled it is unowned
        grand = self.instrument_order(parent.parent_id)
        if grand is None:
            raise InvariantError(f"fill for a missing instrument order {parent.parent_id}")
        fits = min(quantity, grand.quantity - grand.filled)
        excess += quantity - fits
        grand.filled += fits
        self.positions.apply_strategy_fill(
            grand.strategy_id, grand.instrument_id, fits * grand.side.sign
        )
        return excess

    def _leg_filled(self, parent: ContractOrder, contract_id: ContractId) -> int:
        total = 0
        for coid in parent.children:
            child = self.broker_order(coid)
            if child is not None and child.contract_id == contract_id:
                total += child.filled
        return total

    def _allocate(self, r: Allocation) -> None:
        self.positions.apply_strategy_fill(r.strategy_id, r.instrument_id, r.signed_quantity)
        if r.instrument_order_id is not None:
            order = self.instrument_order(r.instrument_order_id)
            if order is None:
                raise InvariantError(f"allocation to a missing order {r.instrument_order_id}")
            order.filled += abs(r.signed_quantity)

    def _complete(self, order_id: OrderId) -> None:
        instrument = self.instrument_orders.pop(order_id, None)
        if instrument is not None:
            instrument.completed = True
            self.history[order_id] = instrument
            for child in instrument.children:
                self._complete(child)
            return
        contract = self.contract_orders.pop(order_id, None)
        if contract is None:
            raise InvariantError(f"cannot complete unknown order {order_id}")
        contract.completed = True
        self.history[order_id] = contract
        for coid in contract.children:
            broker = self.broker_order(coid)
            if broker is not None and not broker.is_terminal:
                raise InvariantError(f"cannot complete {order_id}: {coid} is still working")
