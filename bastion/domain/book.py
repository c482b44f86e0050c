"""The book: live orders per level, both position tables and order history.

``Book.apply(record)`` is the single fold from journal records to state. The OMS uses it
for its working state, and the store uses it to maintain and to rebuild its
projections; a rebuild from the journal therefore equals the incremental result by
construction, and a test checks it on random histories.

Invariants kept here (violations raise ``InvariantError``; they are never patched over):
- a broker order's filled quantity is never negative and never above its quantity;
- an execution id is applied at most once;
- fills propagate broker -> contract -> instrument order, and the contract position
  table moves by exactly each fill's signed quantity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, OrderId, VenueOrderId
from bastion.domain.order_state import OrderState
from bastion.domain.orders import BrokerOrder, ContractOrder, CostRecord, InstrumentOrder
from bastion.domain.positions import PositionBook
from bastion.domain.records import (
    Allocation,
    BrokerOrderCreated,
    BrokerOrderSubmitted,
    ContractOrderCreated,
    FamilyCompleted,
    FillRecorded,
    InstrumentOrderCreated,
    JournalRecord,
    Note,
    OrderTransition,
)
from bastion.errors import InvariantError, OverfillError

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
        order = self._require_broker(fill.client_order_id)
        if fill.contract_id != order.contract_id or fill.side is not order.side:
            raise InvariantError(
                f"fill {fill.exec_id} does not match order {order.client_order_id}"
                f" ({fill.side} {fill.contract_id} vs {order.side} {order.contract_id})"
            )
        if order.filled + fill.quantity > order.quantity:
            raise OverfillError(
                f"fill {fill.exec_id} of {fill.quantity} would overfill order"
                f" {order.client_order_id} ({order.filled}/{order.quantity} filled)"
            )
        self.exec_ids.add(fill.exec_id)
        order.filled += fill.quantity
        order.filled_value_ticks += fill.quantity * fill.price_ticks
        order.exec_ids.add(fill.exec_id)
        order.costs.filled_time = fill.timestamp
        self.positions.apply_contract_fill(fill.contract_id, fill.signed_quantity)
        if order.parent_id is not None:
            self._propagate(order.parent_id, fill.quantity)
        elif (strategy := r.strategy_id or order.strategy_id) is not None:
            instrument, _ = parse_contract_id(fill.contract_id)
            self.positions.apply_strategy_fill(strategy, instrument, fill.signed_quantity)

    def _propagate(self, contract_order_id: OrderId, quantity: int) -> None:
        parent = self.contract_order(contract_order_id)
        if parent is None:
            raise InvariantError(f"fill for a missing contract order {contract_order_id}")
        if parent.spread_leg is None:
            parent.filled += quantity
        else:
            # A calendar spread is filled as far as both legs are: count pairs, not legs.
            before = parent.filled
            parent.filled = min(
                self._leg_filled(parent, parent.contract_id),
                self._leg_filled(parent, parent.spread_leg),
            )
            quantity = parent.filled - before
        if parent.filled > parent.quantity:
            raise OverfillError(f"contract order {parent.order_id} overfilled")
        if parent.parent_id is None or quantity == 0:
            return  # roll or balance order: the instrument position is unchanged
        grand = self.instrument_order(parent.parent_id)
        if grand is None:
            raise InvariantError(f"fill for a missing instrument order {parent.parent_id}")
        grand.filled += quantity
        if grand.filled > grand.quantity:
            raise OverfillError(f"instrument order {grand.order_id} overfilled")
        self.positions.apply_strategy_fill(
            grand.strategy_id, grand.instrument_id, quantity * grand.side.sign
        )

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
