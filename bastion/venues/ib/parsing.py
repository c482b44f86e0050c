"""IB's values in Bastion's vocabulary, converted once, here (STYLE.md 2).

Pure functions: ib_async's objects (floats, sentinels, status strings) in, Bastion's
records (ticks, lots, enums, typed ids) out, and back for orders. Nothing here touches
the connection.

Identity: Bastion's client order id travels in ``orderRef``, so every report names the
order across restarts and client ids. An order without one (a manual TWS order, another
program's) gets a synthetic id that no Bastion order has (``ib-foreign/...``), so the OMS
sees it as foreign. The venue order id is IB's ``permId``, the same for every client and
session.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from ib_async import Contract, Execution, Order

from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, VenueOrderId
from bastion.domain.orders import BrokerOrder
from bastion.venues.ib.instruments import ContractBook
from bastion.venues.port import (
    AccountSnapshot,
    OpenOrderRecord,
    PositionRecord,
    VenueOrderStatus,
)

__all__ = [
    "FOREIGN_PREFIX",
    "StatusClass",
    "account_snapshot",
    "classify_status",
    "client_order_id_for",
    "completed_status",
    "decode_cursor",
    "encode_cursor",
    "fill_from_execution",
    "ib_order",
    "ib_time",
    "open_order_record",
    "position_record",
    "venue_order_id",
]

FOREIGN_PREFIX = "ib-foreign/"
ORDER_TYPES = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
}
_FROM_IB_TYPES = {v: k for k, v in ORDER_TYPES.items()}
TIFS = {tif: tif.value.upper() for tif in TimeInForce}
_FROM_IB_TIFS = {v: k for k, v in TIFS.items()}
UNSET_DOUBLE = 1.7976931348623157e308


class StatusClass(StrEnum):
    """What an IB order status string means to Bastion."""

    PENDING = "pending"  # PendingSubmit, ApiPending, PendingCancel: nothing yet
    WORKING = "working"  # PreSubmitted, Submitted: the order is at IB
    FILLED = "filled"  # execDetails carry the fills; the status adds nothing
    CANCELED = "canceled"  # Cancelled, ApiCancelled
    INACTIVE = "inactive"  # rejected, or not working (an error names why)
    UNKNOWN = "unknown"  # a status IB never documented: logged, counted, not guessed at


_STATUS = {
    "PendingSubmit": StatusClass.PENDING,
    "ApiPending": StatusClass.PENDING,
    "PendingCancel": StatusClass.PENDING,
    "PreSubmitted": StatusClass.WORKING,
    "Submitted": StatusClass.WORKING,
    "ApiUpdate": StatusClass.WORKING,
    "Filled": StatusClass.FILLED,
    "Cancelled": StatusClass.CANCELED,
    "ApiCancelled": StatusClass.CANCELED,
    "Inactive": StatusClass.INACTIVE,
}


def classify_status(status: str) -> StatusClass:
    return _STATUS.get(status, StatusClass.UNKNOWN)


def completed_status(status: str) -> VenueOrderStatus:
    """A completed order's final state (``reqCompletedOrders``)."""
    kind = classify_status(status)
    if kind is StatusClass.FILLED:
        return VenueOrderStatus.FILLED
    if kind is StatusClass.CANCELED:
        return VenueOrderStatus.CANCELED
    if kind is StatusClass.INACTIVE:
        return VenueOrderStatus.REJECTED
    return VenueOrderStatus.WORKING


def ib_time(when: dt.datetime) -> str:
    """IB's UTC time text (``20260302-14:30:00``): goodTillDate, execution filters."""
    return when.astimezone(dt.UTC).strftime("%Y%m%d-%H:%M:%S")


def venue_order_id(perm_id: int) -> VenueOrderId | None:
    return VenueOrderId(str(perm_id)) if perm_id else None


def client_order_id_for(
    order_ref: str, client_id: int, order_id: int, perm_id: int
) -> ClientOrderId:
    """Bastion's id for an IB order: its ``orderRef``, or a foreign one that no Bastion
    order can have."""
    if order_ref:
        return ClientOrderId(order_ref)
    if order_id > 0:
        return ClientOrderId(f"{FOREIGN_PREFIX}client-{client_id}/order-{order_id}")
    return ClientOrderId(f"{FOREIGN_PREFIX}manual/perm-{perm_id}")


def ib_order(
    order: BrokerOrder,
    contracts: ContractBook,
    *,
    account: str,
    marketable_limit_ticks: int | None = None,
) -> Order:
    """The IB order for a Bastion order. ``marketable_limit_ticks``: send a market order
    as a limit at this price instead (the profile asked for marketable limits)."""
    cid = order.contract_id
    kind = order.order_type
    limit, stop = order.limit_ticks, order.stop_ticks
    if kind is OrderType.MARKET and marketable_limit_ticks is not None:
        kind, limit = OrderType.LIMIT, marketable_limit_ticks
    ib = Order(
        action="BUY" if order.side is Side.BUY else "SELL",
        totalQuantity=float(order.quantity),
        orderType=ORDER_TYPES[kind],
        tif=TIFS[order.time_in_force],
        account=account,
        orderRef=order.client_order_id,
        transmit=True,
    )
    if limit is not None:
        ib.lmtPrice = contracts.price(cid, limit)
    if stop is not None:
        ib.auxPrice = contracts.price(cid, stop)
    if order.time_in_force is TimeInForce.GTD and order.expire_at is not None:
        ib.goodTillDate = ib_time(order.expire_at)
    return ib


def _whole(value: float) -> int | None:
    if math.isnan(value) or value != int(value):
        return None
    return int(value)


def fill_from_execution(
    execution: Execution,
    contract: Contract,
    contracts: ContractBook,
    commission: Decimal,
) -> Fill | None:
    """A fill from execDetails; ``None`` if its contract or figures cannot be read."""
    cid = contracts.identify(contract)
    shares = _whole(execution.shares)
    if cid is None or shares is None or shares <= 0:
        return None
    ticks = contracts.ticks(cid, execution.price)
    if ticks is None:
        return None
    when = execution.time
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return Fill(
        exec_id=ExecId(execution.execId),
        client_order_id=client_order_id_for(
            execution.orderRef, execution.clientId, execution.orderId, execution.permId
        ),
        contract_id=cid,
        side=Side.BUY if execution.side == "BOT" else Side.SELL,
        quantity=shares,
        price_ticks=ticks,
        timestamp=when.astimezone(dt.UTC),
        venue_order_id=venue_order_id(execution.permId),
        commission=commission,
    )


def open_order_record(
    order: Order, contract: Contract, contracts: ContractBook, filled: float
) -> OpenOrderRecord | None:
    cid = contracts.identify(contract)
    quantity = _whole(order.totalQuantity)
    kind = _FROM_IB_TYPES.get(order.orderType)
    if cid is None or quantity is None or kind is None:
        return None

    def ticks(price: float) -> int | None:
        return None if price in {UNSET_DOUBLE, 0.0} else contracts.ticks(cid, price)

    return OpenOrderRecord(
        client_order_id=client_order_id_for(
            order.orderRef, order.clientId, order.orderId, order.permId
        ),
        venue_order_id=venue_order_id(order.permId),
        contract_id=cid,
        side=Side.BUY if order.action == "BUY" else Side.SELL,
        quantity=quantity,
        filled=_whole(filled) or 0,
        order_type=kind,
        time_in_force=_FROM_IB_TIFS.get(order.tif, TimeInForce.DAY),
        limit_ticks=ticks(order.lmtPrice) if kind in {OrderType.LIMIT, OrderType.STOP_LIMIT}
        else None,
        stop_ticks=ticks(order.auxPrice) if kind in {OrderType.STOP, OrderType.STOP_LIMIT}
        else None,
    )  # fmt: skip


def position_record(cid: ContractId, quantity: float) -> PositionRecord | None:
    """IB reports a net position; it goes in the yesterday book of its side."""
    lots = _whole(quantity)
    if lots is None or lots == 0:
        return None
    if lots > 0:
        return PositionRecord(contract_id=cid, long_yesterday=lots)
    return PositionRecord(contract_id=cid, short_yesterday=-lots)


_EQUITY_TAGS = ("NetLiquidation",)
_MARGIN_TAGS = ("FullInitMarginReq", "InitMarginReq")
_AVAILABLE_TAGS = ("FullAvailableFunds", "AvailableFunds")


def _first(rows: Mapping[str, tuple[str, str]], tags: Iterable[str]) -> tuple[Decimal, str] | None:
    for tag in tags:
        if tag in rows:
            value, currency = rows[tag]
            try:
                return Decimal(value), currency
            except InvalidOperation:
                return None
    return None


def account_snapshot(
    rows: Mapping[str, tuple[str, str]], commissions: Decimal
) -> AccountSnapshot | str:
    """The account from IB's summary tags (tag -> (value, currency)), or what is missing."""
    equity = _first(rows, _EQUITY_TAGS)
    margin = _first(rows, _MARGIN_TAGS)
    available = _first(rows, _AVAILABLE_TAGS)
    missing = [
        name
        for name, got in (("NetLiquidation", equity), ("InitMarginReq", margin),
                          ("AvailableFunds", available))
        if got is None
    ]  # fmt: skip
    if missing or equity is None or margin is None or available is None:
        return f"IB's account summary lacks {', '.join(missing)}"
    return AccountSnapshot(
        currency=equity[1],
        equity=equity[0],
        margin_used=margin[0],
        margin_available=available[0],
        commissions=commissions,
    )


def encode_cursor(latest: dt.datetime | None, exec_ids: Iterable[str]) -> str:
    """A fills cursor: the newest execution's second, and the executions at that second
    already returned (IB filters executions by time to the second)."""
    if latest is None:
        return ""
    return ib_time(latest) + "|" + ",".join(sorted(exec_ids))


def decode_cursor(cursor: str | None) -> tuple[dt.datetime | None, frozenset[str]]:
    """The cursor's second and exec ids; ``ValueError`` for text that is not a cursor."""
    if not cursor:
        return None, frozenset()
    stamp, _, ids = cursor.partition("|")
    when = dt.datetime.strptime(stamp, "%Y%m%d-%H:%M:%S").replace(tzinfo=dt.UTC)
    return when, frozenset(i for i in ids.split(",") if i)
