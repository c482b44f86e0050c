"""The fake counter's core: its state, logins, queries and the private flow (the counter
is described in ``counter``)."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bastion.clock import Clock
from bastion.domain.enums import Side
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.reasons import Reason
from bastion.marketdata.specs import MarketSpec, venue_symbol
from bastion.testing.fake_ctp.ports import Call, FakeMdApi, FakeTraderApi, Struct
from bastion.venues.ctp.runtime import Binding, load_binding
from bastion.venues.sim.config import SimVenueConfig
from bastion.venues.sim.execution import SimVenue

__all__ = ["FakeCounterCore", "FakeFaults", "FakeInstrument", "FakeOrder"]

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


class FakeCounterCore:
    """One investor's account at a fake CTP counter, with an exchange behind it."""

    def __init__(
        self,
        instruments: dict[ContractId, MarketSpec],
        clock: Clock,
        *,
        broker_id: str = "9999",
        user_id: str = "000001",
        password: str = "fake-pass",  # noqa: S107 - the fake counter's own test login
        app_id: str = "",
        auth_code: str = "",
        sim_config: SimVenueConfig | None = None,
        default_band: Decimal = Decimal("0.1"),
        threaded: bool = False,
        binding: Binding | None = None,
    ) -> None:
        self.binding = binding or load_binding()
        self.clock = clock
        self.clock_offset = dt.timedelta(0)
        """How far the fake exchange's clock is from the test's (a skew fault)."""
        self.broker_id, self.user_id, self.password = broker_id, user_id, password
        self.app_id, self.auth_code = app_id, auth_code
        self.threaded = threaded
        self.default_band = default_band
        self.instruments: dict[ContractId, FakeInstrument] = {}
        for cid, spec in instruments.items():
            symbol = venue_symbol(spec, cid.split("/", 1)[1][:6])
            self.instruments[cid] = FakeInstrument(cid, symbol, spec.exchange, spec)
        self._by_symbol = {i.instrument_id: i for i in self.instruments.values()}
        config = sim_config or SimVenueConfig(name="exchange", currency="CNY")  # a CTP account
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
    def _t(self, name: str, fields: Mapping[str, object]) -> Struct:
        return Struct(getattr(self.binding.trader, name), dict(fields))

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
        if (
            error is None
            and self.app_id
            and (field.AppID != self.app_id or field.AuthCode != self.auth_code)
        ):
            error = (63, "CTP:客户端认证失败")
        info = self._info(*error) if error else self._info()
        fields = {"BrokerID": self.broker_id, "UserID": field.UserID, "AppID": field.AppID}
        session.deliver(
            Call(
                "OnRspAuthenticate",
                (self._t("CThostFtdcRspAuthenticateField", fields), info, rid, True),
            )
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
        exchange_now = self.exchange_now().astimezone(CHINA)
        fields = {
            "BrokerID": self.broker_id,
            "UserID": self.user_id,
            "FrontID": session.front_id,
            "SessionID": session.session_id,
            "MaxOrderRef": str(max(refs, default=0)),
            "TradingDay": self.trading_day,
            "SystemName": "FAKE-CTP",
            "SHFETime": exchange_now.strftime("%H:%M:%S"),
        }
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
        fields = {
            "BrokerID": self.broker_id,
            "InvestorID": self.user_id,
            "ConfirmDate": self.trading_day,
            "ConfirmTime": "09:00:00",
        }
        confirm = self._t("CThostFtdcSettlementInfoConfirmField", fields)
        session.deliver(Call("OnRspSettlementInfoConfirm", (confirm, self._info(), rid, True)))
        return 0

    # -- queries ----------------------------------------------------------------------------
    def query(self, session: FakeTraderApi, kind: str, rid: int, arg: str = "") -> int:
        self.requests[f"query_{kind}"] += 1
        if (code := self._gate(session)) is not None:
            return code
        method = {
            "settlement": "OnRspQrySettlementInfoConfirm",
            "account": "OnRspQryTradingAccount",
            "positions": "OnRspQryInvestorPosition",
            "orders": "OnRspQryOrder",
            "trades": "OnRspQryTrade",
            "instrument": "OnRspQryInstrument",
        }[kind]
        if self.faults.not_ready_queries:
            self.faults.not_ready_queries -= 1
            session.deliver(
                Call(method, (None, self._info(90, "CTP:查询未就绪，请稍后重试"), rid, True))
            )
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
        fields = {
            "BrokerID": self.broker_id,
            "InvestorID": self.user_id,
            "ConfirmDate": self.confirmed_day,
            "ConfirmTime": "09:00:00",
        }
        return [self._t("CThostFtdcSettlementInfoConfirmField", fields)]

    def _rows_account(self, _arg: str) -> list[Struct]:
        snap = self.exchange.account().value
        assert snap is not None  # noqa: S101 - the exchange is always connected
        fields = {
            "BrokerID": self.broker_id,
            "AccountID": self.user_id,
            "CurrencyID": "CNY",
            "Balance": float(snap.equity),
            "CurrMargin": float(snap.margin_used),
            "Available": float(snap.margin_available),
            "Commission": float(snap.commissions),
            "TradingDay": self.trading_day,
        }
        return [self._t("CThostFtdcTradingAccountField", fields)]

    def _rows_positions(self, _arg: str) -> list[Struct]:
        rows = []
        for cid, book in self.books.items():
            inst = self.instruments[cid]
            for direction, side in (("2", "long"), ("3", "short")):
                today, yesterday = book[f"{side}_today"], book[f"{side}_yesterday"]
                base = {
                    "InstrumentID": inst.instrument_id,
                    "ExchangeID": inst.exchange_id,
                    "BrokerID": self.broker_id,
                    "InvestorID": self.user_id,
                    "PosiDirection": direction,
                    "HedgeFlag": "1",
                }
                if inst.exchange_id in SPLITS:
                    if today:
                        rows.append(
                            {
                                **base,
                                "PositionDate": "1",
                                "Position": today,
                                "TodayPosition": today,
                                "YdPosition": 0,
                            }
                        )
                    if yesterday:
                        rows.append(
                            {
                                **base,
                                "PositionDate": "2",
                                "Position": yesterday,
                                "TodayPosition": 0,
                                "YdPosition": yesterday,
                            }
                        )
                elif today or yesterday:
                    rows.append(
                        {
                            **base,
                            "PositionDate": "1",
                            "Position": today + yesterday,
                            "TodayPosition": today,
                            "YdPosition": yesterday,
                        }
                    )
        return [self._t("CThostFtdcInvestorPositionField", r) for r in rows]

    def _rows_orders(self, _arg: str) -> list[Struct]:
        return [
            self._t("CThostFtdcOrderField", self._order_fields(o)) for o in self.orders.values()
        ]

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
                    "InstrumentID": inst.instrument_id,
                    "ExchangeID": inst.exchange_id,
                    "ProductID": spec.symbol_root,
                    "PriceTick": float(spec.tick_size),
                    "VolumeMultiple": int(spec.multiplier),
                    "IsTrading": 1,
                }
            )
        return [self._t("CThostFtdcInstrumentField", r) for r in rows]

    # -- the private flow ----------------------------------------------------------------
    def _push(self, call: Call) -> None:
        """A private-flow message: kept for RESTART, sent to every logged-in session."""
        self.flow.append(call)
        for session in self.sessions:
            if session.logged_in:
                session.deliver(call)

    def exchange_now(self) -> dt.datetime:
        """The fake exchange's clock: the test's, off by ``clock_offset``."""
        return self.clock.now() + self.clock_offset

    def _now_fields(self) -> tuple[str, str]:
        local = self.exchange_now().astimezone(CHINA)
        return local.strftime("%Y%m%d"), local.strftime("%H:%M:%S")

    def _order_fields(self, order: FakeOrder) -> dict[str, object]:
        date, time = self._now_fields()
        return {
            **order.fields,
            "OrderSysID": order.sys_id,
            "OrderStatus": order.status,
            "OrderSubmitStatus": order.submit,
            "VolumeTraded": order.traded,
            "VolumeTotal": order.volume - order.traded,
            "StatusMsg": order.message,
            "InsertDate": date,
            "InsertTime": time,
            "TradingDay": self.trading_day,
        }

    def _rtn_order(self, order: FakeOrder) -> None:
        fields = self._order_fields(order)
        if self.faults.unmapped_status is not None:
            fields["OrderStatus"], self.faults.unmapped_status = self.faults.unmapped_status, None
        self._push(Call("OnRtnOrder", (self._t("CThostFtdcOrderField", fields),)))

    def _status_struct(self, product: str, status: str) -> Struct:
        inst = next(
            (i for i in self.instruments.values() if i.spec.contract.symbol_root == product), None
        )
        fields = {
            "InstrumentID": product,
            "ExchangeID": inst.exchange_id if inst else "",
            "InstrumentStatus": status,
            "EnterTime": self._now_fields()[1],
        }
        return self._t("CThostFtdcInstrumentStatusField", fields)
