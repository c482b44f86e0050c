"""Application messages <-> Bastion values, once, at the edge (STYLE.md 2).

Both ends use this module: the adapter builds NewOrderSingle / OrderCancelRequest /
OrderCancelReplaceRequest and reads ExecutionReport, OrderCancelReject,
TradeCaptureReport, PositionReport, CollateralReport and market data; the paper venue
does the reverse. A field that cannot be read raises ``FieldError`` (the session
answers with a Reject naming the tag) or, for reports, returns ``None`` and is logged by
the caller.

What an order may say (venue side): a quantity of 1..``MAX_ORDER_QUANTITY`` whole lots;
prices on the tick, within ``MAX_PRICE_TICKS`` ticks, and positive unless the contract's
spec allows negative prices (``ContractSpec.allows_negative_prices``); an offset (20077)
only from the known values O/C/T/Y; an expiry time in FIX format. Numbers must be
finite decimals of at most 32 characters (``Infinity``, ``NaN`` and ``1e999999`` are
bad values, never exceptions).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, VenueOrderId
from bastion.domain.orders import BrokerOrder, validate_order_shape
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    FillReport,
    Rejected,
    TradeCorrection,
    VenueAnomaly,
    VenueEvent,
)
from bastion.venues.fix.errors import reason_for
from bastion.venues.fix.instruments import ContractBook, contract_fields
from bastion.venues.fix.wire import (
    Field,
    FieldError,
    Message,
    fix_time,
    parse_fix_time,
    text,
    texts,
)
from bastion.venues.port import (
    AccountSnapshot,
    OpenOrderRecord,
    OrderStatusRecord,
    PositionRecord,
    VenueOrderStatus,
)

__all__ = [
    "INFORMATIONAL_EXEC_TYPES",
    "MAX_ORDER_QUANTITY",
    "MAX_PRICE_TICKS",
    "SIDES",
    "account_from_report",
    "event_from_report",
    "fill_from_trade",
    "new_order_fields",
    "open_order_from_report",
    "order_from_new_order",
    "position_from_report",
    "status_from_report",
    "venue_anomaly",
]

MAX_ORDER_QUANTITY = 1_000_000
"""The most lots one order may ask for (the venue refuses more as a bad value)."""
MAX_PRICE_TICKS = 10**12
"""The largest price, in ticks of the contract, an order may carry (either sign)."""
_MAX_NUMBER_TEXT = 32

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


def _number(tag: int, value: str) -> Decimal:
    if len(value) > _MAX_NUMBER_TEXT:
        raise FieldError(tag, 6, f"tag {tag} is not a number: {value[:16]!r}...")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise FieldError(tag, 6, f"tag {tag} is not a number: {value!r}") from None
    if not number.is_finite():
        raise FieldError(tag, 6, f"tag {tag} is not a finite number: {value!r}")
    return number


def _int(msg: Message, tag: int, high: int = MAX_ORDER_QUANTITY) -> int:
    value = _need(msg, tag)
    number = _number(tag, value)
    if number != number.to_integral_value():
        raise FieldError(tag, 5, f"tag {tag} must be a whole number: {value!r}")
    if not 1 <= number <= high:
        raise FieldError(tag, 5, f"tag {tag} must be 1..{high}: {value!r}")
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
    number = _number(tag, value)
    spec = contracts.specs[cid]
    try:
        ticks, rest = divmod(number, spec.tick_size)
    except ArithmeticError:
        raise FieldError(tag, 5, f"tag {tag}: price {value} is out of range") from None
    if rest:
        raise FieldError(tag, 5, f"tag {tag}: price {value} is not on the {spec.tick_size} tick")
    if abs(ticks) > MAX_PRICE_TICKS:
        raise FieldError(tag, 5, f"tag {tag}: price {value} is out of range")
    if ticks <= 0 and not spec.allows_negative_prices:
        raise FieldError(tag, 5, f"tag {tag}: price {value} must be positive for {cid}")
    return int(ticks)


def _offset(msg: Message) -> OffsetFlag | None:
    value = text(msg, OFFSET_TAG)
    if value is None:
        return None
    if value not in _OFFSET_OF:
        raise FieldError(
            OFFSET_TAG, 5, f"offset {value!r} is not one of {', '.join(sorted(_OFFSET_OF))}"
        )
    return _OFFSET_OF[value]


def _expiry(msg: Message) -> dt.datetime | None:
    value = text(msg, 126)
    if not value:
        return None
    try:
        return parse_fix_time(value)
    except ValueError:
        raise FieldError(126, 6, f"ExpireTime {value[:32]!r} is not a FIX UTC timestamp") from None


def _shape_tag(problem: str) -> int:
    """The field a ``validate_order_shape`` complaint is about."""
    for word, tag in (("limit", 44), ("stop", 99), ("expiry", 126)):
        if word in problem:
            return tag
    return 40


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
    quantity = _int(msg, 38)
    limit, stop = _ticks(msg, 44, cid, contracts), _ticks(msg, 99, cid, contracts)
    expire, offset = _expiry(msg), _offset(msg)
    problem = validate_order_shape(order_type, limit, stop, tif, expire)  # type: ignore[arg-type]
    if problem is not None:
        raise FieldError(_shape_tag(problem), 5, problem)
    return BrokerOrder(
        client_order_id=coid,
        contract_id=cid,
        side=side,  # type: ignore[arg-type]
        quantity=quantity,
        order_type=order_type,  # type: ignore[arg-type]
        created=now,
        time_in_force=tif,
        limit_ticks=limit,
        stop_ticks=stop,
        expire_at=expire,
        offset=offset,
    )


def _when(msg: Message) -> dt.datetime:
    stamp = text(msg, 60) or text(msg, 52)
    return parse_fix_time(stamp) if stamp else dt.datetime.now(dt.UTC)


def _order_id(msg: Message) -> VenueOrderId | None:
    value = text(msg, 37)
    return VenueOrderId(value) if value and value != "NONE" else None


def _peer(msg: Message, tag: int) -> str | None:
    """A field of a report for the record of an anomaly: never raises, at most 64
    characters, undecodable bytes replaced."""
    value = msg.get(tag)
    return None if value is None else bytes(value)[:64].decode("utf-8", "replace")


INFORMATIONAL_EXEC_TYPES = {"6": "pending cancel", "A": "pending new", "E": "pending replace"}
"""ExecTypes that announce a state the next report settles: logged, nothing to apply."""


def venue_anomaly(msg: Message, kind: str, message: str) -> VenueAnomaly:
    """The anomaly a venue message stands for, with whatever ids can be read from it."""
    try:
        when = _when(msg)
    except (FieldError, ValueError):
        when = dt.datetime.now(dt.UTC)
    coid, venue_id, exec_id = _peer(msg, 11), _peer(msg, 37), _peer(msg, 17)
    return VenueAnomaly(
        kind=kind,
        message=message[:300],
        timestamp=when,
        client_order_id=ClientOrderId(coid) if coid else None,
        venue_order_id=VenueOrderId(venue_id) if venue_id and venue_id != "NONE" else None,
        exec_id=ExecId(exec_id) if exec_id else None,
    )


def event_from_report(msg: Message, contracts: ContractBook) -> VenueEvent | None:
    """The venue event an ExecutionReport (35=8) or OrderCancelReject (35=9) carries.
    ``None`` only for an informational ExecType (pending new/cancel/replace); anything
    Bastion cannot read or place (a bad field, an unknown ExecType, a fill it cannot
    price) is a ``VenueAnomaly``. Never raises."""
    try:
        return _event(msg, contracts)
    except (FieldError, ValueError, ArithmeticError) as exc:
        return venue_anomaly(msg, "unreadable_report", f"execution report not readable: {exc}")


def _event(msg: Message, contracts: ContractBook) -> VenueEvent | None:  # noqa: PLR0911
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
            return venue_anomaly(msg, "unreadable_report", "acknowledgement without OrderID (37)")
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
    if exec_type in {"G", "H"}:
        return _correction_event(msg, contracts, coid, venue_id, when)
    if exec_type in INFORMATIONAL_EXEC_TYPES:
        return None
    return venue_anomaly(
        msg, "unknown_exec_type", f"ExecType (150) {exec_type!r} is not one Bastion handles"
    )


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
) -> FillReport | VenueAnomaly:
    cid = contracts.contract(text(msg, 55), text(msg, 200))
    exec_id, qty, px = text(msg, 17), text(msg, 32), text(msg, 31)
    side = _SIDE_OF.get(text(msg, 54) or "")
    if cid is None:
        why = f"fill in a contract Bastion does not trade: {text(msg, 55)}/{text(msg, 200)}"
        return venue_anomaly(msg, "unknown_contract", why)
    if not exec_id or not qty or not px or side is None:
        why = "fill without ExecID (17), LastQty (32), LastPx (31) or Side (54)"
        return venue_anomaly(msg, "unreadable_report", why)
    quantity = _number(32, qty)
    if quantity != quantity.to_integral_value() or quantity <= 0:
        return venue_anomaly(msg, "unreadable_report", f"fill quantity {qty!r} is not whole lots")
    return FillReport(
        fill=Fill(
            exec_id=ExecId(exec_id),
            client_order_id=coid,
            contract_id=cid,
            side=side,
            quantity=int(quantity),
            price_ticks=contracts.ticks(cid, px),
            timestamp=when,
            venue_order_id=venue_id,
            commission=_number(12, text(msg, 12) or "0"),
        )
    )


def _correction_event(
    msg: Message,
    contracts: ContractBook,
    coid: ClientOrderId,
    venue_id: VenueOrderId | None,
    when: dt.datetime,
) -> TradeCorrection | VenueAnomaly:
    """ExecType H (trade cancel: a bust) or G (trade correct): ExecRefID (19) names the
    execution; a correction's LastQty (32) and LastPx (31) say what it now was."""
    bust = text(msg, 150) == "H"
    exec_id, ref = text(msg, 17), text(msg, 19)
    if not exec_id or not ref:
        what = "trade cancel" if bust else "trade correct"
        return venue_anomaly(
            msg, "unreadable_report", f"{what} without ExecID (17) or ExecRefID (19)"
        )
    quantity, price = 0, None
    if not bust:
        qty = text(msg, 32)
        number = _number(32, qty) if qty else None
        if number is None or number != number.to_integral_value() or number < 0:
            why = f"trade correct without a whole LastQty (32): {qty!r}"
            return venue_anomaly(msg, "unreadable_report", why)
        quantity = int(number)
        cid, px = contracts.contract(text(msg, 55), text(msg, 200)), text(msg, 31)
        price = contracts.ticks(cid, px) if cid is not None and px else None
    return TradeCorrection(
        exec_id=ExecId(exec_id),
        exec_ref_id=ExecId(ref),
        bust=bust,
        quantity=quantity,
        price_ticks=price,
        timestamp=when,
        client_order_id=coid or None,
        venue_order_id=venue_id,
    )


def _whole(tag: int, value: str) -> int:
    """A whole, non-negative number from a venue's answer, or ``FieldError``."""
    number = _number(tag, value)
    if number != number.to_integral_value() or number < 0:
        raise FieldError(tag, 5, f"tag {tag} is not a whole number of lots: {value!r}")
    return int(number)


def fill_from_trade(msg: Message, contracts: ContractBook) -> Fill | None:
    """A fill from a TradeCaptureReport (35=AE); ``None`` when it names no contract
    Bastion knows or lacks a field. A bad value raises ``FieldError`` or ``ValueError``
    (the caller reads the whole answer as unknown)."""
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
        quantity=_whole(32, qty),
        price_ticks=contracts.ticks(cid, px),
        timestamp=_when(msg),
        venue_order_id=_order_id(msg),
        commission=_number(12, text(msg, 12) or "0"),
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
        filled=_whole(14, text(msg, 14) or "0"),
        venue_order_id=_order_id(msg),
        timestamp=_when(msg),
    )


def open_order_from_report(msg: Message, contracts: ContractBook) -> OpenOrderRecord | None:
    """An open order from a mass status report; ``None`` for a contract Bastion does
    not trade. A bad value raises ``FieldError`` or ``ValueError``."""
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
        quantity=_whole(38, text(msg, 38) or "0"),
        filled=_whole(14, text(msg, 14) or "0"),
        order_type=order_type,
        time_in_force=_TIF_OF.get(text(msg, 59) or "0", TimeInForce.DAY),
        limit_ticks=contracts.ticks(cid, limit) if limit else None,
        stop_ticks=contracts.ticks(cid, stop) if stop else None,
        offset=_OFFSET_OF.get(offset) if offset else None,
    )


def account_from_report(msg: Message) -> AccountSnapshot:
    """The account from a CollateralReport (35=BA); a bad amount raises ``FieldError``."""
    return AccountSnapshot(
        currency=text(msg, 15) or "",
        equity=_number(900, text(msg, 900) or "0"),
        margin_used=_number(20010, text(msg, 20010) or "0"),
        margin_available=_number(899, text(msg, 899) or "0"),
        commissions=_number(12, text(msg, 12) or "0"),
    )


def position_from_report(msg: Message, contracts: ContractBook) -> PositionRecord | None:
    """The long and short books of a PositionReport (35=AP): 703=SOD is yesterday's,
    703=TQ today's, 704 long and 705 short. ``None`` for a contract Bastion does not
    trade; a bad quantity raises ``FieldError``."""
    cid = contracts.contract(text(msg, 55), text(msg, 200))
    if cid is None:
        return None
    books: dict[str, tuple[int, int]] = {}
    kinds, longs, shorts = texts(msg, 703), texts(msg, 704), texts(msg, 705)
    for n, kind in enumerate(kinds):
        long = longs[n] if n < len(longs) else "0"
        short = shorts[n] if n < len(shorts) else "0"
        books[kind] = (_whole(704, long or "0"), _whole(705, short or "0"))
    sod, tq = books.get("SOD", (0, 0)), books.get("TQ", (0, 0))
    return PositionRecord(
        contract_id=cid,
        long_yesterday=sod[0],
        short_yesterday=sod[1],
        long_today=tq[0],
        short_today=tq[1],
    )
