"""CTP's field structs copied into plain records, once, inside the callback.

A CTP callback's struct lives only for the duration of the callback, on CTP's own
thread. The Spi (``spi.py``) calls one function here per callback and hands the record
to the adapter's inbox; nothing else ever touches a struct. The records are immutable
and hold only Python values:

- text: the binding decodes char arrays as GBK (``StatusMsg``, ``ErrorMsg`` arrive as
  Chinese text); NUL padding is cut, other spaces are kept. ``OrderSysID`` and
  ``TradeID`` are kept byte for byte (some exchanges pad them with spaces on the left),
  and every map keys on the exact text;
- prices: CTP marks an empty price with ``DBL_MAX`` (about 1.8e308); ``clean_price``
  turns that, infinities, NaN and (for quotes) zero into ``None``;
- codes stay the one-character codes of ``codes.py``: what they mean is decided where
  they are used, so an unmapped code reaches the adapter, which halts on it.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

__all__ = [
    "AccountRow",
    "Authenticated",
    "DepthQuote",
    "FrontConnected",
    "FrontDisconnected",
    "InstrumentRow",
    "LoggedIn",
    "MdLoggedIn",
    "OrderActionError",
    "OrderInsertError",
    "OrderReport",
    "PositionRow",
    "QueryReply",
    "RspInfo",
    "SettlementConfirmed",
    "SettlementRow",
    "StatusReport",
    "TradeReport",
    "clean_price",
    "rsp_info",
]

EMPTY_PRICE = 1e300
"""At or beyond this a price is CTP's "no value" (``DBL_MAX``)."""


def text(value: object) -> str:
    """A char field as text: NUL padding cut, every other character kept."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("gbk", errors="replace")
    return str(value).split("\0", 1)[0]


def clean_price(value: object, *, zero_is_empty: bool = False) -> float | None:
    """A CTP price, or ``None`` for its empty markers (DBL_MAX, inf, NaN, and 0 if asked)."""
    if not isinstance(value, int | float):
        return None
    price = float(value)
    if math.isnan(price) or math.isinf(price) or abs(price) >= EMPTY_PRICE:
        return None
    if zero_is_empty and price == 0.0:
        return None
    return price


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


class RspInfo(msgspec.Struct, frozen=True):
    error_id: int
    message: str

    @property
    def ok(self) -> bool:
        return self.error_id == 0


NO_ERROR = RspInfo(0, "")


def rsp_info(field: Any) -> RspInfo:
    if field is None:
        return NO_ERROR
    return RspInfo(_int(field.ErrorID), text(field.ErrorMsg))


class FrontConnected(msgspec.Struct, frozen=True, tag=True):
    md: bool = False


class FrontDisconnected(msgspec.Struct, frozen=True, tag=True):
    reason: int
    md: bool = False


class Authenticated(msgspec.Struct, frozen=True, tag=True):
    request_id: int
    error: RspInfo


class LoggedIn(msgspec.Struct, frozen=True, tag=True):
    request_id: int
    error: RspInfo
    front_id: int = 0
    session_id: int = 0
    max_order_ref: str = ""
    trading_day: str = ""
    system_name: str = ""
    shfe_time: str = ""
    """The exchange's clock at login (``HH:MM:SS``, Shanghai time): the venue's time."""


class MdLoggedIn(msgspec.Struct, frozen=True, tag=True):
    request_id: int
    error: RspInfo
    trading_day: str = ""


class SettlementConfirmed(msgspec.Struct, frozen=True, tag=True):
    request_id: int
    error: RspInfo
    confirm_date: str = ""


class OrderInsertError(msgspec.Struct, frozen=True, tag=True):
    """``OnRspOrderInsert`` / ``OnErrRtnOrderInsert``: CTP refused the order itself."""

    error: RspInfo
    order_ref: str
    instrument_id: str
    request_id: int = 0


class OrderActionError(msgspec.Struct, frozen=True, tag=True):
    """``OnRspOrderAction`` / ``OnErrRtnOrderAction``: a cancel was refused."""

    error: RspInfo
    front_id: int
    session_id: int
    order_ref: str
    exchange_id: str
    order_sys_id: str


class OrderReport(msgspec.Struct, frozen=True, tag=True):
    """``OnRtnOrder`` (pushed) or one row of ``OnRspQryOrder``."""

    front_id: int
    session_id: int
    order_ref: str
    exchange_id: str
    order_sys_id: str
    instrument_id: str
    direction: str
    offset: str
    limit_price: float | None
    volume_total_original: int
    volume_traded: int
    volume_total: int
    status: str
    submit_status: str
    status_msg: str
    time_condition: str
    volume_condition: str
    insert_date: str
    insert_time: str
    trading_day: str


class TradeReport(msgspec.Struct, frozen=True, tag=True):
    """``OnRtnTrade`` (pushed) or one row of ``OnRspQryTrade``."""

    exchange_id: str
    trade_id: str
    direction: str
    order_sys_id: str
    order_ref: str
    instrument_id: str
    offset: str
    price: float | None
    volume: int
    trade_date: str
    trade_time: str
    trading_day: str

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a trade unique (VENUES.md): (ExchangeID, TradeID, Direction)."""
        return (self.exchange_id, self.trade_id, self.direction)


class PositionRow(msgspec.Struct, frozen=True):
    instrument_id: str
    exchange_id: str
    direction: str
    position_date: str
    position: int
    today_position: int
    yd_position: int


class AccountRow(msgspec.Struct, frozen=True):
    currency: str
    balance: float
    margin: float
    available: float
    commission: float


class InstrumentRow(msgspec.Struct, frozen=True):
    instrument_id: str
    exchange_id: str
    product_id: str
    price_tick: float | None
    volume_multiple: int
    is_trading: bool


class SettlementRow(msgspec.Struct, frozen=True):
    confirm_date: str


Row = PositionRow | AccountRow | InstrumentRow | SettlementRow | OrderReport | TradeReport


class QueryReply(msgspec.Struct, frozen=True, tag=True):
    """One answer to a query: a row (``None`` when the answer is empty), the error, and
    whether it is the last one."""

    request_id: int
    row: Row | None
    error: RspInfo
    is_last: bool


class DepthQuote(msgspec.Struct, frozen=True, tag=True):
    instrument_id: str
    exchange_id: str
    bid: float | None
    ask: float | None
    bid_volume: int
    ask_volume: int
    last: float | None
    upper_limit: float | None
    lower_limit: float | None
    pre_settlement: float | None
    update_time: str
    update_millisec: int
    trading_day: str
    action_day: str


class StatusReport(msgspec.Struct, frozen=True, tag=True):
    """``OnRtnInstrumentStatus``: a product's or instrument's trading phase."""

    exchange_id: str
    instrument_id: str
    status: str
    enter_time: str


# ------------------------------------------------------------------ struct -> record


def logged_in(field: Any, info: Any, request_id: int) -> LoggedIn:
    error = rsp_info(info)
    if field is None:
        return LoggedIn(request_id, error)
    return LoggedIn(
        request_id,
        error,
        front_id=_int(field.FrontID),
        session_id=_int(field.SessionID),
        max_order_ref=text(field.MaxOrderRef).strip(),
        trading_day=text(field.TradingDay),
        system_name=text(field.SystemName),
        shfe_time=text(field.SHFETime),
    )


def order_report(field: Any) -> OrderReport:
    offsets = text(field.CombOffsetFlag)
    return OrderReport(
        front_id=_int(field.FrontID),
        session_id=_int(field.SessionID),
        order_ref=text(field.OrderRef).strip(),
        exchange_id=text(field.ExchangeID),
        order_sys_id=text(field.OrderSysID),
        instrument_id=text(field.InstrumentID),
        direction=text(field.Direction),
        offset=offsets[:1],
        limit_price=clean_price(field.LimitPrice),
        volume_total_original=_int(field.VolumeTotalOriginal),
        volume_traded=_int(field.VolumeTraded),
        volume_total=_int(field.VolumeTotal),
        status=text(field.OrderStatus),
        submit_status=text(field.OrderSubmitStatus),
        status_msg=text(field.StatusMsg),
        time_condition=text(field.TimeCondition),
        volume_condition=text(field.VolumeCondition),
        insert_date=text(field.InsertDate),
        insert_time=text(field.InsertTime),
        trading_day=text(field.TradingDay),
    )


def trade_report(field: Any) -> TradeReport:
    return TradeReport(
        exchange_id=text(field.ExchangeID),
        trade_id=text(field.TradeID),
        direction=text(field.Direction),
        order_sys_id=text(field.OrderSysID),
        order_ref=text(field.OrderRef).strip(),
        instrument_id=text(field.InstrumentID),
        offset=text(field.OffsetFlag),
        price=clean_price(field.Price),
        volume=_int(field.Volume),
        trade_date=text(field.TradeDate),
        trade_time=text(field.TradeTime),
        trading_day=text(field.TradingDay),
    )


def order_insert_error(field: Any, info: Any, request_id: int = 0) -> OrderInsertError:
    return OrderInsertError(
        error=rsp_info(info),
        order_ref="" if field is None else text(field.OrderRef).strip(),
        instrument_id="" if field is None else text(field.InstrumentID),
        request_id=request_id,
    )


def order_action_error(field: Any, info: Any) -> OrderActionError:
    if field is None:
        return OrderActionError(rsp_info(info), 0, 0, "", "", "")
    return OrderActionError(
        error=rsp_info(info),
        front_id=_int(field.FrontID),
        session_id=_int(field.SessionID),
        order_ref=text(field.OrderRef).strip(),
        exchange_id=text(field.ExchangeID),
        order_sys_id=text(field.OrderSysID),
    )


def position_row(field: Any) -> PositionRow:
    return PositionRow(
        instrument_id=text(field.InstrumentID),
        exchange_id=text(field.ExchangeID),
        direction=text(field.PosiDirection),
        position_date=text(field.PositionDate),
        position=_int(field.Position),
        today_position=_int(field.TodayPosition),
        yd_position=_int(field.YdPosition),
    )


def account_row(field: Any) -> AccountRow:
    return AccountRow(
        currency=text(field.CurrencyID) or "CNY",
        balance=clean_price(field.Balance) or 0.0,
        margin=clean_price(field.CurrMargin) or 0.0,
        available=clean_price(field.Available) or 0.0,
        commission=clean_price(field.Commission) or 0.0,
    )


def instrument_row(field: Any) -> InstrumentRow:
    return InstrumentRow(
        instrument_id=text(field.InstrumentID),
        exchange_id=text(field.ExchangeID),
        product_id=text(field.ProductID),
        price_tick=clean_price(field.PriceTick, zero_is_empty=True),
        volume_multiple=_int(field.VolumeMultiple),
        is_trading=bool(_int(field.IsTrading)),
    )


def settlement_row(field: Any) -> SettlementRow:
    return SettlementRow(confirm_date=text(field.ConfirmDate))


def depth_quote(field: Any) -> DepthQuote:
    return DepthQuote(
        instrument_id=text(field.InstrumentID),
        exchange_id=text(field.ExchangeID),
        bid=clean_price(field.BidPrice1, zero_is_empty=True),
        ask=clean_price(field.AskPrice1, zero_is_empty=True),
        bid_volume=_int(field.BidVolume1),
        ask_volume=_int(field.AskVolume1),
        last=clean_price(field.LastPrice, zero_is_empty=True),
        upper_limit=clean_price(field.UpperLimitPrice, zero_is_empty=True),
        lower_limit=clean_price(field.LowerLimitPrice, zero_is_empty=True),
        pre_settlement=clean_price(field.PreSettlementPrice, zero_is_empty=True),
        update_time=text(field.UpdateTime),
        update_millisec=_int(field.UpdateMillisec),
        trading_day=text(field.TradingDay),
        action_day=text(field.ActionDay),
    )


def status_report(field: Any) -> StatusReport:
    return StatusReport(
        exchange_id=text(field.ExchangeID),
        instrument_id=text(field.InstrumentID),
        status=text(field.InstrumentStatus),
        enter_time=text(field.EnterTime),
    )
