"""The messages the fake TWS sends, field by field, for the server version it announces.

Each function returns the field list of one message (``wire.frame`` encodes it). The
field order is IB's for ``SERVER_VERSION`` (176); fields Bastion never reads are sent
empty, as TWS does for unset values. Prices and quantities are exact decimal text.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bastion.testing.fake_tws.models import FakeContract, FakeExecution, FakeOrder
from bastion.testing.fake_tws.wire import Out

__all__ = [
    "SERVER_VERSION",
    "account_summary",
    "account_value",
    "commission_report",
    "completed_order",
    "contract_data",
    "error",
    "exec_details",
    "ib_time",
    "open_order",
    "order_status",
    "position",
    "tick_price",
    "tick_size",
]

SERVER_VERSION = 176
"""The server version the fake announces (a TWS 10.19-era value)."""

Fields = list[object]


def ib_time(when: dt.datetime) -> str:
    """IB's execution time text, with its zone: ``20260302 14:30:00 UTC``."""
    return when.astimezone(dt.UTC).strftime("%Y%m%d %H:%M:%S") + " UTC"


def _price(value: Decimal | None) -> object:
    return "" if value is None else value


def _contract(c: FakeContract) -> Fields:
    """The 11 contract fields of openOrder, execDetails and completedOrder."""
    return [
        c.con_id, c.symbol, c.sec_type, c.last_trade, "0", "", c.multiplier, c.exchange,
        c.currency, c.local_symbol, c.trading_class,
    ]  # fmt: skip


def error(req_id: int, code: int, message: str) -> Fields:
    return [Out.ERR_MSG, 2, req_id, code, message, ""]


def contract_data(req_id: int, c: FakeContract) -> Fields:
    return [
        Out.CONTRACT_DATA, req_id, c.symbol, c.sec_type, c.last_trade, "0", "", c.exchange,
        c.currency, c.local_symbol, c.trading_class, c.trading_class, c.con_id, c.min_tick,
        c.multiplier, "ACTIVETIM,LMT,MKT,STP,STPLMT", c.exchange, 1, 0,
        f"{c.symbol} {c.last_trade[:6]}", "", c.last_trade[:6], "", "", "",
        "US/Central", "", "", "", "", 0,
        "", c.symbol, "IND", "", c.last_trade, "", 1, 1, 1,
    ]  # fmt: skip


def open_order(o: FakeOrder) -> Fields:
    fields: Fields = [Out.OPEN_ORDER, o.order_id, *_contract(o.contract)]
    fields += [
        o.action, o.quantity, o.order_type, _price(o.limit_price), _price(o.aux_price), o.tif,
        "", o.account, "", 0, o.order_ref, o.client_id, o.perm_id, 0, 0, "", "",
        "", "", "", "", "",  # sharesAllocation, faGroup, faMethod, faPercentage, faProfile
        "", o.good_till_date, "", "", "", 0, "", "", 0, "", "", "", "", "", "", 0, 0, 0, "",
        0, 0, 0, "", 0, 0, "", 0, "", "",
        0, 0, "", "", "", "", "",  # continuousUpdate .. comboLegsDescrip
        0, 0, 0,  # combo legs, order combo legs, smart combo routing params
        "", "", "",  # scale init level size, subs level size, price increment
        "",  # hedge type
        0, "", "", 0, 0,  # optOutSmartRouting, clearing account/intent, notHeld, no dnc
        "",  # algo strategy
        0, 0, o.status, "", "", "", "", "", "", "", "", "", "", "", "", "", "", 0, 0,
        0,  # conditions
        "", "", "", "", "", "", "", 0, "", "", "", "", 0, 0, "", 0,
        "", 0, 0,  # duration, postToAts, autoCancelParent
        "", "", "", "", "",  # minTradeQty .. midOffsetAtHalf
    ]  # fmt: skip
    return fields


def order_status(o: FakeOrder, status: str | None = None) -> Fields:
    return [
        Out.ORDER_STATUS, o.order_id, status or o.status, o.filled, o.remaining,
        o.average_price, o.perm_id, 0, o.last_fill_price, o.client_id, "", 0,
    ]  # fmt: skip


def completed_order(o: FakeOrder) -> Fields:
    when = o.completed_at.strftime("%Y%m%d %H:%M:%S") if o.completed_at else ""
    fields: Fields = [Out.COMPLETED_ORDER, *_contract(o.contract)]
    fields += [
        o.action, o.quantity, o.order_type, _price(o.limit_price), _price(o.aux_price), o.tif,
        "", o.account, "", 0, o.order_ref, o.perm_id, 0, 0, "", "",
        "", "", "", "",  # faGroup, faMethod, faPercentage, faProfile
        "", o.good_till_date, "", "", "", 0, "", "", "", "", "", "", "", "", 0, 0, "", 0,
        0, "", 0, "", "",
        0, 0, "", "", "",  # continuousUpdate .. comboLegsDescrip
        0, 0, 0, "", "", "", "",  # legs, order legs, params, scale fields, hedge type
        "", "", 0, 0, "",  # clearing account/intent, notHeld, no dnc, no algo
        0, o.status, 0, 0, 0,  # solicited, status, randomize size/price, conditions
        "", "", "", 0, 0, "", o.filled, 0, 0, "", 0, 0, 0, when, o.status,
        "", "", "", "", "",
    ]  # fmt: skip
    return fields


def exec_details(req_id: int, e: FakeExecution) -> Fields:
    o = e.order
    return [
        Out.EXECUTION_DATA, req_id, o.order_id, *_contract(o.contract), e.exec_id,
        ib_time(e.time), o.account, o.contract.exchange, e.side, e.shares, e.price,
        o.perm_id, o.client_id, 0, e.cum_qty, e.avg_price, o.order_ref, "", "", "", 1,
    ]  # fmt: skip


def commission_report(e: FakeExecution) -> Fields:
    return [Out.COMMISSION_REPORT, 1, e.exec_id, e.commission, e.currency, "", "", ""]


def position(account: str, c: FakeContract, quantity: int, average_cost: Decimal) -> Fields:
    return [
        Out.POSITION_DATA, 3, account, c.con_id, c.symbol, c.sec_type, c.last_trade, "0", "",
        c.multiplier, c.exchange, c.currency, c.local_symbol, c.trading_class, quantity,
        average_cost,
    ]  # fmt: skip


def account_value(account: str, tag: str, value: object, currency: str) -> Fields:
    return [Out.ACCT_VALUE, 2, tag, value, currency, account]


def account_summary(req_id: int, account: str, tag: str, value: object, currency: str) -> Fields:
    return [Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def tick_price(req_id: int, tick_type: int, price: Decimal, size: int) -> Fields:
    return [Out.TICK_PRICE, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size: int) -> Fields:
    return [Out.TICK_SIZE, 6, req_id, tick_type, size]
