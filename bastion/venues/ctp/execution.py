"""``CtpVenue``: the ``VenuePort`` over CTP (SimNow, a broker's test front, or live).

The order half of the adapter (``link`` is the connection half). What it guarantees:

- **Order calls return at once**; every outcome comes as an event. A refusal made before
  anything left (disconnected, halted, an order CTP cannot take, a price outside the
  day's band, a closed or halted market, a close the book cannot cover) is a ``Rejected``
  event and ``taken`` False.
- **Offsets**: a net order becomes legs (``offsets.plan_legs``) from the books kept per
  contract (re-based on every position query, moved by this session's trades, minus what
  working closes hold back). One Bastion order is acknowledged once (its first accepted
  leg's ``EXCHANGE:OrderSysID``), fills come per trade, and it ends when every leg has.
- **"Market" orders** are limits ``market_protection_ticks`` through the touch, clamped to
  the day's band (a one-sided book at a limit: the limit itself); without a known band
  they are refused.
- **Trades** map through (ExchangeID, OrderSysID) to the leg, are de-duplicated on
  (ExchangeID, TradeID, Direction), and are Bastion's when the leg is Bastion's, whatever
  session sent it (``orders.OrderMap``); the rest are foreign: reported as fills for no
  Bastion order (the OMS calls them foreign), listed in ``foreign_trades`` and logged.
- **Statuses**: Canceled with InsertRejected is a reject; a status code not in
  ``codes.OrderStatus`` halts the adapter (orders refused, open orders unknown) with the
  report kept in ``problems``, never dropped.
- **Recovery** after every login: the RESTART replay, then queries of the day's orders
  and trades (the same path, de-duplicated), the contract check, positions and account.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bastion.clock import Clock
from bastion.domain.contracts import OffTickError
from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, ExecId
from bastion.domain.market import MarketView
from bastion.domain.orders import BrokerOrder, validate_order_shape
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
from bastion.marketdata.calendars import CalendarCoverageError, china_days
from bastion.venues.ctp import codes
from bastion.venues.ctp import parsing as p
from bastion.venues.ctp.config import CtpConfig
from bastion.venues.ctp.errors import reason_for
from bastion.venues.ctp.instruments import CtpContract, CtpContracts, exchange_time, to_price
from bastion.venues.ctp.link import STEPS, CtpLink
from bastion.venues.ctp.market_data import CtpMarket
from bastion.venues.ctp.offsets import Book, Leg, plan_legs
from bastion.venues.ctp.orders import (
    ClientState,
    LegState,
    OrderMap,
    Triple,
    provisional_id,
    sys_key,
    venue_id_of,
)
from bastion.venues.ctp.port import CtpMdPort, CtpTraderPort
from bastion.venues.ctp.recovery import RecoveryMixin
from bastion.venues.ctp.runtime import Binding
from bastion.venues.login import LoginStep
from bastion.venues.port import OrderApiCounters, OrderCallResult, RateLimits

__all__ = ["CtpVenue", "ref_key"]

log = logging.getLogger("bastion.ctp")

FOREIGN_PREFIX = "ctp-foreign:"
_TIF = {
    TimeInForce.DAY: (codes.TIME_GFD, codes.VOLUME_ANY),
    TimeInForce.IOC: (codes.TIME_IOC, codes.VOLUME_ANY),
    TimeInForce.FOK: (codes.TIME_IOC, codes.VOLUME_ALL),
}
_CLOSED = {codes.InstrumentStatus.CLOSED, codes.InstrumentStatus.BEFORE_TRADING}


def ref_key(order_ref: str) -> str:
    """OrderRef as a key: counters may pad it with spaces or zeros."""
    return order_ref.strip().lstrip("0") or "0"


@functools.cache
def _previous_trading_day(trading_day: str) -> dt.date | None:
    try:
        day = dt.datetime.strptime(trading_day, "%Y%m%d").date()  # noqa: DTZ007 - a date only
        days = china_days()
        for back in range(1, 20):
            candidate = day - dt.timedelta(days=back)
            if days.is_trading_day(candidate):
                return candidate
    except (ValueError, CalendarCoverageError):
        return None
    return None


class CtpVenue(RecoveryMixin, CtpLink):
    def __init__(
        self,
        config: CtpConfig,
        binding: Binding,
        clock: Clock,
        contracts: CtpContracts,
        trader_port: Callable[[], CtpTraderPort],
        md_port: Callable[[], CtpMdPort] | None = None,
    ) -> None:
        super().__init__(config, binding, clock, trader_port, md_port)
        self.contracts = contracts
        self._market = CtpMarket(contracts)
        self._counters = OrderApiCounters()
        self._events: collections.deque[VenueEvent] = collections.deque()
        self.clients: dict[ClientOrderId, ClientState] = {}
        self._by_triple: dict[Triple, LegState] = {}
        self._by_sys: dict[tuple[str, str], LegState] = {}
        self._remembered: dict[str, ClientOrderId] = {}
        self.books: dict[ContractId, Book] = {c.contract_id: Book() for c in contracts.all()}
        self._trade_keys: set[tuple[str, str, str]] = set()
        self.fills: list[Fill] = []
        self.foreign_orders: dict[Triple, p.OrderReport] = {}
        self._foreign_sys: set[tuple[str, str]] = set()
        self.foreign_trades: list[p.TradeReport] = []
        self._parked: list[p.TradeReport] = []
        self.duplicate_trades = 0
        self.halt_reason = ""
        self.order_map = OrderMap(config.order_map_path)
        self._map_size = -1
        self._day = ""
        self._reported: dict[str, int] = {}

    # -- identity ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def counters(self) -> OrderApiCounters:
        return self._counters

    @property
    def rate_limits(self) -> RateLimits:
        rate = max(self.order_rate, 1.0)
        return RateLimits(
            orders_per_second=rate, order_burst=max(1, int(rate)), queries_per_second=self._query_rate
        )

    @property
    def is_connected(self) -> bool:
        self.pump()
        return self.ready

    @property
    def market(self) -> MarketView:
        self.pump()  # quotes arrive through the inbox like everything else
        return self._market

    @property
    def ctp_market(self) -> CtpMarket:
        return self._market

    def connect(self) -> bool:
        self.pump()
        if self.ready:
            return True
        self.start()
        return self.login_sequence()

    def disconnect(self) -> None:
        self.stop()
        self.last_disconnect_reason = "client disconnect"

    def login_steps(self) -> tuple[LoginStep, ...]:
        out = []
        for name in STEPS:
            found = self.steps.get(name)
            if found is None:
                out.append(LoginStep(name=name, ok=False, at=None, detail="not attempted"))
            else:
                out.append(LoginStep(name=name, ok=found.ok, at=found.at, detail=found.detail))
        return tuple(out)

    def market_symbols(self) -> list[str]:
        return [c.instrument_id for c in self.contracts.all()]

    def poll_events(self) -> list[VenueEvent]:
        self.pump()
        out = list(self._events)
        self._events.clear()
        return out

    def _now(self) -> dt.datetime:
        return self.clock.now()

    # -- applying what CTP sent ---------------------------------------------------------
    def apply(self, record: object) -> None:
        if isinstance(record, p.OrderReport):
            self._on_order(record)
        elif isinstance(record, p.TradeReport):
            self._on_trade(record)
            self._resolve_parked(final=False)
        elif isinstance(record, p.OrderInsertError):
            self._on_insert_error(record)
        elif isinstance(record, p.OrderActionError):
            self._on_action_error(record)
        elif isinstance(record, p.DepthQuote):
            contract = self.contracts.by_symbol(record.instrument_id)
            if contract is not None:
                self._market.on_quote(contract, record, self._now())
        elif isinstance(record, p.StatusReport):
            self._market.on_status(record)

    def _halt(self, why: str) -> None:
        if not self.halt_reason:
            self.halt_reason = why
        self.problems.append(why)
        log.error("CTP %s: HALTED: %s", self.name, why)

    def _find_leg(self, report: p.OrderReport) -> LegState | None:
        triple = (report.front_id, report.session_id, ref_key(report.order_ref))
        leg = self._by_triple.get(triple)
        if leg is None and report.order_sys_id.strip():
            leg = self._by_sys.get(sys_key(report.exchange_id, report.order_sys_id))
        if leg is None:
            leg = self._adopt(report, triple)
        if leg is None and self._reload_map():
            leg = self._by_triple.get(triple) or self._by_sys.get(
                sys_key(report.exchange_id, report.order_sys_id)
            )
        return leg

    def _adopt(self, report: p.OrderReport, triple: Triple) -> LegState | None:
        """A leg of an order ``remember`` told us about, known only by its venue id."""
        names = (
            str(venue_id_of(report.exchange_id, report.order_sys_id)),
            str(provisional_id(triple)),
        )
        coid = next((self._remembered[n] for n in names if n in self._remembered), None)
        contract = self.contracts.by_symbol(report.instrument_id)
        side = codes.SIDE_OF.get(report.direction)
        if coid is None or contract is None or side is None:
            return None
        offset = codes.OFFSET_OF.get(report.offset, OffsetFlag.CLOSE)
        leg = LegState(
            coid, contract.contract_id, contract.instrument_id, contract.exchange_id, side,
            offset, report.volume_total_original, triple, current_session=False,
        )  # fmt: skip
        self.clients[coid].legs.append(leg)
        self._by_triple[triple] = leg
        return leg

    def _on_order(self, report: p.OrderReport) -> None:
        if report.status not in codes.OrderStatus._value2member_map_:
            self._halt(
                f"order {report.exchange_id}:{report.order_sys_id.strip() or report.order_ref}"
                f" in {report.instrument_id} has status code {report.status!r}, which Bastion"
                f" does not know (message: {report.status_msg}); the report is kept, nothing"
                " more is sent until an operator has looked"
            )
            return
        leg = self._find_leg(report)
        triple = (report.front_id, report.session_id, ref_key(report.order_ref))
        if leg is None:
            self.foreign_orders[triple] = report
            if report.order_sys_id.strip():
                self._foreign_sys.add(sys_key(report.exchange_id, report.order_sys_id))
            return
        if self.foreign_orders.pop(triple, None) is not None:  # it was ours after all
            self._foreign_sys.discard(sys_key(report.exchange_id, report.order_sys_id))
        if report.order_sys_id.strip() and leg.order_sys_id is None:
            leg.order_sys_id = report.order_sys_id
            self._by_sys[sys_key(report.exchange_id, report.order_sys_id)] = leg
            self._note_sys(leg)
        leg.status = report.status
        leg.message = report.status_msg
        self._reported[self._leg_name(leg)] = max(
            self._reported.get(self._leg_name(leg), 0), report.volume_traded
        )
        client = self.clients[leg.client_order_id]
        rejected = report.submit_status == codes.SubmitStatus.INSERT_REJECTED
        if leg.order_sys_id is not None and not rejected and not client.acked:
            client.acked = True
            client.venue_order_id = venue_id_of(report.exchange_id, leg.order_sys_id)
            self._events.append(
                Acknowledged(
                    client_order_id=client.client_order_id,
                    venue_order_id=client.venue_order_id,
                    timestamp=self._now(),
                )
            )
        if report.status in (codes.OrderStatus.ALL_TRADED, codes.OrderStatus.CANCELED):
            if report.status == codes.OrderStatus.CANCELED and rejected:
                leg.rejected = True
                leg.reason = reason_for(0, report.status_msg)
            self._leg_done(leg)
        self._finish(client)

    @staticmethod
    def _leg_name(leg: LegState) -> str:
        return f"{leg.triple[0]}:{leg.triple[1]}:{leg.triple[2]}"

    def _leg_done(self, leg: LegState) -> None:
        if leg.done:
            return
        leg.done = True
        book = self.books.get(leg.contract_id)
        if book is not None:
            for bucket, lots in leg.frozen:
                book.freeze(leg.side.opposite, bucket, -lots)
        leg.frozen = []

    def _settled(self, leg: LegState) -> bool:
        return leg.done and leg.traded >= self._reported.get(self._leg_name(leg), 0)

    def _finish(self, client: ClientState) -> None:
        if client.finished or not client.legs or not all(self._settled(x) for x in client.legs):
            return
        filled = sum(leg.traded for leg in client.legs)
        now = self._now()
        coid = client.client_order_id
        if filled >= client.quantity:
            client.finished = "filled"
        elif filled == 0 and not client.acked and all(leg.rejected for leg in client.legs):
            client.finished = "rejected"
            first = client.legs[0]
            self._events.append(
                Rejected(
                    client_order_id=coid,
                    reason=first.reason or Reason.UNKNOWN,
                    message=first.message or "rejected",
                    timestamp=now,
                )
            )
        elif client.cancel_requested:
            client.finished = "canceled"
            self._events.append(
                Canceled(client_order_id=coid, timestamp=now, venue_order_id=client.venue_order_id)
            )
        elif self._session_closed(client.contract_id):
            client.finished = "expired"
            self._events.append(
                Expired(client_order_id=coid, timestamp=now, venue_order_id=client.venue_order_id)
            )
        else:
            client.finished = "canceled"
            messages = "; ".join(sorted({leg.message for leg in client.legs if leg.message}))
            log.warning("CTP %s: %s ended without a cancel from us: %s", self.name, coid, messages)
            self._events.append(
                Canceled(
                    client_order_id=coid,
                    timestamp=now,
                    venue_order_id=client.venue_order_id,
                    unsolicited=True,
                )
            )
        if client.replacement is not None:
            replacement, client.replacement = client.replacement, None
            if client.finished == "canceled" and client.cancel_requested:
                self._send_order(replacement)
            else:
                self._reject(
                    replacement.client_order_id,
                    Reason.INVALID_ORDER,
                    f"replace failed: {coid} was {client.finished} before the cancel",
                )

    def _session_closed(self, contract_id: ContractId) -> bool:
        contract = self.contracts.get(contract_id)
        return contract is not None and self._market.status(contract) in _CLOSED

    def _on_trade(self, trade: p.TradeReport) -> None:
        if trade.key in self._trade_keys:
            self.duplicate_trades += 1
            return
        leg = self._by_sys.get(sys_key(trade.exchange_id, trade.order_sys_id))
        if leg is None and self._reload_map():
            leg = self._by_sys.get(sys_key(trade.exchange_id, trade.order_sys_id))
        if leg is None:
            if sys_key(trade.exchange_id, trade.order_sys_id) in self._foreign_sys:
                self._trade_keys.add(trade.key)
                self._foreign(trade)
            else:
                self._parked.append(trade)  # its order report has not come yet
            return
        self._trade_keys.add(trade.key)
        contract = self.contracts.get(leg.contract_id)
        side = codes.SIDE_OF.get(trade.direction)
        if contract is None or side is None or trade.price is None:
            self._halt(f"trade {trade.exchange_id}:{trade.trade_id} cannot be read: {trade!r}")
            return
        leg.traded += trade.volume
        if leg.current_session:
            book = self.books.setdefault(contract.contract_id, Book())
            book.apply(side, leg.offset, trade.volume, splits_today=contract.splits_today)
            self._release_frozen(leg, book, trade.volume)
        self._emit_fill(leg.client_order_id, contract, side, trade)
        self._finish(self.clients[leg.client_order_id])

    def _release_frozen(self, leg: LegState, book: Book, lots: int) -> None:
        left = lots
        kept = []
        for bucket, held in leg.frozen:
            used = min(held, left)
            left -= used
            book.freeze(leg.side.opposite, bucket, -used)
            if held - used:
                kept.append((bucket, held - used))
        leg.frozen = kept

    def _emit_fill(
        self, coid: ClientOrderId, contract: CtpContract, side: Side, trade: p.TradeReport
    ) -> None:
        assert trade.price is not None  # noqa: S101 - checked by the caller
        try:
            ticks = contract.spec.to_ticks(Decimal(repr(trade.price)))
        except OffTickError:
            ticks = contract.spec.round_to_ticks(Decimal(repr(trade.price)))
            self.problems.append(f"trade {trade.trade_id} price {trade.price} is off the tick")
        day = trade.trading_day or self.trading_day
        when = exchange_time(day, trade.trade_time, _previous_trading_day(day)) or self._now()
        fill = Fill(
            exec_id=ExecId(f"{trade.exchange_id}:{trade.trade_id}:{trade.direction}"),
            client_order_id=coid,
            contract_id=contract.contract_id,
            side=side,
            quantity=trade.volume,
            price_ticks=ticks,
            timestamp=when,
            venue_order_id=venue_id_of(trade.exchange_id, trade.order_sys_id),
        )
        self.fills.append(fill)
        self._events.append(FillReport(fill=fill))

    def _foreign(self, trade: p.TradeReport) -> None:
        self.foreign_trades.append(trade)
        contract = self.contracts.by_symbol(trade.instrument_id)
        side = codes.SIDE_OF.get(trade.direction)
        text = (
            f"foreign trade {trade.exchange_id}:{trade.trade_id.strip()} in"
            f" {trade.instrument_id}: {trade.direction} {trade.volume} @ {trade.price}"
            f" (order {trade.order_sys_id.strip()} is not Bastion's)"
        )
        self.problems.append(text)
        log.warning("CTP %s: %s", self.name, text)
        if contract is None or side is None or trade.price is None:
            return
        coid = ClientOrderId(f"{FOREIGN_PREFIX}{trade.exchange_id}:{trade.order_sys_id.strip()}")
        self._emit_fill(coid, contract, side, trade)

    def _resolve_parked(self, *, final: bool) -> None:
        parked, self._parked = self._parked, []
        for trade in parked:
            self._on_trade(trade)
        if final:
            left, self._parked = self._parked, []
            for trade in left:
                self._trade_keys.add(trade.key)
                self._foreign(trade)

    def _on_insert_error(self, record: p.OrderInsertError) -> None:
        leg = self._by_triple.get((self.front_id, self.session_id, ref_key(record.order_ref)))
        if leg is None or leg.done:
            return
        leg.rejected = True
        leg.reason = reason_for(record.error.error_id, record.error.message)
        leg.message = f"CTP ErrorID {record.error.error_id}: {record.error.message}"
        self._leg_done(leg)
        self._finish(self.clients[leg.client_order_id])

    def _on_action_error(self, record: p.OrderActionError) -> None:
        leg = self._by_triple.get((record.front_id, record.session_id, ref_key(record.order_ref)))
        if leg is None and record.order_sys_id.strip():
            leg = self._by_sys.get(sys_key(record.exchange_id, record.order_sys_id))
        if leg is None:
            log.warning("CTP %s: cancel refused for an unknown order: %r", self.name, record)
            return
        client = self.clients[leg.client_order_id]
        if client.cancel_refused:
            return
        client.cancel_refused = True
        message = f"CTP ErrorID {record.error.error_id}: {record.error.message}"
        self._events.append(
            CancelRejected(
                client_order_id=client.client_order_id,
                reason=reason_for(record.error.error_id, record.error.message),
                message=message,
                timestamp=self._now(),
            )
        )
        if client.replacement is not None:
            replacement, client.replacement = client.replacement, None
            self._reject(replacement.client_order_id, Reason.INVALID_ORDER, f"replace failed: {message}")

    # -- order calls ----------------------------------------------------------------------
    def _reject(self, coid: ClientOrderId, reason: Reason, message: str) -> OrderCallResult:
        self._events.append(
            Rejected(client_order_id=coid, reason=reason, message=message, timestamp=self._now())
        )
        return OrderCallResult(client_order_id=coid, taken=False, reason=reason, message=message)

    def _cancel_refused(self, coid: ClientOrderId, reason: Reason, message: str) -> OrderCallResult:
        self._events.append(
            CancelRejected(client_order_id=coid, reason=reason, message=message, timestamp=self._now())
        )
        return OrderCallResult(client_order_id=coid, taken=False, reason=reason, message=message)

    def _not_ready(self) -> tuple[Reason, str] | None:
        if not self.ready:
            return Reason.CONNECTION, f"{self.name} is not logged in; nothing was sent"
        if self.halt_reason:
            return Reason.UNKNOWN, f"{self.name} is halted: {self.halt_reason}"
        return None

    def _check(self, order: BrokerOrder) -> tuple[Reason, str] | CtpContract:
        """The contract, or why the order cannot leave at all."""
        blocked = self._not_ready()
        if blocked is not None:
            return blocked
        contract = self.contracts.get(order.contract_id)
        invalid = Reason.INVALID_ORDER
        if contract is None:
            return invalid, f"unknown contract {order.contract_id}"
        if not isinstance(order.quantity, int) or isinstance(order.quantity, bool):
            return invalid, f"quantity {order.quantity!r} is not a whole number of lots"
        if order.quantity <= 0:
            return invalid, f"quantity must be positive, got {order.quantity}"
        for label, ticks in (("limit", order.limit_ticks), ("stop", order.stop_ticks)):
            if ticks is not None and (not isinstance(ticks, int) or isinstance(ticks, bool)):
                return invalid, f"{label} price {ticks!r} is not a whole number of ticks"
        shape = validate_order_shape(
            order.order_type, order.limit_ticks, order.stop_ticks, order.time_in_force,
            order.expire_at,
        )  # fmt: skip
        if shape is not None:
            return invalid, shape
        if order.order_type not in (OrderType.MARKET, OrderType.LIMIT):
            return invalid, f"CTP exchanges take no {order.order_type} orders; Bastion sends none"
        if order.time_in_force not in _TIF:
            return invalid, (
                f"CTP exchanges take day (GFD), IOC and FOK orders, not {order.time_in_force}"
            )
        is_open = self._market.session_open(contract)
        status = self._market.status(contract)
        if status == codes.InstrumentStatus.NO_TRADING:
            return Reason.HALTED, f"{contract.instrument_id} is not trading (halted)"
        if is_open is False:
            return Reason.MARKET_CLOSED, f"{contract.instrument_id} is outside its session"
        return contract

    def _price(self, order: BrokerOrder, contract: CtpContract) -> int | tuple[Reason, str]:
        quote = self._market.quote(contract.contract_id)
        band = None if quote is None else quote.band
        if order.order_type is OrderType.LIMIT:
            assert order.limit_ticks is not None  # noqa: S101 - checked by the shape
            if band is not None and not band[0] <= order.limit_ticks <= band[1]:
                return Reason.PRICE_OUTSIDE_BAND, (
                    f"limit {contract.spec.from_ticks(order.limit_ticks)} is outside today's"
                    f" band {contract.spec.from_ticks(band[0])}-{contract.spec.from_ticks(band[1])}"
                    f" of {contract.instrument_id}; not sent"
                )
            return order.limit_ticks
        if band is None or quote is None:
            return Reason.INVALID_ORDER, (
                f"a market order in {contract.instrument_id} is sent as a limit inside the day's"
                " band, and no band is known yet (no market data)"
            )
        sign = order.side.sign
        touch = quote.ask_ticks if sign > 0 else quote.bid_ticks
        if touch is None:
            return band[1] if sign > 0 else band[0]
        price = touch + sign * self.config.market_protection_ticks
        return min(max(price, band[0]), band[1])

    def submit(self, order: BrokerOrder) -> OrderCallResult:
        self._counters.send_order_calls += 1
        self.pump()
        return self._send_order(order)

    def _send_order(self, order: BrokerOrder) -> OrderCallResult:
        coid = order.client_order_id
        if coid in self.clients:
            return self._reject(coid, Reason.DUPLICATE, f"order {coid} was already sent")
        checked = self._check(order)
        if isinstance(checked, tuple):
            return self._reject(coid, *checked)
        contract = checked
        price = self._price(order, contract)
        if isinstance(price, tuple):
            return self._reject(coid, *price)
        book = self.books.setdefault(contract.contract_id, Book())
        legs = plan_legs(
            order.side, order.quantity, book, splits_today=contract.splits_today,
            offset=order.offset,
        )  # fmt: skip
        if isinstance(legs, str):
            return self._reject(coid, Reason.INVALID_ORDER, f"{legs}; not sent")
        client = ClientState(
            coid, contract.contract_id, order.side, order.quantity, order.order_type,
            order.time_in_force, order.limit_ticks,
        )  # fmt: skip
        self.clients[coid] = client
        sent = [self._send_leg(client, contract, leg, price, order.time_in_force) for leg in legs]
        if not any(code == 0 for code in sent):
            client.finished = "rejected"
            reason = Reason.CONNECTION if -1 in sent else Reason.RATE_LIMITED
            return self._reject(coid, reason, f"not sent: CTP answered {sent[0]}")
        return OrderCallResult(
            client_order_id=coid, taken=True, venue_order_id=provisional_id(client.legs[0].triple)
        )

    def _send_leg(
        self, client: ClientState, contract: CtpContract, leg: Leg, price: int, tif: TimeInForce
    ) -> int:
        self.max_order_ref += 1
        ref = str(self.max_order_ref)
        state = LegState(
            client.client_order_id, contract.contract_id, contract.instrument_id,
            contract.exchange_id, client.side, leg.offset, leg.quantity,
            (self.front_id, self.session_id, ref_key(ref)), current_session=True,
        )  # fmt: skip
        client.legs.append(state)
        self._by_triple[state.triple] = state
        book = self.books.setdefault(contract.contract_id, Book())
        if leg.offset is not OffsetFlag.OPEN:
            state.frozen = [
                (bucket, lots)
                for bucket, lots in book.buckets(
                    client.side.opposite, leg.offset, leg.quantity,
                    splits_today=contract.splits_today,
                )  # fmt: skip
                if lots
            ]
            for bucket, lots in state.frozen:
                book.freeze(client.side.opposite, bucket, lots)
        self.order_map.append(
            {
                "kind": "leg", "day": self.trading_day, "coid": client.client_order_id,
                "contract": contract.contract_id, "side": client.side.value,
                "offset": leg.offset.value, "qty": leg.quantity, "order_qty": client.quantity,
                "front": self.front_id, "session": self.session_id, "ref": ref,
                "type": client.order_type.value, "tif": client.time_in_force.value,
                "limit": client.limit_ticks,
            }
        )  # fmt: skip
        field = self._order_field(state, contract, price, tif, ref)
        assert self._trader is not None  # noqa: S101 - ready implies started
        code = self._send(self._trader.insert_order, field, self.next_request_id())
        if code != 0:
            state.rejected = True
            state.reason = Reason.CONNECTION if code == -1 else Reason.RATE_LIMITED
            state.message = f"request not sent (code {code})"
            self._leg_done(state)
        return code

    def _order_field(
        self, leg: LegState, contract: CtpContract, price: int, tif: TimeInForce, ref: str
    ) -> Any:
        field = self.binding.trader.CThostFtdcInputOrderField()
        field.BrokerID = self.config.broker_id
        field.InvestorID = self.config.user_id
        field.UserID = self.config.user_id
        field.InstrumentID = contract.instrument_id
        field.ExchangeID = contract.exchange_id
        field.OrderRef = ref
        field.OrderPriceType = codes.PRICE_TYPE_LIMIT
        field.Direction = codes.DIRECTION[leg.side]
        field.CombOffsetFlag = codes.OFFSET[leg.offset]
        field.CombHedgeFlag = codes.HEDGE_SPECULATION
        field.LimitPrice = to_price(contract.spec, price)
        field.VolumeTotalOriginal = leg.quantity
        field.TimeCondition, field.VolumeCondition = _TIF[tif]
        field.MinVolume = 1
        field.ContingentCondition = codes.CONTINGENT_IMMEDIATELY
        field.ForceCloseReason = codes.FORCE_CLOSE_NOT
        field.IsAutoSuspend = 0
        field.UserForceClose = 0
        return field

    def _note_sys(self, leg: LegState) -> None:
        if leg.current_session or leg.triple[1] == self.session_id:
            self.order_map.append(
                {
                    "kind": "sys", "day": self.trading_day, "front": leg.triple[0],
                    "session": leg.triple[1], "ref": leg.triple[2],
                    "exchange": leg.exchange_id, "sysid": leg.order_sys_id,
                }
            )  # fmt: skip

    def cancel(self, client_order_id: ClientOrderId) -> OrderCallResult:
        self._counters.cancel_order_calls += 1
        self.pump()
        return self._cancel(client_order_id)

    def _cancel(self, coid: ClientOrderId) -> OrderCallResult:
        blocked = self._not_ready()
        if blocked is not None and blocked[0] is Reason.CONNECTION:
            return self._cancel_refused(coid, *blocked)
        client = self.clients.get(coid)
        if client is None:
            return self._cancel_refused(coid, Reason.INVALID_ORDER, f"order {coid} is unknown")
        if not client.working:
            return self._cancel_refused(
                coid, Reason.INVALID_ORDER, f"order {coid} is {client.finished or 'done'}"
            )
        client.cancel_requested = True
        client.cancel_refused = False
        codes_sent = [self._cancel_leg(leg) for leg in client.legs if not leg.done]
        if not any(code == 0 for code in codes_sent):
            reason = Reason.CONNECTION if -1 in codes_sent else Reason.RATE_LIMITED
            return self._cancel_refused(coid, reason, f"cancel not sent: CTP answered {codes_sent}")
        return OrderCallResult(client_order_id=coid, taken=True)

    def _cancel_leg(self, leg: LegState) -> int:
        field = self.binding.trader.CThostFtdcInputOrderActionField()
        field.BrokerID = self.config.broker_id
        field.InvestorID = self.config.user_id
        field.UserID = self.config.user_id
        field.ActionFlag = codes.ACTION_DELETE
        field.InstrumentID = leg.instrument_id
        field.ExchangeID = leg.exchange_id
        if leg.order_sys_id is not None:
            field.OrderSysID = leg.order_sys_id
        else:
            field.FrontID, field.SessionID = leg.triple[0], leg.triple[1]
            field.OrderRef = leg.triple[2]
        assert self._trader is not None  # noqa: S101 - ready implies started
        return self._send(self._trader.order_action, field, self.next_request_id())

    def modify(self, client_order_id: ClientOrderId, replacement: BrokerOrder) -> OrderCallResult:
        """CTP's exchanges cannot change an order: cancel it, and send the replacement
        when the cancel is confirmed (refused if the order filled first)."""
        self._counters.cancel_order_calls += 1
        self._counters.send_order_calls += 1
        self.pump()
        new = replacement.client_order_id
        checked = self._check(replacement)
        if isinstance(checked, tuple):
            return self._reject(new, *checked)
        client = self.clients.get(client_order_id)
        if client is not None and (
            client.contract_id != replacement.contract_id or client.side is not replacement.side
        ):
            return self._reject(new, Reason.INVALID_ORDER, "a replacement keeps contract and side")
        canceled = self._cancel(client_order_id)
        if not canceled.taken:
            return self._reject(new, Reason.INVALID_ORDER, f"replace failed: {canceled.message}")
        assert client is not None  # noqa: S101 - a taken cancel had a client
        client.replacement = replacement
        self._finish(client)
        return OrderCallResult(client_order_id=new, taken=True)

    def remember(self, order: BrokerOrder) -> None:
        coid = order.client_order_id
        client = self.clients.get(coid)
        if client is None:
            client = ClientState(
                coid, order.contract_id, order.side, order.quantity, order.order_type,
                order.time_in_force, order.limit_ticks,
            )  # fmt: skip
            self.clients[coid] = client
        if order.venue_order_id:
            self._remembered[str(order.venue_order_id)] = coid

    def stuck_at_limit(self) -> tuple[ClientOrderId, ...]:
        """Working orders resting at a price limit the market is locked at."""
        out = []
        for client in self.clients.values():
            if not client.working:
                continue
            state = self._market.limit_state(client.contract_id)
            if (state == "limit_up" and client.side is Side.BUY) or (
                state == "limit_down" and client.side is Side.SELL
            ):
                out.append(client.client_order_id)
        return tuple(out)

    def after_login(self) -> None:
        self.recover_after_login()

    def _reload_map(self) -> bool:
        """Read facts other sessions wrote since the last read; whether there were any."""
        path = self.order_map.path
        if path is None:
            return False
        try:
            size = path.stat().st_size
        except OSError:
            return False
        if size == self._map_size:
            return False
        self._map_size = size
        for fact in self.order_map.facts(self.trading_day):
            self._learn(fact)
        return True

