"""The three levels of orders (R4.1), linked parent to children.

- ``InstrumentOrder``: what a strategy wants in an instrument, no contract chosen.
- ``ContractOrder``: a specific contract (or a calendar spread, for force rolls).
- ``BrokerOrder``: what was sent to a venue; it alone has a state-machine state.

Quantities are positive lots with a side; prices are integer ticks of the contract's
tick size (``None`` where the order type has none). Orders are mutable records with
``__slots__``: the OMS changes their state and fill totals as venue events arrive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bastion.domain.algo_memory import AlgoMemory
from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.ids import (
    ClientOrderId,
    ContractId,
    ExecId,
    InstrumentId,
    OrderId,
    StrategyId,
    VenueOrderId,
)
from bastion.domain.order_state import IN_FLIGHT, TERMINAL, OrderState

__all__ = ["BrokerOrder", "ContractOrder", "CostRecord", "InstrumentOrder", "validate_order_shape"]


def validate_order_shape(
    order_type: OrderType,
    limit_ticks: int | None,
    stop_ticks: int | None,
    time_in_force: TimeInForce,
    expire_at: dt.datetime | None,
) -> str | None:
    """Why the price fields do not fit the order type, or ``None`` if they do."""
    needs_limit = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    problem: str | None = None
    if needs_limit and limit_ticks is None:
        problem = f"a {order_type} order needs a limit price"
    elif not needs_limit and limit_ticks is not None:
        problem = f"a {order_type} order takes no limit price"
    elif needs_stop and stop_ticks is None:
        problem = f"a {order_type} order needs a stop price"
    elif not needs_stop and stop_ticks is not None:
        problem = f"a {order_type} order takes no stop price"
    elif time_in_force is TimeInForce.GTD and expire_at is None:
        problem = "a GTD order needs an expiry time"
    elif expire_at is not None and expire_at.tzinfo is None:
        problem = "the expiry time must be timezone-aware"
    return problem


@dataclass(slots=True)
class CostRecord:
    """Transaction-cost fields of R4.8, kept on every broker order."""

    reference_ticks: int | None = None
    mid_ticks: int | None = None
    side_ticks: int | None = None  # the touch on our side (bid for a buy)
    offside_ticks: int | None = None  # the touch we would cross (ask for a buy)
    reference_time: dt.datetime | None = None
    generated_time: dt.datetime | None = None
    submitted_time: dt.datetime | None = None
    acknowledged_time: dt.datetime | None = None
    filled_time: dt.datetime | None = None


@dataclass(slots=True)
class InstrumentOrder:
    order_id: OrderId
    strategy_id: StrategyId
    instrument_id: InstrumentId
    side: Side
    quantity: int
    created: dt.datetime
    reference_ticks: int | None = None
    reference_contract: ContractId | None = None
    reduce_only: bool = False
    manual: bool = False
    filled: int = 0
    children: list[OrderId] = field(default_factory=list)
    completed: bool = False
    stopped: str | None = None
    """Why the stack will place no more for it (journaled: survives restarts)."""

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled


@dataclass(slots=True)
class ContractOrder:
    order_id: OrderId
    instrument_id: InstrumentId
    contract_id: ContractId
    side: Side
    quantity: int
    created: dt.datetime
    parent_id: OrderId | None = None
    """The instrument order this serves; ``None`` for roll and balance orders."""
    spread_leg: ContractId | None = None
    """For a calendar spread (force roll): the second contract, traded opposite."""
    roll: bool = False
    algo: str = "market"
    filled: int = 0
    children: list[ClientOrderId] = field(default_factory=list)
    completed: bool = False
    stopped: str | None = None
    """Why its algo may send no more children (journaled: survives restarts)."""
    algo_memory: AlgoMemory = field(default_factory=AlgoMemory)
    """What its algo remembers (journaled: a restart continues the algo's schedule)."""

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled


@dataclass(slots=True)
class BrokerOrder:
    client_order_id: ClientOrderId
    contract_id: ContractId
    side: Side
    quantity: int
    order_type: OrderType
    created: dt.datetime
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_ticks: int | None = None
    stop_ticks: int | None = None
    expire_at: dt.datetime | None = None
    parent_id: OrderId | None = None
    strategy_id: StrategyId | None = None
    """Set when one strategy owns the order; netted orders are allocated by the stack."""
    offset: OffsetFlag | None = None
    venue: str = ""
    attribute_to_holders: bool = False
    """A parentless flatten (kill switch, immediate flatten): its fills are split over
    the strategies that hold the instrument, the rest to ``UNATTRIBUTED``."""
    venue_order_id: VenueOrderId | None = None
    state: OrderState = OrderState.PENDING_NEW
    filled: int = 0
    filled_value_ticks: int = 0
    """Sum of fill quantity times fill price in ticks, for the exact average price."""
    exec_ids: set[ExecId] = field(default_factory=set)
    reject_reason: str | None = None
    costs: CostRecord = field(default_factory=CostRecord)
    lost_at: dt.datetime | None = None
    """When a query first found no record of it (it went LOST)."""
    lost_confirmed: bool = False
    """LOST, and the venue asked again after the grace still had no record of it: only
    then may its intent be sent again (until then it counts as still working)."""

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"order {self.client_order_id}: quantity must be positive")
        problem = validate_order_shape(
            self.order_type, self.limit_ticks, self.stop_ticks, self.time_in_force, self.expire_at
        )
        if problem is not None:
            raise ValueError(f"order {self.client_order_id}: {problem}")

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def working(self) -> int:
        """Unfilled quantity that could still trade (R4.2)."""
        return self.remaining if self.state in IN_FLIGHT else 0

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def signed_quantity(self) -> int:
        return self.quantity * self.side.sign
