"""A deterministic fake CTP counter: a broker's CTP front and an exchange, in process.

The exchange is Bastion's sim venue (its matching, margin, bands, sessions and faults);
around it the counter does what a CTP counter does, independently of the adapter's code:

- logins: authentication (AppID/AuthCode), login with a new SessionID every time, the
  trading day, settlement confirmation once per trading day;
- the books: long and short, today and yesterday (``roll_day`` turns today's into
  yesterday's), offset rules per exchange (SHFE/INE: CloseToday closes today's book,
  Close and CloseYesterday yesterday's; elsewhere the oldest first), over-closes refused
  (ErrorID 30/50/51), closes held back while working;
- orders with CTP identities (FrontID/SessionID/OrderRef, then a space-padded
  OrderSysID), callbacks in CTP's order: ``OnRtnOrder`` (Unknown), ``OnRtnOrder``
  (accepted, with OrderSysID), per match ``OnRtnOrder`` then ``OnRtnTrade``; CTP-level
  rejects as ``OnRspOrderInsert`` + ``OnErrRtnOrderInsert``; exchange rejects as
  Canceled with InsertRejected and a GBK message;
- the day's private flow, replayed to a session that subscribes with RESTART;
- market data with the day's limits (DBL_MAX for empty levels) and instrument status.

Fault switches (``faults``): a front that never answers, CTP-level and exchange rejects,
flow control (-2/-3, ErrorID 90), duplicate trades, an unmapped status code, settlement
that cannot be confirmed, a disconnect (and a reconnect with a new SessionID); partial
fills and fills after a cancel come from the sim venue's own faults (``exchange``).
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bastion.clock import Clock
from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    FillReport,
    Rejected,
    VenueEvent,
)
from bastion.marketdata.specs import MarketSpec, venue_symbol
from bastion.testing.fake_ctp.ports import Call, FakeMdApi, FakeTraderApi, Struct
from bastion.venues.ctp.runtime import Binding, load_binding
from bastion.venues.sim.config import SimVenueConfig
from bastion.venues.sim.execution import SimVenue

__all__ = ["FakeCtpCounter", "FakeFaults", "FakeInstrument"]

DBL_MAX = sys.float_info.max
CHINA = ZoneInfo("Asia/Shanghai")
SPLITS = frozenset({"SHFE", "INE"})
REJECT_TEXT = {
    Reason.PRICE_OUTSIDE_BAND: "报单价格超出涨跌停板",
    Reason.MARKET_CLOSED: "非交易时间不能报单",
    Reason.HALTED: "合约暂停交易",
    Reason.INVALID_ORDER: "报单字段有误",
    Reason.RATE_LIMITED: "报单流控",
}


@dataclass(slots=True)
class FakeFaults:
    silent: bool = False
    """The front never answers (no OnFrontConnected)."""
    flow_codes: collections.deque[int] = field(default_factory=collections.deque)
    """Return codes for the next requests (-2, -3): nothing else happens for them."""
    not_ready_queries: int = 0
    """The next queries are answered with ErrorID 90 (query not ready)."""
    insert_errors: collections.deque[tuple[int, str]] = field(default_factory=collections.deque)
    """CTP-level rejects for the next inserts (ErrorID, message)."""
    exchange_rejects: collections.deque[str] = field(default_factory=collections.deque)
    """Exchange rejects (status message) for the next inserts."""
    duplicate_trades: int = 0
    """The next trades are sent twice."""
    unmapped_status: str | None = None
    """The next order report carries this status code instead of the real one."""
    refuse_settlement: bool = False
    auth_error: tuple[int, str] | None = None
    login_error: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class FakeInstrument:
    contract_id: ContractId
    instrument_id: str
    exchange_id: str
    spec: MarketSpec


@dataclass(slots=True)
class FakeOrder:
    key: ClientOrderId
    session: FakeTraderApi
    fields: dict[str, Any]
    instrument: FakeInstrument
    side: Side
    offset: str
    volume: int
    price: float
    sys_id: str = ""
    status: str = "a"
    submit: str = "0"
    traded: int = 0
    message: str = ""
    frozen: list[tuple[str, int]] = field(default_factory=list)

    @property
    def working(self) -> bool:
        return self.status in {"a", "1", "3"}


@dataclass(slots=True)
class _Market:
    bid: int | None = None
    ask: int | None = None
    bid_size: int = 0
    ask_size: int = 0
    last: int | None = None
    reference: int | None = None


class FakeCtpCounter:
    """One investor's account at a fake CTP counter, with an exchange behind it."""

    def __init__(
        self,
        instruments: dict[ContractId, MarketSpec],
        clock: Clock,
        *,
        broker_id: str = "9999",
        user_id: str = "000001",
        password: str = "fake-pass",
        app_id: str = "",
        auth_code: str = "",
        sim_config: SimVenueConfig | None = None,
        default_band: Decimal = Decimal("0.1"),
        threaded: bool = False,
        binding: Binding | None = None,
    ) -> None:
        self.binding = binding or load_binding()
        self.clock = clock
        self.broker_id, self.user_id, self.password = broker_id, user_id, password
        self.app_id, self.auth_code = app_id, auth_code
        self.threaded = threaded
        self.default_band = default_band
        self.instruments: dict[ContractId, FakeInstrument] = {}
        for cid, spec in instruments.items():
            symbol = venue_symbol(spec, cid.split("/", 1)[1][:6])
            self.instruments[cid] = FakeInstrument(cid, symbol, spec.exchange, spec)
        self._by_symbol = {i.instrument_id: i for i in self.instruments.values()}
        config = sim_config or SimVenueConfig(name="exchange")
        self.session_open = True
        self.exchange = SimVenue(
            {cid: i.spec.contract for cid, i in self.instruments.items()},
            clock,
            SimVenueConfig(
                **{
                    **{f: getattr(config, f) for f in config.__struct_fields__},
                    "provisional_ids": False,
                }
            ),
            lambda _c, _w: self.session_open,
        )
        self.exchange.connect()
        self.faults = FakeFaults()
        self.front_id = 1
        self._sessions = itertools.count(1001)
        self._sys_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self.trading_day = self._trading_day()
        self.confirmed_day = ""
        self.sessions: list[FakeTraderApi] = []
        self.md_sessions: list[FakeMdApi] = []
        self.flow: list[Call] = []
        self.orders: dict[ClientOrderId, FakeOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self.books: dict[ContractId, dict[str, int]] = {
            cid: {"long_today": 0, "long_yesterday": 0, "short_today": 0, "short_yesterday": 0}
            for cid in self.instruments
        }
        self.frozen: dict[tuple[ContractId, str], int] = collections.defaultdict(int)
        self.markets: dict[ContractId, _Market] = {cid: _Market() for cid in self.instruments}
        self.status: dict[str, str] = {}
        self.query_rate = 1000
        self.order_rate = 50
        self.requests = collections.Counter[str]()

    # -- ports for the adapter ------------------------------------------------------------
    def trader_port(self) -> FakeTraderApi:
        return FakeTraderApi(self, threaded=self.threaded)

    def md_port(self) -> FakeMdApi:
        return FakeMdApi(self, threaded=self.threaded)

    def _t(self, name: str, fields: dict[str, object]) -> Struct:
        return Struct(getattr(self.binding.trader, name), fields)

    def _info(self, error_id: int = 0, message: str = "CTP:正确") -> Struct:
        return self._t("CThostFtdcRspInfoField", {"ErrorID": error_id, "ErrorMsg": message})

    def _trading_day(self) -> str:
        local = self.clock.now().astimezone(CHINA)
        day = local.date() + (dt.timedelta(days=1) if local.hour >= 18 else dt.timedelta())
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        return day.strftime("%Y%m%d")

    # -- connection -----------------------------------------------------------------------
    def attach(self, session: FakeTraderApi) -> None:
        self.sessions.append(session)
        if not self.faults.silent:
            session.connected = True
            session.deliver(Call("OnFrontConnected", ()))

    def detach(self, session: FakeTraderApi) -> None:
        if session in self.sessions:
            self.sessions.remove(session)

    def attach_md(self, session: FakeMdApi) -> None:
        self.md_sessions.append(session)
        if not self.faults.silent:
            session.connected = True
            session.deliver(Call("OnFrontConnected", ()))

    def detach_md(self, session: FakeMdApi) -> None:
        if session in self.md_sessions:
            self.md_sessions.remove(session)

    def drop(self, reason: int = 0x1001) -> None:
        """Every session loses its front (``OnFrontDisconnected``)."""
        for session in [*self.sessions, *self.md_sessions]:
            if session.connected:
                session.connected = session.logged_in = False
                session.deliver(Call("OnFrontDisconnected", (reason,)))

    def reconnect(self) -> None:
        """The fronts come back: CTP reconnects by itself (the adapter logs in again)."""
        for session in [*self.sessions, *self.md_sessions]:
            if not session.connected:
                session.connected = True
                session.deliver(Call("OnFrontConnected", ()))

    def _gate(self, session: FakeTraderApi, *, logged_in: bool = True) -> int | None:
        if not session.connected or (logged_in and not session.logged_in):
            return -1
        if self.faults.flow_codes:
            return self.faults.flow_codes.popleft()
        return None

    def authenticate(self, session: FakeTraderApi, field: Any, rid: int) -> int:
        self.requests["authenticate"] += 1
        if (code := self._gate(session, logged_in=False)) is not None:
            return code
        error = self.faults.auth_error
        if error is None and self.app_id and (
            field.AppID != self.app_id or field.AuthCode != self.auth_code
        ):
            error = (63, "CTP:客户端认证失败")
        info = self._info(*error) if error else self._info()
        fields = {"BrokerID": self.broker_id, "UserID": field.UserID, "AppID": field.AppID}
        session.deliver(
            Call("OnRspAuthenticate", (self._t("CThostFtdcRspAuthenticateField", fields), info, rid, True))
        )
        return 0

    def login(self, session: FakeTraderApi, field: Any, rid: int) -> int:
        self.requests["login"] += 1
        if (code := self._gate(session, logged_in=False)) is not None:
            return code
        error = self.faults.login_error
        if error is None and (field.UserID != self.user_id or field.Password != self.password):
            error = (3, "CTP:不合法的登录")
        if error is not None:
            session.deliver(Call("OnRspUserLogin", (None, self._info(*error), rid, True)))
            return 0
        session.front_id, session.session_id = self.front_id, next(self._sessions)
        session.logged_in = True
        refs = [int(o.fields["OrderRef"]) for o in self.orders.values() if o.session is session]
        fields = {
            "BrokerID": self.broker_id, "UserID": self.user_id, "FrontID": session.front_id,
            "SessionID": session.session_id, "MaxOrderRef": str(max(refs, default=0)),
            "TradingDay": self.trading_day, "SystemName": "FAKE-CTP",
        }  # fmt: skip
        login = self._t("CThostFtdcRspUserLoginField", fields)
        session.deliver(Call("OnRspUserLogin", (login, self._info(), rid, True)))
        if session.private_resume == 0:  # RESTART: the whole day again
            for call in self.flow:
                session.deliver(call)
        for product, status in self.status.items():
            session.deliver(Call("OnRtnInstrumentStatus", (self._status_struct(product, status),)))
        return 0

    def confirm_settlement(self, session: FakeTraderApi, rid: int) -> int:
        self.requests["confirm_settlement"] += 1
        if (code := self._gate(session)) is not None:
            return code
        if self.faults.refuse_settlement:
            info = self._info(42, "CTP:结算结果未确认")
            session.deliver(Call("OnRspSettlementInfoConfirm", (None, info, rid, True)))
            return 0
        self.confirmed_day = self.trading_day
        fields = {"BrokerID": self.broker_id, "InvestorID": self.user_id,
                  "ConfirmDate": self.trading_day, "ConfirmTime": "09:00:00"}  # fmt: skip
        confirm = self._t("CThostFtdcSettlementInfoConfirmField", fields)
        session.deliver(Call("OnRspSettlementInfoConfirm", (confirm, self._info(), rid, True)))
        return 0

    # -- queries ----------------------------------------------------------------------------
    def query(self, session: FakeTraderApi, kind: str, rid: int, arg: str = "") -> int:
        self.requests[f"query_{kind}"] += 1
        if (code := self._gate(session)) is not None:
            return code
        method = {
            "settlement": "OnRspQrySettlementInfoConfirm", "account": "OnRspQryTradingAccount",
            "positions": "OnRspQryInvestorPosition", "orders": "OnRspQryOrder",
            "trades": "OnRspQryTrade", "instrument": "OnRspQryInstrument",
        }[kind]  # fmt: skip
        if self.faults.not_ready_queries:
            self.faults.not_ready_queries -= 1
            session.deliver(Call(method, (None, self._info(90, "CTP:查询未就绪，请稍后重试"), rid, True)))
            return 0
        rows = getattr(self, f"_rows_{kind}")(arg)
        if not rows:
            session.deliver(Call(method, (None, self._info(), rid, True)))
        for n, row in enumerate(rows, 1):
            session.deliver(Call(method, (row, self._info(), rid, n == len(rows))))
        return 0

    def _rows_settlement(self, _arg: str) -> list[Struct]:
        if not self.confirmed_day:
            return []
        fields = {"BrokerID": self.broker_id, "InvestorID": self.user_id,
                  "ConfirmDate": self.confirmed_day, "ConfirmTime": "09:00:00"}  # fmt: skip
        return [self._t("CThostFtdcSettlementInfoConfirmField", fields)]

    def _rows_account(self, _arg: str) -> list[Struct]:
        snap = self.exchange.account().value
        assert snap is not None  # noqa: S101 - the exchange is always connected
        fields = {
            "BrokerID": self.broker_id, "AccountID": self.user_id, "CurrencyID": "CNY",
            "Balance": float(snap.equity), "CurrMargin": float(snap.margin_used),
            "Available": float(snap.margin_available), "Commission": float(snap.commissions),
            "TradingDay": self.trading_day,
        }  # fmt: skip
        return [self._t("CThostFtdcTradingAccountField", fields)]

    def _rows_positions(self, _arg: str) -> list[Struct]:
        rows = []
        for cid, book in self.books.items():
            inst = self.instruments[cid]
            for direction, side in (("2", "long"), ("3", "short")):
                today, yesterday = book[f"{side}_today"], book[f"{side}_yesterday"]
                base = {"InstrumentID": inst.instrument_id, "ExchangeID": inst.exchange_id,
                        "BrokerID": self.broker_id, "InvestorID": self.user_id,
                        "PosiDirection": direction, "HedgeFlag": "1"}  # fmt: skip
                if inst.exchange_id in SPLITS:
                    if today:
                        rows.append({**base, "PositionDate": "1", "Position": today,
                                     "TodayPosition": today, "YdPosition": 0})  # fmt: skip
                    if yesterday:
                        rows.append({**base, "PositionDate": "2", "Position": yesterday,
                                     "TodayPosition": 0, "YdPosition": yesterday})  # fmt: skip
                elif today or yesterday:
                    rows.append({**base, "PositionDate": "1", "Position": today + yesterday,
                                 "TodayPosition": today, "YdPosition": yesterday})  # fmt: skip
        return [self._t("CThostFtdcInvestorPositionField", r) for r in rows]

    def _rows_orders(self, _arg: str) -> list[Struct]:
        return [self._t("CThostFtdcOrderField", self._order_fields(o)) for o in self.orders.values()]

    def _rows_trades(self, _arg: str) -> list[Struct]:
        return [self._t("CThostFtdcTradeField", t) for t in self.trades]

    def _rows_instrument(self, symbol: str) -> list[Struct]:
        rows = []
        for inst in self.instruments.values():
            if symbol and inst.instrument_id != symbol:
                continue
            spec = inst.spec.contract
            rows.append(
                {
                    "InstrumentID": inst.instrument_id, "ExchangeID": inst.exchange_id,
                    "ProductID": spec.symbol_root, "PriceTick": float(spec.tick_size),
                    "VolumeMultiple": int(spec.multiplier), "IsTrading": 1,
                }  # fmt: skip
            )
        return [self._t("CThostFtdcInstrumentField", r) for r in rows]

    # -- the private flow ----------------------------------------------------------------
    def _push(self, call: Call) -> None:
        """A private-flow message: kept for RESTART, sent to every logged-in session."""
        self.flow.append(call)
        for session in self.sessions:
            if session.logged_in:
                session.deliver(call)

    def _now_fields(self) -> tuple[str, str]:
        local = self.clock.now().astimezone(CHINA)
        return local.strftime("%Y%m%d"), local.strftime("%H:%M:%S")

    def _order_fields(self, order: FakeOrder) -> dict[str, object]:
        date, time = self._now_fields()
        return {
            **order.fields,
            "OrderSysID": order.sys_id, "OrderStatus": order.status,
            "OrderSubmitStatus": order.submit, "VolumeTraded": order.traded,
            "VolumeTotal": order.volume - order.traded, "StatusMsg": order.message,
            "InsertDate": date, "InsertTime": time, "TradingDay": self.trading_day,
        }  # fmt: skip

    def _rtn_order(self, order: FakeOrder) -> None:
        fields = self._order_fields(order)
        if self.faults.unmapped_status is not None:
            fields["OrderStatus"], self.faults.unmapped_status = self.faults.unmapped_status, None
        self._push(Call("OnRtnOrder", (self._t("CThostFtdcOrderField", fields),)))

    # -- orders --------------------------------------------------------------------------
    def _closable(self, cid: ContractId, book: str, bucket: str) -> int:
        return self.books[cid][f"{book}_{bucket}"] - self.frozen[(cid, f"{book}_{bucket}")]

    def _close_buckets(self, inst: FakeInstrument, book: str, offset: str, lots: int) -> list[tuple[str, int]] | tuple[int, str]:
        """Where a close takes its lots from, or the CTP error when it cannot."""
        cid = inst.contract_id
        if inst.exchange_id in SPLITS:
            bucket = "today" if offset == "3" else "yesterday"
            if self._closable(cid, book, bucket) < lots:
                error = {"3": 50, "4": 51}.get(offset, 30)
                words = {50: "平今仓位不足", 51: "平昨仓位不足", 30: "平仓量超过持仓量"}[error]
                return error, f"CTP:{words}"
            return [(f"{book}_{bucket}", lots)]
        yesterday = min(lots, self._closable(cid, book, "yesterday"))
        if yesterday + self._closable(cid, book, "today") < lots:
            return 30, "CTP:平仓量超过持仓量"
        return [(f"{book}_yesterday", yesterday), (f"{book}_today", lots - yesterday)]

    def insert_order(self, session: FakeTraderApi, field: Any, rid: int) -> int:  # noqa: C901, PLR0911 - CTP's checks in its order
        self.requests["insert_order"] += 1
        if (code := self._gate(session)) is not None:
            return code
        fields = {name: getattr(field, name) for name in (
            "BrokerID", "InvestorID", "UserID", "InstrumentID", "ExchangeID", "OrderRef",
            "OrderPriceType", "Direction", "CombOffsetFlag", "CombHedgeFlag", "LimitPrice",
            "VolumeTotalOriginal", "TimeCondition", "VolumeCondition", "MinVolume",
            "ContingentCondition", "ForceCloseReason",
        )}  # fmt: skip
        fields.update(FrontID=session.front_id, SessionID=session.session_id, RequestID=rid)
        echo = self._t("CThostFtdcInputOrderField", {k: v for k, v in fields.items()
                                                     if k not in ("FrontID", "SessionID")})
        key = ClientOrderId(f"{session.front_id}:{session.session_id}:{field.OrderRef}")
        inst = self._by_symbol.get(field.InstrumentID)
        offset = str(field.CombOffsetFlag)[:1]
        side = Side.BUY if field.Direction == "0" else Side.SELL
        error: tuple[int, str] | None = None
        buckets: list[tuple[str, int]] = []
        if self.faults.insert_errors:
            error = self.faults.insert_errors.popleft()
        elif inst is None:
            error = (16, "CTP:找不到合约")
        elif self.confirmed_day != self.trading_day:
            error = (42, "CTP:结算结果未确认")
        elif key in self.orders:
            error = (22, "CTP:报单错误：不允许重复报单")
        elif offset != "0":
            found = self._close_buckets(inst, "short" if side is Side.BUY else "long", offset, field.VolumeTotalOriginal)
            if isinstance(found, tuple):
                error = found
            else:
                buckets = found
        if error is not None or inst is None:
            self._insert_error(session, echo, rid, error or (16, "CTP:找不到合约"))
            return 0
        order = FakeOrder(key, session, fields, inst, side, offset, int(field.VolumeTotalOriginal),
                          float(field.LimitPrice))  # fmt: skip
        if self.faults.exchange_rejects:
            self.orders[key] = order
            self._rtn_order(order)
            order.status, order.submit = "5", "4"
            order.message = f"已撤单报单被拒绝{inst.exchange_id}:{self.faults.exchange_rejects.popleft()}"
            self._rtn_order(order)
            return 0
        spec = inst.spec.contract
        ticks = spec.round_to_ticks(Decimal(repr(order.price)))
        tif = TimeInForce.DAY
        if field.TimeCondition == "1":
            tif = TimeInForce.FOK if field.VolumeCondition == "3" else TimeInForce.IOC
        self.exchange.submit(
            BrokerOrder(client_order_id=key, contract_id=inst.contract_id, side=side,
                        quantity=order.volume, order_type=OrderType.LIMIT,
                        created=self.clock.now(), time_in_force=tif, limit_ticks=ticks)
        )  # fmt: skip
        events = self.exchange.poll_events()
        first = next((e for e in events if e.client_order_id == key), None)
        if isinstance(first, Rejected) and first.reason is Reason.INSUFFICIENT_MARGIN:
            self._insert_error(session, echo, rid, (31, "CTP:资金不足"))
            self._translate([e for e in events if e is not first])
            return 0
        self.orders[key] = order
        order.frozen = [(b, n) for b, n in buckets if n]
        for bucket, lots in order.frozen:
            self.frozen[(inst.contract_id, bucket)] += lots
        self._rtn_order(order)
        self._translate(events)
        return 0

    def _insert_error(self, session: FakeTraderApi, echo: Struct, rid: int, error: tuple[int, str]) -> None:
        info = self._info(*error)
        session.deliver(Call("OnRspOrderInsert", (echo, info, rid, True)))
        session.deliver(Call("OnErrRtnOrderInsert", (echo, info)))

    def order_action(self, session: FakeTraderApi, field: Any, rid: int) -> int:
        self.requests["order_action"] += 1
        if (code := self._gate(session)) is not None:
            return code
        target = None
        if field.OrderSysID:
            target = next((o for o in self.orders.values()
                           if o.sys_id == field.OrderSysID and o.instrument.exchange_id == field.ExchangeID), None)  # fmt: skip
        else:
            key = ClientOrderId(f"{field.FrontID}:{field.SessionID}:{field.OrderRef}")
            target = self.orders.get(key)
        echo = self._t("CThostFtdcInputOrderActionField", {
            "BrokerID": field.BrokerID, "InvestorID": field.InvestorID, "FrontID": field.FrontID,
            "SessionID": field.SessionID, "OrderRef": field.OrderRef, "ExchangeID": field.ExchangeID,
            "OrderSysID": field.OrderSysID, "InstrumentID": field.InstrumentID, "ActionFlag": "0",
        })  # fmt: skip
        if target is None or not target.working:
            error = (25, "CTP:撤单找不到相应报单") if target is None else (26, "CTP:报单已全成交或已撤销，不能再撤")
            info = self._info(*error)
            session.deliver(Call("OnRspOrderAction", (echo, info, rid, True)))
            session.deliver(Call("OnErrRtnOrderAction", (self._t("CThostFtdcOrderActionField", {
                "FrontID": field.FrontID, "SessionID": field.SessionID, "OrderRef": field.OrderRef,
                "ExchangeID": field.ExchangeID, "OrderSysID": field.OrderSysID,
                "InstrumentID": field.InstrumentID, "StatusMsg": error[1],
            }), info)))  # fmt: skip
            return 0
        self.exchange.cancel(target.key)
        self._translate(self.exchange.poll_events())
        return 0

    # -- the exchange's reports into CTP's ---------------------------------------------------
    def _translate(self, events: list[VenueEvent]) -> None:
        for event in events:
            order = self.orders.get(event.client_order_id)
            if order is None:
                continue
            if isinstance(event, Acknowledged):
                self._accept(order)
            elif isinstance(event, FillReport):
                self._fill(order, event.fill.quantity, event.fill.price_ticks)
            elif isinstance(event, Canceled | Expired):
                self._accept(order)
                order.status, order.message = "5", "已撤单"
                self._release(order)
                self._rtn_order(order)
            elif isinstance(event, Rejected):
                order.status, order.submit = "5", "4"
                words = REJECT_TEXT.get(event.reason, event.message)
                order.message = f"已撤单报单被拒绝{order.instrument.exchange_id}:{words}"
                self._release(order)
                self._rtn_order(order)
            elif isinstance(event, CancelRejected):
                pass  # the counter answers refused cancels itself (order_action)

    def _accept(self, order: FakeOrder) -> None:
        if order.sys_id:
            return
        order.sys_id = f"{next(self._sys_ids):>12d}"
        order.status, order.submit, order.message = "3", "3", "未成交"
        self._rtn_order(order)

    def _release(self, order: FakeOrder) -> None:
        for bucket, lots in order.frozen:
            self.frozen[(order.instrument.contract_id, bucket)] -= lots
        order.frozen = []

    def _fill(self, order: FakeOrder, lots: int, ticks: int) -> None:
        self._accept(order)
        order.traded += lots
        if order.status != "5":
            done = order.traded >= order.volume
            order.status = "0" if done else "1"
            order.message = "全部成交报单已提交" if done else "部分成交"
        self._rtn_order(order)
        book = self.books[order.instrument.contract_id]
        if order.offset == "0":
            book[f"{'long' if order.side is Side.BUY else 'short'}_today"] += lots
        else:
            left = lots
            for bucket, held in list(order.frozen):
                used = min(held, left)
                book[bucket] -= used
                self.frozen[(order.instrument.contract_id, bucket)] -= used
                left -= used
                order.frozen.remove((bucket, held))
                if held - used:
                    order.frozen.append((bucket, held - used))
        date, time = self._now_fields()
        trade = {
            "BrokerID": self.broker_id, "InvestorID": self.user_id,
            "InstrumentID": order.instrument.instrument_id,
            "ExchangeID": order.instrument.exchange_id,
            "TradeID": f"{next(self._trade_ids):>12d}", "Direction": order.fields["Direction"],
            "OrderSysID": order.sys_id, "OrderRef": order.fields["OrderRef"],
            "OffsetFlag": order.offset, "HedgeFlag": "1",
            "Price": float(order.instrument.spec.contract.from_ticks(ticks)), "Volume": lots,
            "TradeDate": date, "TradeTime": time, "TradingDay": self.trading_day,
        }  # fmt: skip
        self.trades.append(trade)
        call = Call("OnRtnTrade", (self._t("CThostFtdcTradeField", trade),))
        self._push(call)
        if self.faults.duplicate_trades:
            self.faults.duplicate_trades -= 1
            self._push(call)

    # -- market data and the exchange -----------------------------------------------------
    def md_login(self, session: FakeMdApi, rid: int) -> int:
        if not session.connected:
            return -1
        session.logged_in = True
        login = Struct(self.binding.md.CThostFtdcRspUserLoginField, {"TradingDay": self.trading_day})
        info = Struct(self.binding.md.CThostFtdcRspInfoField, {"ErrorID": 0, "ErrorMsg": ""})
        session.deliver(Call("OnRspUserLogin", (login, info, rid, True)))
        return 0

    def md_subscribe(self, session: FakeMdApi, symbols: list[str]) -> int:
        if not session.logged_in:
            return -1
        session.subscribed.update(symbols)
        for symbol in symbols:
            inst = self._by_symbol.get(symbol)
            if inst is not None and self.markets[inst.contract_id].bid is not None:
                session.deliver(Call("OnRtnDepthMarketData", (self._depth(inst),)))
        return 0

    def band(self, cid: ContractId) -> tuple[int, int] | None:
        market = self.markets[cid]
        centre = market.reference
        if centre is None:
            return None
        spec = self.instruments[cid].spec.contract
        width = int(abs(centre) * (spec.price_band or self.default_band))
        return centre - width, centre + width

    def _depth(self, inst: FakeInstrument) -> Struct:
        market = self.markets[inst.contract_id]
        spec = inst.spec.contract
        band = self.band(inst.contract_id)

        def price(ticks: int | None) -> float:
            return DBL_MAX if ticks is None else float(spec.from_ticks(ticks))

        local = self.clock.now().astimezone(CHINA)
        fields = {
            "InstrumentID": inst.instrument_id, "ExchangeID": inst.exchange_id,
            "BidPrice1": price(market.bid), "AskPrice1": price(market.ask),
            "BidVolume1": market.bid_size if market.bid is not None else 0,
            "AskVolume1": market.ask_size if market.ask is not None else 0,
            "LastPrice": price(market.last),
            "UpperLimitPrice": price(band[1] if band else None),
            "LowerLimitPrice": price(band[0] if band else None),
            "PreSettlementPrice": price(market.reference),
            "SettlementPrice": DBL_MAX, "UpdateTime": local.strftime("%H:%M:%S"),
            "UpdateMillisec": local.microsecond // 1000, "TradingDay": self.trading_day,
            "ActionDay": local.strftime("%Y%m%d"),
        }  # fmt: skip
        return Struct(self.binding.md.CThostFtdcDepthMarketDataField, fields)

    def _publish(self, cid: ContractId) -> None:
        inst = self.instruments[cid]
        for session in self.md_sessions:
            if inst.instrument_id in session.subscribed:
                session.deliver(Call("OnRtnDepthMarketData", (self._depth(inst),)))

    def set_quote(self, cid: ContractId, bid: int | None, ask: int | None,
                  bid_size: int = 10, ask_size: int = 10) -> None:  # fmt: skip
        """A new top of book (``None``: that side is empty); resting orders match."""
        market = self.markets[cid]
        market.bid, market.ask, market.bid_size, market.ask_size = bid, ask, bid_size, ask_size
        if market.reference is None and bid is not None and ask is not None:
            self.set_reference_price(cid, (bid + ask) // 2)
        if bid is not None and ask is not None:
            from bastion.testing.venue_stubs import quote

            self.exchange.on_quote(quote(bid, ask, bid_size=bid_size, ask_size=ask_size,
                                         at=self.clock.now(), contract_id=cid))  # fmt: skip
        self._publish(cid)
        self._translate(self.exchange.poll_events())

    def print_trade(self, cid: ContractId, price: int, size: int) -> None:
        from bastion.testing.venue_stubs import trade

        self.markets[cid].last = price
        self.exchange.on_trade(trade(price, size, at=self.clock.now(), contract_id=cid))
        self._publish(cid)
        self._translate(self.exchange.poll_events())

    def set_reference_price(self, cid: ContractId, ticks: int) -> None:
        """The previous settlement: the centre of the day's limits."""
        self.markets[cid].reference = ticks
        self.exchange.set_reference_price(cid, ticks)
        self._publish(cid)

    def _status_struct(self, product: str, status: str) -> Struct:
        inst = next((i for i in self.instruments.values() if i.spec.contract.symbol_root == product), None)
        fields = {"InstrumentID": product, "ExchangeID": inst.exchange_id if inst else "",
                  "InstrumentStatus": status, "EnterTime": self._now_fields()[1]}  # fmt: skip
        return self._t("CThostFtdcInstrumentStatusField", fields)

    def set_status(self, product: str, status: str) -> None:
        """A product's trading phase (``2`` continuous, ``6`` closed, ``1`` no trading)."""
        self.status[product] = status
        call = Call("OnRtnInstrumentStatus", (self._status_struct(product, status),))
        for session in self.sessions:
            if session.logged_in:
                session.deliver(call)

    def set_session_open(self, is_open: bool) -> None:
        self.session_open = is_open
        for product in {i.spec.contract.symbol_root for i in self.instruments.values()}:
            self.set_status(product, "2" if is_open else "6")

    def halt(self, cid: ContractId) -> None:
        self.exchange.halt(cid)
        self.set_status(self.instruments[cid].spec.contract.symbol_root, "1")

    def end_of_day(self) -> None:
        """The close: the exchange's day orders end (CTP shows them canceled)."""
        for product in {i.spec.contract.symbol_root for i in self.instruments.values()}:
            self.set_status(product, "6")
        self.exchange.end_of_day()
        self._translate(self.exchange.poll_events())

    def advance(self) -> None:
        self.exchange.advance()
        self._translate(self.exchange.poll_events())

    def roll_day(self, trading_day: str) -> None:
        """A new trading day: today's books become yesterday's, the flow starts empty,
        settlement must be confirmed again."""
        self.end_of_day()
        for book in self.books.values():
            for side in ("long", "short"):
                book[f"{side}_yesterday"] += book[f"{side}_today"]
                book[f"{side}_today"] = 0
        self.trading_day = trading_day
        self.flow.clear()
        self.orders.clear()
        self.trades.clear()
        self.set_session_open(True)
