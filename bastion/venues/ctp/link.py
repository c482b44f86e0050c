"""The connection half of the CTP adapter: login sequence, requests, queries, pacing.

Everything CTP sends arrives in one ``Inbox`` (``spi``) and is applied on the caller's
thread by ``pump``, so the adapter's state has one writer and needs no lock. Waiting for
an answer is pumping until it came, or until a timeout: a front that never answers gives
"unknown", never "nothing".

The login sequence (``login_sequence``, at ``connect`` and again after CTP reconnects by
itself) is the one VENUES.md gives, each step waited for and recorded with its time for
the probe (R8.1):

1. front connected (a silent front fails after ``connect_timeout`` with a diagnosis);
2. ``ReqAuthenticate`` (AppID / AuthCode, product info) → trading authentication;
3. ``ReqUserLogin`` (terminal fields from the profile) → trading login: FrontID,
   SessionID, MaxOrderRef and the trading day;
4. settlement confirmation, once per trading day (queried first; confirmed only when not
   yet confirmed for this trading day);
5. recovery (the subclass): the day's orders and trades (RESTART replay, then a query of
   each to be sure nothing is missing), contracts, positions, account.

Requests return 0, -1, -2 or -3; -2/-3 are retried with backoff (``flow_retries``,
doubling from ``flow_backoff``) and never read as "no data". Queries are one at a time
(a lock) and paced to the front's declared rate (``GetFrontInfo``), ErrorID 90 ("query
not ready") is retried like -2/-3.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bastion.clock import Clock
from bastion.venues.ctp import parsing as p
from bastion.venues.ctp.codes import ResumeType
from bastion.venues.ctp.config import CtpConfig
from bastion.venues.ctp.errors import (
    RETRY_CODES,
    describe_disconnect,
    describe_return_code,
    diagnose_error,
    diagnose_silent_front,
)
from bastion.venues.ctp.port import CtpMdPort, CtpTraderPort
from bastion.venues.ctp.runtime import Binding
from bastion.venues.ctp.spi import CallbackFailed, Inbox, md_spi_class, trader_spi_class

__all__ = ["CtpLink", "LoginFailed", "LoginStepRecord"]

log = logging.getLogger("bastion.ctp")

STEPS = (
    "market_login",
    "trading_authentication",
    "trading_login",
    "settlement_confirmation",
    "contracts",
)


@dataclass(frozen=True, slots=True)
class LoginStepRecord:
    name: str
    ok: bool
    at: dt.datetime | None
    detail: str = ""


class LoginFailed(Exception):  # noqa: N818 - internal control flow: a step failed
    pass


class CtpLink:
    """Connection, login and request plumbing; ``CtpVenue`` adds the orders."""

    def __init__(
        self,
        config: CtpConfig,
        binding: Binding,
        clock: Clock,
        trader_port: Callable[[], CtpTraderPort],
        md_port: Callable[[], CtpMdPort] | None,
    ) -> None:
        self.config = config
        self.binding = binding
        self.clock = clock
        self._make_trader = trader_port
        self._make_md = md_port
        self.inbox = Inbox()
        self._trader: CtpTraderPort | None = None
        self._md: CtpMdPort | None = None
        self._spi: Any = None
        self._md_spi: Any = None
        self._ids = itertools.count(1)
        self._replies: dict[int, list[p.QueryReply]] = {}
        self._answers: dict[int, object] = {}
        self._query_lock = threading.Lock()
        self._next_query_at = 0.0
        self._query_rate = config.default_query_rate
        self.order_rate = 5.0
        self.front_up = False
        self.md_up = False
        self.ready = False
        self._needs_login = False
        self._in_login = False
        self._connected_at: float | None = None
        self.connection_epoch = 0
        self.last_heard: dt.datetime | None = None
        """When the front last sent anything, on the engine's clock (``clock``)."""
        self.clock_skew: dt.timedelta | None = None
        """The exchange's clock minus ours (``clock``): from SHFETime at login, then from
        each fresh market-data tick (``note_exchange_time``); ``None`` while unknown or
        when ``config.compare_clock`` is off."""
        self._tick_stamps: dict[str, tuple[str, int]] = {}
        """Each contract's last tick time (UpdateTime, UpdateMillisec) since the market
        login: a tick whose time moved is fresh (``CtpVenue._tick_time``)."""
        self.exchange_seen: str = ""
        """The last exchange time read (``HH:MM:SS``), for the probe and the logs."""
        self.last_disconnect_reason = ""
        self.front_id = 0
        self.session_id = 0
        self.max_order_ref = 0
        self.trading_day = ""
        self.steps: dict[str, LoginStepRecord] = {}
        self.problems: list[str] = []
        self.flow_retries_used = 0

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def trader(self) -> CtpTraderPort:
        """The trader API; only used after ``start`` (a login failed otherwise)."""
        if self._trader is None:
            raise LoginFailed(f"{self.config.name}: the trader API is not started")
        return self._trader

    # -- the inbox ------------------------------------------------------------------------
    def pump(self, until: Callable[[], bool] | None = None, timeout: float = 0.0) -> bool:
        """Apply everything CTP sent; with ``until``, keep waiting (up to ``timeout`` s)
        until it holds. Whether it holds (True when there is no condition)."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.inbox.take_all()
            for record in records:
                self._dispatch(record)
            if self._needs_login and not self._in_login:
                self._needs_login = False
                self._relogin()
            if records:
                continue  # what was applied may have answered at once: drain to empty
            if until is None or until():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.inbox.wait(left)

    def _dispatch(self, record: object) -> None:
        self.last_heard = self.clock.now()
        if isinstance(record, p.QueryReply):
            self._replies.setdefault(record.request_id, []).append(record)
            if record.is_last:
                self._answers[record.request_id] = record
        elif isinstance(record, p.LoggedIn):
            self._answers[record.request_id] = record
            if record.error.ok:
                # Before anything after it: the RESTART replay follows the login answer at
                # once, and must meet this session's ids and the trading day's order map.
                self.front_id, self.session_id = record.front_id, record.session_id
                self.trading_day = record.trading_day
                self.note_exchange_time(record.shfe_time, 0)
                self.begin_session()
        elif isinstance(record, p.Authenticated | p.SettlementConfirmed):
            self._answers[record.request_id] = record
        elif isinstance(record, p.MdLoggedIn):
            self._on_md_login(record)
        elif isinstance(record, p.FrontConnected):
            self._on_front_connected(record)
        elif isinstance(record, p.FrontDisconnected):
            self._on_front_disconnected(record)
        elif isinstance(record, CallbackFailed):
            self.problems.append(
                f"CTP callback {record.callback} could not be read: {record.error}"
            )
            log.error("CTP callback %s could not be read: %s", record.callback, record.error)
        else:
            self.apply(record)

    def note_exchange_time(self, exchange_time: str, millis: int) -> None:
        """The exchange's clock as CTP reported it just now (``HH:MM:SS`` in Shanghai,
        and milliseconds), against ours. A time that cannot be read leaves the skew as it
        was; with ``compare_clock`` off it is only kept for the logs."""
        self.exchange_seen = exchange_time
        if not self.config.compare_clock:
            return
        skew = exchange_skew(exchange_time, self.clock.now())
        if skew is not None:
            self.clock_skew = skew + dt.timedelta(milliseconds=millis)

    def apply(self, record: object) -> None:
        """Orders, trades, quotes and statuses: the subclass applies them."""

    def begin_session(self) -> None:
        """A login answer arrived (ids and trading day set): the subclass prepares."""

    # -- front connection ---------------------------------------------------------------
    def _on_front_connected(self, record: p.FrontConnected) -> None:
        if record.md:
            self._md_login()
            return
        was_up = self.front_up
        self.front_up = True
        self._connected_at = time.monotonic()
        if not was_up and self.connection_epoch > 0 and not self._in_login:
            self._needs_login = True  # CTP reconnected by itself: log in again

    def _on_front_disconnected(self, record: p.FrontDisconnected) -> None:
        connected_for = (
            None if self._connected_at is None else time.monotonic() - self._connected_at
        )
        why = describe_disconnect(record.reason, connected_for=connected_for)
        if record.md:
            self.md_up = False
            self._step("market_login", ok=False, detail=f"market data {why}")
            return
        self.front_up = False
        if self.ready:
            log.warning("CTP %s: %s", self.config.name, why)
        self.ready = False
        self.last_disconnect_reason = why

    def start(self) -> None:
        """Create the APIs and start them (once); the fronts answer through the inbox."""
        if self._trader is None:
            self._trader = self._make_trader()
            self._spi = trader_spi_class(self.binding)(self.inbox)
            self._trader.start(self._spi, [self.config.front], ResumeType.RESTART)
        if self._md is None and self._make_md is not None and self.config.md_front:
            self._md = self._make_md()
            self._md_spi = md_spi_class(self.binding)(self.inbox)
            self._md.start(self._md_spi, [self.config.md_front])

    def stop(self) -> None:
        for port in (self._md, self._trader):
            if port is not None:
                port.stop()
        self._md = self._trader = None
        self._spi = self._md_spi = None
        self.front_up = self.md_up = self.ready = False

    # -- the login sequence --------------------------------------------------------------
    def _step(self, name: str, *, ok: bool, detail: str = "") -> None:
        self.steps[name] = LoginStepRecord(name, ok, self.clock.now(), detail)

    def login_sequence(self) -> bool:
        """Run every step; whether the venue is ready to trade. Never raises."""
        self._in_login = True
        failure = ""
        try:
            self._wait_front()
            self._authenticate()
            self._login()
            self._confirm_settlement()
            self.after_login()
        except LoginFailed as failed:
            failure = str(failed)
        finally:
            self._in_login = False
        if failure:
            self.ready = False
            self.last_disconnect_reason = failure
            log.error("CTP %s: %s", self.config.name, failure)
            return False
        self.ready = True
        self.connection_epoch += 1
        log.info("CTP %s: ready (epoch %d)", self.config.name, self.connection_epoch)
        return True

    def _wait_front(self) -> None:
        if not self.pump(lambda: self.front_up, self.config.connect_timeout):
            why = diagnose_silent_front(self.config.front, self.config.connect_timeout)
            self._step("trading_authentication", ok=False, detail=why)
            raise LoginFailed(why)

    def _relogin(self) -> None:
        self.login_sequence()

    def after_login(self) -> None:
        """Recovery after a login (the subclass); raise ``LoginFailed`` to fail closed."""

    def _answer(self, step: str, send: Callable[[Any, int], int], field: Any) -> Any:
        rid = next(self._ids)
        code = self._send(send, field, rid)
        if code != 0:
            raise LoginFailed(f"{step}: request not sent ({describe_return_code(code)})")
        if not self.pump(lambda: rid in self._answers, self.config.connect_timeout):
            raise LoginFailed(
                f"{step}: no answer within {self.config.connect_timeout:g} s"
                f" ({self.last_disconnect_reason or 'the front stayed silent'})"
            )
        return self._answers.pop(rid)

    def _fail(self, step: str, label: str, error: p.RspInfo) -> None:
        why = diagnose_error(label, error.error_id, error.message)
        self._step(step, ok=False, detail=why)
        raise LoginFailed(why)

    def _authenticate(self) -> None:
        t = self.binding.trader
        field = t.CThostFtdcReqAuthenticateField()
        field.BrokerID = self.config.broker_id
        field.UserID = self.config.user_id
        field.AppID = self.config.app_id
        field.AuthCode = self.config.auth_code.reveal() if self.config.auth_code else ""
        field.UserProductInfo = self.config.product_info
        answer: p.Authenticated = self._answer("authentication", self.trader.authenticate, field)
        if not answer.error.ok:
            self._fail("trading_authentication", "trading authentication", answer.error)
        self._step("trading_authentication", ok=True, detail=f"AppID {self.config.app_id}")

    def _login(self) -> None:
        t = self.binding.trader
        field = t.CThostFtdcReqUserLoginField()
        field.BrokerID = self.config.broker_id
        field.UserID = self.config.user_id
        field.Password = self.config.password.reveal()
        field.UserProductInfo = self.config.product_info
        if self.config.client_ip:
            field.ClientIPAddress = self.config.client_ip
        if self.config.client_port is not None:
            field.ClientIPPort = self.config.client_port
        if self.config.mac_address:
            field.MacAddress = self.config.mac_address
        if self.config.login_remark:
            field.LoginRemark = self.config.login_remark
        answer: p.LoggedIn = self._answer("login", self.trader.login, field)
        if not answer.error.ok:
            self._fail("trading_login", "trading login", answer.error)
        ref = answer.max_order_ref
        self.max_order_ref = max(self.max_order_ref, int(ref) if ref.isdigit() else 0)
        queries, orders = self.trader.front_limits()
        if queries > 0:
            self._query_rate = float(queries)
        if orders > 0:
            self.order_rate = float(orders)
        self._step(
            "trading_login",
            ok=True,
            detail=f"trading day {self.trading_day}, front {self.front_id},"
            f" session {self.session_id}",
        )

    def _confirm_settlement(self) -> None:
        t = self.binding.trader
        query = t.CThostFtdcQrySettlementInfoConfirmField()
        query.BrokerID = self.config.broker_id
        query.InvestorID = self.config.user_id
        rows = self.query("settlement confirmation", self.trader.query_settlement_confirm, query)
        if isinstance(rows, str):
            self._step("settlement_confirmation", ok=False, detail=rows)
            raise LoginFailed(rows)
        dates = {r.confirm_date for r in rows if isinstance(r, p.SettlementRow)}
        if self.trading_day in dates:
            self._step("settlement_confirmation", ok=True, detail="already confirmed today")
            return
        field = t.CThostFtdcSettlementInfoConfirmField()
        field.BrokerID = self.config.broker_id
        field.InvestorID = self.config.user_id
        answer: p.SettlementConfirmed = self._answer(
            "settlement confirmation", self.trader.confirm_settlement, field
        )
        if not answer.error.ok:
            self._fail("settlement_confirmation", "settlement confirmation", answer.error)
        self._step("settlement_confirmation", ok=True, detail=f"confirmed {answer.confirm_date}")

    # -- market data login -------------------------------------------------------------
    def _md_login(self) -> None:
        if self._md is None:
            return
        field = self.binding.md.CThostFtdcReqUserLoginField()
        field.BrokerID = self.config.broker_id
        field.UserID = self.config.user_id
        field.Password = self.config.password.reveal()
        rid = next(self._ids)
        code = self._md.login(field, rid)
        if code != 0:
            self._step("market_login", ok=False, detail=describe_return_code(code))

    def _on_md_login(self, record: p.MdLoggedIn) -> None:
        if not record.error.ok:
            detail = diagnose_error("market login", record.error.error_id, record.error.message)
            self._step("market_login", ok=False, detail=detail)
            return
        self.md_up = True
        self._tick_stamps.clear()  # the first tick of each contract is a snapshot again
        symbols = self.market_symbols()
        code = self._md.subscribe(symbols) if self._md is not None else -1
        self._step(
            "market_login",
            ok=code == 0,
            detail=f"subscribed {', '.join(symbols) or 'nothing'}"
            if code == 0
            else f"subscribe failed: {describe_return_code(code)}",
        )

    def market_symbols(self) -> list[str]:
        return []

    # -- requests and queries ----------------------------------------------------------
    def _send(self, send: Callable[[Any, int], int], field: Any, rid: int) -> int:
        """Send once, retrying flow control (-2/-3) with backoff; the last code."""
        delay = self.config.flow_backoff
        code = send(field, rid)
        for _ in range(self.config.flow_retries):
            if code not in RETRY_CODES:
                return code
            self.flow_retries_used += 1
            time.sleep(delay)
            delay *= 2
            code = send(field, rid)
        return code

    def query(self, what: str, send: Callable[[Any, int], int], field: Any) -> list[p.Row] | str:
        """One query's rows, or why there are none: never an empty list for a failure."""
        if not self.front_up:
            return f"{what}: {self.config.name} is disconnected"
        with self._query_lock:
            for _ in range(self.config.flow_retries + 1):
                wait = self._next_query_at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self._next_query_at = time.monotonic() + 1.0 / self._query_rate
                rid = next(self._ids)
                code = self._send(send, field, rid)
                if code != 0:
                    return f"{what}: {describe_return_code(code)}"
                if not self.pump(
                    functools.partial(self._answers.__contains__, rid), self.config.query_timeout
                ):
                    self._replies.pop(rid, None)
                    return f"{what}: no answer within {self.config.query_timeout:g} s"
                self._answers.pop(rid, None)
                replies = self._replies.pop(rid, [])
                errors = [r.error for r in replies if not r.error.ok]
                if errors and errors[0].error_id == 90:  # query not ready: flow control
                    self.flow_retries_used += 1
                    time.sleep(self.config.flow_backoff)
                    continue
                if errors:
                    e = errors[0]
                    return f"{what} refused: CTP ErrorID {e.error_id} ({e.message})"
                return [r.row for r in replies if r.row is not None]
            return f"{what}: the front kept answering 'not ready' (flow control)"

    def next_request_id(self) -> int:
        return next(self._ids)


_SHANGHAI = ZoneInfo("Asia/Shanghai")


def exchange_skew(shfe_time: str, now: dt.datetime) -> dt.timedelta | None:
    """SHFETime (``HH:MM:SS`` in Shanghai) minus ``now``; ``None`` when absent or not a
    time. The nearest date is taken, so a login around midnight reads right."""
    try:
        clock = dt.time.fromisoformat(shfe_time.strip())
    except ValueError:
        return None
    local = now.astimezone(_SHANGHAI)
    candidates = [
        dt.datetime.combine(local.date() + dt.timedelta(days=d), clock, tzinfo=_SHANGHAI)
        for d in (-1, 0, 1)
    ]
    return min((c - now for c in candidates), key=abs)
