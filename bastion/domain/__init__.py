"""Value types and rules only. No I/O, no clock reads; imports nothing else of Bastion
except ``bastion.errors``."""

from bastion.domain.contracts import Contract, ContractSpec, OffTickError, Rounding, SessionWindow
from bastion.domain.enums import OffsetFlag, OrderLevel, OrderType, Side, TimeInForce
from bastion.domain.fills import Fill
from bastion.domain.ids import (
    AccountId,
    ClientOrderId,
    ContractId,
    ExecId,
    InstrumentId,
    OrderId,
    StrategyId,
    VenueOrderId,
)
from bastion.domain.order_state import (
    CANCELLABLE,
    IN_FLIGHT,
    TERMINAL,
    OrderEvent,
    OrderState,
    next_state,
)
from bastion.domain.orders import BrokerOrder, ContractOrder, CostRecord, InstrumentOrder
from bastion.domain.positions import PositionBook
from bastion.domain.reasons import Outcome, Reason, retry_policy

__all__ = [
    "CANCELLABLE",
    "IN_FLIGHT",
    "TERMINAL",
    "AccountId",
    "BrokerOrder",
    "ClientOrderId",
    "Contract",
    "ContractId",
    "ContractOrder",
    "ContractSpec",
    "CostRecord",
    "ExecId",
    "Fill",
    "InstrumentId",
    "InstrumentOrder",
    "OffTickError",
    "OffsetFlag",
    "OrderEvent",
    "OrderId",
    "OrderLevel",
    "OrderState",
    "OrderType",
    "Outcome",
    "PositionBook",
    "Reason",
    "Rounding",
    "SessionWindow",
    "Side",
    "StrategyId",
    "TimeInForce",
    "VenueOrderId",
    "next_state",
    "retry_policy",
]
