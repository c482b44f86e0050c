"""Journal records: every fact Bastion learns or decides, as an immutable value (R5.1).

The journal stores these (type tag + JSON payload); ``bastion.domain.book.Book`` folds
them into live orders, both position tables and order history. The same fold runs as
records arrive and when the projections are rebuilt from the journal, so the two cannot
disagree. Records carry their own business timestamps; the journal adds its sequence
number and its UTC write time.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from bastion.domain.algo_memory import AlgoMemory
from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.fills import Fill
from bastion.domain.ids import (
    ClientOrderId,
    ContractId,
    ExecId,
    InstrumentId,
    OrderId,
    StrategyId,
    VenueOrderId,
)
from bastion.domain.order_state import OrderEvent, OrderState

__all__ = [
    "AlgoStateRecorded",
    "Allocation",
    "BrokerOrderCreated",
    "BrokerOrderSubmitted",
    "ContractOrderCreated",
    "FamilyCompleted",
    "FillRecorded",
    "ForeignFillRecorded",
    "InstrumentOrderCreated",
    "JournalRecord",
    "Note",
    "OrderStopped",
    "OrderTransition",
    "TradeCorrected",
    "record_type",
]


class _Record(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    timestamp: dt.datetime


class InstrumentOrderCreated(_Record, frozen=True, kw_only=True, tag="instrument_order.created"):
    order_id: OrderId
    strategy_id: StrategyId
    instrument_id: InstrumentId
    side: Side
    quantity: int
    reference_ticks: int | None = None
    reference_contract: ContractId | None = None
    reduce_only: bool = False
    manual: bool = False


class ContractOrderCreated(_Record, frozen=True, kw_only=True, tag="contract_order.created"):
    order_id: OrderId
    instrument_id: InstrumentId
    contract_id: ContractId
    side: Side
    quantity: int
    parent_id: OrderId | None = None
    spread_leg: ContractId | None = None
    roll: bool = False
    algo: str = "market"


class BrokerOrderCreated(_Record, frozen=True, kw_only=True, tag="broker_order.created"):
    """The write-ahead record: journaled durably before any venue sees the order."""

    client_order_id: ClientOrderId
    contract_id: ContractId
    side: Side
    quantity: int
    order_type: OrderType
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_ticks: int | None = None
    stop_ticks: int | None = None
    expire_at: dt.datetime | None = None
    parent_id: OrderId | None = None
    strategy_id: StrategyId | None = None
    offset: OffsetFlag | None = None
    venue: str = ""
    attribute_to_holders: bool = False
    """Fills split over the strategies holding the instrument (kill switch, flatten)."""
    reference_ticks: int | None = None
    mid_ticks: int | None = None
    side_ticks: int | None = None
    offside_ticks: int | None = None
    reference_time: dt.datetime | None = None


class BrokerOrderSubmitted(_Record, frozen=True, kw_only=True, tag="broker_order.submitted"):
    """The venue call returned without error (the answer comes as a transition)."""

    client_order_id: ClientOrderId


class OrderTransition(_Record, frozen=True, kw_only=True, tag="broker_order.transition"):
    client_order_id: ClientOrderId
    event: OrderEvent
    state: OrderState
    """The state after the event, as the state table gave it."""
    venue_order_id: VenueOrderId | None = None
    reason: str | None = None


class FillRecorded(_Record, frozen=True, kw_only=True, tag="fill"):
    """A new fill (never a duplicate: the OMS drops those by exec id first)."""

    fill: Fill
    strategy_id: StrategyId | None = None


class ForeignFillRecorded(_Record, frozen=True, kw_only=True, tag="fill.foreign"):
    """A venue fill for no order Bastion placed (a manual trade, another client): the
    broker is the truth for what is held, so it moves the contract position, and the
    ``UNATTRIBUTED`` strategy holds it until an operator adopts or restores it."""

    fill: Fill
    why: str = ""


class TradeCorrected(_Record, frozen=True, kw_only=True, tag="fill.corrected"):
    """A venue busted or corrected an execution, journaled as it came. The fold moves
    the contract position by the difference from what that execution had moved (the
    broker is the truth for what is held) and ``UNATTRIBUTED`` by the same, so the
    strategy table still sums to the contract table; the orders' fills stand as they
    were. A correction of an execution the journal does not hold moves nothing."""

    exec_id: ExecId
    exec_ref_id: ExecId
    bust: bool
    quantity: int
    price_ticks: int | None = None
    client_order_id: ClientOrderId | None = None
    venue_order_id: VenueOrderId | None = None


class OrderStopped(_Record, frozen=True, kw_only=True, tag="order.stopped"):
    """The stack places nothing more for an instrument or contract order (its target
    moved, a reject, end of day). Journaled so a restart never revives it."""

    order_id: OrderId
    reason: str


class AlgoStateRecorded(_Record, frozen=True, kw_only=True, tag="algo.state"):
    """A contract order's algo changed what it remembers (when its patience started,
    its last clip): journaled before the algo acts on it, so a restart continues the
    algo's schedule. The contract order's algo (``ContractOrderCreated.algo``) owns it."""

    order_id: OrderId
    algo: str
    memory: AlgoMemory


class Allocation(_Record, frozen=True, kw_only=True, tag="allocation"):
    """A share of a netted fill given to one strategy's instrument order (R4.1)."""

    strategy_id: StrategyId
    instrument_id: InstrumentId
    signed_quantity: int
    instrument_order_id: OrderId | None = None
    note: str = ""


class FamilyCompleted(_Record, frozen=True, kw_only=True, tag="family.completed"):
    """An instrument or contract order and its children move to history (R4.7)."""

    order_id: OrderId


class Note(_Record, frozen=True, kw_only=True, tag="note"):
    """An operator or system note for the audit trail (gate results, actions)."""

    kind: str
    text: str
    data: dict[str, str] = {}


JournalRecord = (
    InstrumentOrderCreated
    | ContractOrderCreated
    | BrokerOrderCreated
    | BrokerOrderSubmitted
    | OrderTransition
    | FillRecorded
    | ForeignFillRecorded
    | TradeCorrected
    | OrderStopped
    | AlgoStateRecorded
    | Allocation
    | FamilyCompleted
    | Note
)


_TAGS: dict[type, str] = {}


def record_type(record: JournalRecord) -> str:
    """The record's type tag, as stored in the journal's event-type column."""
    kind = type(record)
    tag = _TAGS.get(kind)
    if tag is None:
        tag = _TAGS[kind] = str(kind.__struct_config__.tag)
    return tag
