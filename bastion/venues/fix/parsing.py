"""Application messages <-> Bastion values, once, at the edge (STYLE.md 2).

Both ends use this module: the adapter builds NewOrderSingle / OrderCancelRequest /
OrderCancelReplaceRequest and reads ExecutionReport, OrderCancelReject,
TradeCaptureReport, PositionReport, CollateralReport and market data; the paper venue
does the reverse. A field that cannot be read raises ``FieldError`` (the session
answers with a Reject) or, for reports, returns ``None`` and is logged by the caller.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, VenueOrderId
from bastion.domain.orders import BrokerOrder
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    FillReport,
    Rejected,
    VenueEvent,
)
from bastion.venues.fix.errors import reason_for
from bastion.venues.fix.instruments import ContractBook, contract_fields
from bastion.venues.fix.session import FieldError
from bastion.venues.fix.wire import Field, Message, fix_time, parse_fix_time, text
from bastion.venues.port import OpenOrderRecord, OrderStatusRecord, VenueOrderStatus

__all__ = [
    "SIDES",
    "event_from_report",
    "fill_from_trade",
    "new_order_fields",
    "open_order_from_report",
    "order_from_new_order",
    "status_from_report",
]

SIDES = {Side.BUY: "1", Side.SELL: "2"}
_SIDE_OF = {v: k for k, v in SIDES.items()}
ORD_TYPES = {
    OrderType.MARKET: "1",
    OrderType.LIMIT: "2",
    OrderType.STOP: "3",
    OrderType.STOP_LIMIT: "4",
}
_ORD_TYPE_OF = {v: k for k, v in ORD_TYPES.items()}
TIFS = {
    TimeInForce.DAY: "0",
    TimeInForce.GTC: "1",
    TimeInForce.IOC: "3",
    TimeInForce.FOK: "4",
    TimeInForce.GTD: "6",
}
_TIF_OF = {v: k for k, v in TIFS.items()}
OFFSETS = {
    OffsetFlag.OPEN: "O",
    OffsetFlag.CLOSE: "C",
    OffsetFlag.CLOSE_TODAY: "T",
    OffsetFlag.CLOSE_YESTERDAY: "Y",
}
_OFFSET_OF = {v: k for k, v in OFFSETS.items()}
OFFSET_TAG = 20077
"""PositionEffect with CTP's today/yesterday split: O, C, T (close today), Y (close yesterday)."""

ORD_STATUS = {
    VenueOrderStatus.WORKING: "0",
    VenueOrderStatus.FILLED: "2",
    VenueOrderStatus.CANCELED: "4",
    VenueOrderStatus.REJECTED: "8",
    VenueOrderStatus.EXPIRED: "C",
}
_STATUS_OF = {v: k for k, v in ORD_STATUS.items()} | {
    "1": VenueOrderStatus.WORKING,
    "A": VenueOrderStatus.WORKING,
    "6": VenueOrderStatus.WORKING,
    "E": VenueOrderStatus.WORKING,
}


def new_order_fields(order: BrokerOrder, contracts: ContractBook, now: dt.datetime) -> list[Field]:
    cid = order.contract_id
    fields: list[Field] = [(11, order.client_order_id), (1, "bastion"), *contract_fields(cid)]
    fields += [(54, SIDES[order.side]), (60, fix_time(now)), (38, order.quantity)]
    fields += [(40, ORD_TYPES[order.order_type]), (59, TIFS[order.time_in_force])]
    if order.limit_ticks is not None:
        fields.append((44, contracts.price(cid, order.limit_ticks)))
    if order.stop_ticks is not None:
        fields.append((99, contracts.price(cid, order.stop_ticks)))
    if order.expire_at is not None:
        fields.append((126, fix_time(order.expire_at)))
    if order.offset is not None:
        fields.append((OFFSET_TAG, OFFSETS[order.offset]))
    return fields


def _need(msg: Message, tag: int) -> str:
    value = text(msg, tag)
    if value is None or value == "":
        raise FieldError(tag, 1, f"required tag {tag} missing")
    return value


def _int(msg: Message, tag: int) -> int:
    value = _need(msg, tag)
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise FieldError(tag, 6, f"tag {tag} is not a number: {value!r}") from exc
    if number != number.to_integral_value():
        raise FieldError(tag, 5, f"tag {tag} must be a whole number: {value!r}")
    return int(number)


def _enum(msg: Message, tag: int, table: dict[str, object]) -> object:
    value = _need(msg, tag)
    if value not in table:
        raise FieldError(tag, 5, f"value {value!r} is not allowed for tag {tag}")
    return table[value]


def _ticks(msg: Message, tag: int, cid: ContractId, contracts: ContractBook) -> int | None:
    value = text(msg, tag)
    if value is None:
        return None
    try:
        return contracts.ticks(cid, value)
    except (ValueError, InvalidOperation) as exc:
        raise FieldError(tag, 5, f"tag {tag}: {exc}") from exc


def order_from_new_order(
    msg: Message, contracts: ContractBook, now: dt.datetime
) -> BrokerOrder | ContractId | None:
    """The order a NewOrderSingle / replace asks for. A contract the venue does not list
    returns the text id (the caller rejects the order as a business reject)."""
    coid = ClientOrderId(_need(msg, 11))
    symbol, maturity = _need(msg, 55), _need(msg, 200)
    cid = contracts.contract(symbol, maturity)
    if cid is None:
        return ContractId(f"{symbol}/{maturity}")
    side = _enum(msg, 54, dict(_SIDE_OF))
    order_type = _enum(msg, 40, dict(_ORD_TYPE_OF))
    tif = _TIF_OF.get(text(msg, 59) or "0")
    if tif is None:
        raise FieldError(59, 5, f"TimeInForce {text(msg, 59)!r} is not supported")
    expire = text(msg, 126)
    offset = text(msg, OFFSET_TAG)
    try:
        return BrokerOrder(
            client_order_id=coid,
            contract_id=cid,
            side=side,  # type: ignore[arg-type]
            quantity=_int(msg, 38),
            order_type=order_type,  # type: ignore[arg-type]
            created=now,
            time_in_force=tif,
            limit_ticks=_ticks(msg, 44, cid, contracts),
            stop_ticks=_ticks(msg, 99, cid, contracts),
            expire_at=parse_fix_time(expire) if expire else None,
            offset=_OFFSET_OF.get(offset) if offset else None,
        )
    except ValueError as exc:
        raise FieldError(38, 5, str(exc)) from exc


def _when(msg: Message) -> dt.datetime:
    stamp = text(msg, 60) or text(msg, 52)
    return parse_fix_time(stamp) if stamp else dt.datetime.now(dt.UTC)


def _order_id(msg: Message) -> VenueOrderId | None:
    value = text(msg, 37)
    return VenueOrderId(value) if value and value != "NONE" else None


def event_from_report(msg: Message, contracts: ContractBook) -> VenueEvent | None:  # noqa: PLR0911
    """The venue event an ExecutionReport (35=8) or OrderCancelReject (35=9) carries;
    ``None`` for a status report (ExecType I) or something unreadable."""
    when = _when(msg)
    if text(msg, 35) == "9":
        orig = text(msg, 41) or text(msg, 11) or ""
        message = text(msg, 58) or "cancel rejected"
        return CancelRejected(
            client_order_id=ClientOrderId(orig),
            reason=reason_for(text(msg, 102), message),
            message=message,
            timestamp=when,
        )
    exec_type = text(msg, 150)
    coid = ClientOrderId(text(msg, 11) or "")
    venue_id = _order_id(msg)
    if exec_type in {"0", "5"}:
        if venue_id is None:
            return None
        return Acknowledged(client_order_id=coid, venue_order_id=venue_id, timestamp=when)
    if exec_type == "F":
        return _fill_event(msg, contracts, coid, venue_id, when)
    if exec_type == "4":
        orig = ClientOrderId(text(msg, 41) or coid)
        return Canceled(
            client_order_id=orig,
            timestamp=when,
            venue_order_id=venue_id,
            unsolicited=text(msg, 41) is None,
            filled=_cum_qty(msg),
        )
    if exec_type == "8":
        message = text(msg, 58) or "rejected"
        return Rejected(
            client_order_id=coid,
            reason=reason_for(text(msg, 103), message),
            message=message,
            timestamp=when,
            venue_order_id=venue_id,
        )
    if exec_type == "C":
        return Expired(
            client_order_id=coid, timestamp=when, venue_order_id=venue_id, filled=_cum_qty(msg)
        )
    return None


def _cum_qty(msg: Message) -> int | None:
    """CumQty (14): what the venue had filled of the order, if it says."""
    raw = text(msg, 14)
    try:
        return int(Decimal(raw)) if raw else None
    except ArithmeticError:
        return None


def _fill_event(
    msg: Message,
    contracts: ContractBook,
    coid: ClientOrderId,
    venue_id: VenueOrderId | None,
    when: dt.datetime,
) -> FillReport | None:
    cid = contracts.contract(text(msg, 55), text(msg, 200))
    exec_id, qty, px = text(msg, 17), text(msg, 32), text(msg, 31)
    side = _SIDE_OF.get(text(msg, 54) or "")
    if cid is None or not exec_id or not qty or not px or side is None:
        return None
    return FillReport(
        fill=Fill(
            exec_id=ExecId(exec_id),
            client_order_id=coid,
            contract_id=cid,
            side=side,
            quantity=int(Decimal(qty)),
            price_ticks=contracts.ticks(cid, px),
            timestamp=when,
            venue_order_id=venue_id,
            commission=Decimal(text(msg, 12) or "0"),
        )
    )


def fill_from_trade(msg: Message, contracts: ContractBook) -> Fill | None:
    """A fill from a TradeCaptureReport (35=AE)."""
    cid = contracts.contract(text(msg, 55), text(msg, 200))
    exec_id, qty, px = text(msg, 17), text(msg, 32), text(msg, 31)
    side = _SIDE_OF.get(text(msg, 54) or "")
    if cid is None or not exec_id or not qty or not px or side is None:
        return None
    return Fill(
        exec_id=ExecId(exec_id),
        client_order_id=ClientOrderId(text(msg, 11) or ""),
        contract_id=cid,
        side=side,
        quantity=int(Decimal(qty)),
        price_ticks=contracts.ticks(cid, px),
        timestamp=_when(msg),
        venue_order_id=_order_id(msg),
        commission=Decimal(text(msg, 12) or "0"),
    )


def status_from_report(msg: Message) -> OrderStatusRecord:
    """An order status from an ExecutionReport with ExecType I. OrdRejReason 5 (unknown
    order) means the venue has no record of it."""
    coid = ClientOrderId(text(msg, 11) or "")
    if text(msg, 39) == "8" and text(msg, 103) == "5":
        return OrderStatusRecord(client_order_id=coid, status=VenueOrderStatus.NOT_FOUND)
    status = _STATUS_OF.get(text(msg, 39) or "", VenueOrderStatus.WORKING)
    return OrderStatusRecord(
        client_order_id=coid,
        status=status,
        filled=int(Decimal(text(msg, 14) or "0")),
        venue_order_id=_order_id(msg),
        timestamp=_when(msg),
    )


def open_order_from_report(msg: Message, contracts: ContractBook) -> OpenOrderRecord | None:
    cid = contracts.contract(text(msg, 55), text(msg, 200))
    side = _SIDE_OF.get(text(msg, 54) or "")
    order_type = _ORD_TYPE_OF.get(text(msg, 40) or "")
    if cid is None or side is None or order_type is None:
        return None
    limit, stop, offset = text(msg, 44), text(msg, 99), text(msg, OFFSET_TAG)
    return OpenOrderRecord(
        client_order_id=ClientOrderId(text(msg, 11) or ""),
        venue_order_id=_order_id(msg),
        contract_id=cid,
        side=side,
        quantity=int(Decimal(text(msg, 38) or "0")),
        filled=int(Decimal(text(msg, 14) or "0")),
        order_type=order_type,
        time_in_force=_TIF_OF.get(text(msg, 59) or "0", TimeInForce.DAY),
        limit_ticks=contracts.ticks(cid, limit) if limit else None,
        stop_ticks=contracts.ticks(cid, stop) if stop else None,
        offset=_OFFSET_OF.get(offset) if offset else None,
    )
