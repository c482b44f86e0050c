"""Turning a ``BrokerOrder`` into the venue's own order record, or a clear refusal.

This is the sim venue's edge: everything the caller hands in is checked here once
(types included, since a caller's bug must become a reject, not an exception), and the
matching engine trusts what comes out. A refused order is never stored anywhere.
"""

from __future__ import annotations

import datetime as dt

from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId, VenueOrderId
from bastion.domain.orders import BrokerOrder, validate_order_shape
from bastion.domain.reasons import Reason
from bastion.venues.port import OpenOrderRecord
from bastion.venues.sim.config import SimVenueConfig

__all__ = ["Refusal", "SimOrder", "parse_order"]


class Refusal:
    __slots__ = ("message", "reason")

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        self.message = message


class SimOrder:
    """The venue's copy of an order. Mutable; only the venue touches it."""

    __slots__ = (
        "client_order_id",
        "contract_id",
        "expire_at",
        "filled",
        "limit_ticks",
        "live",
        "offset",
        "one_shot",
        "order_type",
        "quantity",
        "queue_ahead",
        "seq",
        "side",
        "sign",
        "stop_ticks",
        "time_in_force",
        "triggered",
        "venue_order_id",
    )

    def __init__(  # noqa: PLR0917 - a record built in one place
        self,
        client_order_id: ClientOrderId,
        contract_id: ContractId,
        side: Side,
        quantity: int,
        order_type: OrderType,
        time_in_force: TimeInForce,
        limit_ticks: int | None,
        stop_ticks: int | None,
        expire_at: dt.datetime | None,
        offset: OffsetFlag | None,
        seq: int,
    ) -> None:
        self.client_order_id = client_order_id
        self.contract_id = contract_id
        self.side = side
        self.sign = side.sign
        self.quantity = quantity
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.limit_ticks = limit_ticks
        self.stop_ticks = stop_ticks
        self.expire_at = expire_at
        self.offset = offset
        self.seq = seq
        self.filled = 0
        self.venue_order_id: VenueOrderId | None = None
        self.live = False
        """At the matching engine (after the ack latency), and not halted-held."""
        self.triggered = order_type not in (OrderType.STOP, OrderType.STOP_LIMIT)
        self.one_shot = time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
        self.queue_ahead: int | None = None
        """Lots ahead of us at our limit price; ``None`` until the model can tell."""

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def acts_as_market(self) -> bool:
        """A market order, or a stop that has triggered into one."""
        return self.order_type is OrderType.MARKET or (
            self.order_type is OrderType.STOP and self.triggered
        )

    def record(self) -> OpenOrderRecord:
        return OpenOrderRecord(
            client_order_id=self.client_order_id,
            venue_order_id=self.venue_order_id,
            contract_id=self.contract_id,
            side=self.side,
            quantity=self.quantity,
            filled=self.filled,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            limit_ticks=self.limit_ticks,
            stop_ticks=self.stop_ticks,
            offset=self.offset,
        )


def _is_int(value: object) -> bool:
    return type(value) is int


def _refuse(message: str) -> Refusal:
    return Refusal(Reason.INVALID_ORDER, message)


def parse_order(
    order: object,
    specs: dict[ContractId, ContractSpec],
    config: SimVenueConfig,
    seq: int,
) -> SimOrder | Refusal:
    """The venue's record of ``order``, or why the venue refuses it."""
    if not isinstance(order, BrokerOrder):
        return _refuse(f"not a broker order: {type(order).__name__}")
    coid = order.client_order_id
    if not isinstance(coid, str) or not coid:
        return _refuse("the order has no client order id")
    if order.contract_id not in specs:
        return _refuse(f"unknown contract {order.contract_id!r}")
    if not _is_int(order.quantity) or order.quantity <= 0:
        return _refuse(f"quantity must be a positive whole number of lots, got {order.quantity!r}")
    refusal = _field_refusal(order, specs[order.contract_id], config)
    if refusal is not None:
        return refusal
    return SimOrder(
        coid,
        order.contract_id,
        order.side,
        order.quantity,
        order.order_type,
        order.time_in_force,
        order.limit_ticks,
        order.stop_ticks,
        order.expire_at,
        order.offset,
        seq,
    )


def _field_refusal(  # noqa: PLR0911 - one return per kind of bad input keeps each reason clear
    order: BrokerOrder, spec: ContractSpec, config: SimVenueConfig
) -> Refusal | None:
    if not isinstance(order.side, Side):
        return _refuse(f"unknown side {order.side!r}")
    if not isinstance(order.order_type, OrderType):
        return _refuse(f"unknown order type {order.order_type!r}")
    if order.order_type not in config.supported_order_types:
        return _refuse(f"order type {order.order_type} is not supported by {config.name}")
    if (
        not isinstance(order.time_in_force, TimeInForce)
        or order.time_in_force not in config.supported_time_in_force
    ):
        return _refuse(f"time in force {order.time_in_force!r} is not supported by {config.name}")
    for label, ticks in (("limit", order.limit_ticks), ("stop", order.stop_ticks)):
        if ticks is not None and not _is_int(ticks):
            return _refuse(
                f"{label} price {ticks!r} is not a whole number of ticks"
                f" (tick size {spec.tick_size})"
            )
    problem = validate_order_shape(
        order.order_type, order.limit_ticks, order.stop_ticks, order.time_in_force, order.expire_at
    )
    if problem is not None:
        return _refuse(problem)
    if order.offset is not None and not isinstance(order.offset, OffsetFlag):
        return _refuse(f"unknown offset flag {order.offset!r}")
    return None
