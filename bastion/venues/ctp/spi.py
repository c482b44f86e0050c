"""The callback objects CTP calls, on its own thread.

Each callback copies its struct into a record (``parsing``) and puts the record in the
adapter's ``Inbox``; nothing else happens on CTP's thread, and no adapter state is
touched there. A callback that fails to copy (a field the binding cannot read) puts a
``CallbackFailed`` record instead, so the failure is seen by the adapter and never lost
on CTP's thread.

The classes subclass the binding's ``CThostFtdcTraderSpi`` / ``CThostFtdcMdSpi``; they
are made on first use (``trader_spi_class``) because the binding is only imported after
the locale check (``runtime``).
"""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import Callable
from typing import Any

import msgspec

from bastion.venues.ctp import parsing as p
from bastion.venues.ctp.runtime import Binding

__all__ = ["CallbackFailed", "Inbox", "md_spi_class", "trader_spi_class"]


class CallbackFailed(msgspec.Struct, frozen=True, tag=True):
    callback: str
    error: str


class Inbox:
    """A thread-safe queue of records with a wait: CTP's thread puts, the adapter takes."""

    def __init__(self) -> None:
        self._items: collections.deque[object] = collections.deque()
        self._ready = threading.Condition()
        self.received = 0

    def put(self, record: object) -> None:
        with self._ready:
            self._items.append(record)
            self.received += 1
            self._ready.notify_all()

    def take_all(self) -> list[object]:
        with self._ready:
            items = list(self._items)
            self._items.clear()
            return items

    def wait(self, timeout: float) -> bool:
        """Wait until something is in the inbox (or ``timeout`` s); whether it is."""
        with self._ready:
            if not self._items:
                self._ready.wait(timeout)
            return bool(self._items)


def _guarded(name: str, build: Callable[..., object]) -> Callable[..., None]:
    def callback(self: Any, *args: Any) -> None:
        try:
            record = build(*args)
        except Exception as exc:  # noqa: BLE001 - on CTP's thread nothing may escape
            record = CallbackFailed(name, f"{type(exc).__name__}: {exc}")
        self.inbox.put(record)

    callback.__name__ = name
    return callback


def _query(build: Callable[[Any], p.Row]) -> Callable[..., object]:
    def reply(field: Any, info: Any, request_id: int, is_last: bool) -> p.QueryReply:
        row = None if field is None else build(field)
        return p.QueryReply(int(request_id), row, p.rsp_info(info), bool(is_last))

    return reply


_TRADER_CALLBACKS: dict[str, Callable[..., object]] = {
    "OnFrontConnected": p.FrontConnected,
    "OnFrontDisconnected": lambda reason: p.FrontDisconnected(int(reason)),
    "OnRspAuthenticate": lambda _f, info, rid, _last: p.Authenticated(int(rid), p.rsp_info(info)),
    "OnRspUserLogin": lambda f, info, rid, _last: p.logged_in(f, info, int(rid)),
    "OnRspSettlementInfoConfirm": lambda f, info, rid, _last: p.SettlementConfirmed(
        int(rid), p.rsp_info(info), "" if f is None else p.text(f.ConfirmDate)
    ),
    "OnRspQrySettlementInfoConfirm": _query(p.settlement_row),
    "OnRspQryTradingAccount": _query(p.account_row),
    "OnRspQryInvestorPosition": _query(p.position_row),
    "OnRspQryInstrument": _query(p.instrument_row),
    "OnRspQryOrder": _query(p.order_report),
    "OnRspQryTrade": _query(p.trade_report),
    "OnRspOrderInsert": lambda f, info, rid, _last: p.order_insert_error(f, info, int(rid)),
    "OnErrRtnOrderInsert": p.order_insert_error,
    "OnRspOrderAction": lambda f, info, _rid, _last: p.order_action_error(f, info),
    "OnErrRtnOrderAction": p.order_action_error,
    "OnRtnOrder": p.order_report,
    "OnRtnTrade": p.trade_report,
    "OnRtnInstrumentStatus": p.status_report,
    "OnRspError": lambda info, rid, _last: p.QueryReply(
        int(rid), None, p.rsp_info(info), is_last=True
    ),
}

_MD_CALLBACKS: dict[str, Callable[..., object]] = {
    "OnFrontConnected": lambda: p.FrontConnected(md=True),
    "OnFrontDisconnected": lambda reason: p.FrontDisconnected(int(reason), md=True),
    "OnRspUserLogin": lambda f, info, rid, _last: p.MdLoggedIn(
        int(rid), p.rsp_info(info), "" if f is None else p.text(f.TradingDay)
    ),
    "OnRtnDepthMarketData": p.depth_quote,
}


def _make(base: type, callbacks: dict[str, Callable[..., object]], name: str) -> type:
    def __init__(self: Any, inbox: Inbox) -> None:  # noqa: N807 - the class's constructor
        base.__init__(self)  # type: ignore[misc]  # the binding's director class
        self.inbox = inbox

    namespace: dict[str, object] = {"__init__": __init__, "__doc__": f"{name}: copies, queues."}
    for method, build in callbacks.items():
        namespace[method] = _guarded(method, build)
    return type(name, (base,), namespace)


@functools.cache
def trader_spi_class(binding: Binding) -> type:
    """The adapter's ``CThostFtdcTraderSpi`` subclass; instances take an ``Inbox``."""
    return _make(binding.trader.CThostFtdcTraderSpi, _TRADER_CALLBACKS, "BastionTraderSpi")


@functools.cache
def md_spi_class(binding: Binding) -> type:
    """The adapter's ``CThostFtdcMdSpi`` subclass; instances take an ``Inbox``."""
    return _make(binding.md.CThostFtdcMdSpi, _MD_CALLBACKS, "BastionMdSpi")
