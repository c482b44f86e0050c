"""``CtpVenue``: the ``VenuePort`` over CTP (SimNow, a broker's test front, or live).

The order calls; the layers below are ``link`` (connection, login, queries), ``reports``
(what CTP reports, into Bastion's events) and ``recovery`` (after each login, and the
snapshots). What the adapter guarantees:

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

import logging
from collections.abc import Callable
from typing import Any

from bastion.clock import Clock
from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId
from bastion.domain.market import MarketView
from bastion.domain.orders import BrokerOrder, validate_order_shape
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import (
    CancelRejected,
    VenueEvent,
)
from bastion.venues.ctp import codes
from bastion.venues.ctp.config import CtpConfig
from bastion.venues.ctp.instruments import CtpContract, CtpContracts, to_price
from bastion.venues.ctp.link import STEPS
from bastion.venues.ctp.market_data import CtpMarket
from bastion.venues.ctp.offsets import Book, Leg, plan_legs
from bastion.venues.ctp.orders import (
    ClientState,
    LegState,
    provisional_id,
)
from bastion.venues.ctp.port import CtpMdPort, CtpTraderPort
from bastion.venues.ctp.recovery import CtpRecovery
from bastion.venues.ctp.reports import ref_key
from bastion.venues.ctp.runtime import Binding
from bastion.venues.login import LoginStep
from bastion.venues.port import OrderApiCounters, OrderCallResult, RateLimits

__all__ = ["CtpVenue"]

log = logging.getLogger("bastion.ctp")

_TIF = {
    TimeInForce.DAY: (codes.TIME_GFD, codes.VOLUME_ANY),
    TimeInForce.IOC: (codes.TIME_IOC, codes.VOLUME_ANY),
    TimeInForce.FOK: (codes.TIME_IOC, codes.VOLUME_ALL),
}


class CtpVenue(CtpRecovery):
    def __init__(
        self,
        config: CtpConfig,
        binding: Binding,
        clock: Clock,
        contracts: CtpContracts,
        trader_port: Callable[[], CtpTraderPort],
        *,
        md_port: Callable[[], CtpMdPort] | None = None,
    ) -> None:
        super().__init__(config, binding, clock, contracts, trader_port, md_port=md_port)

    # -- identity ---------------------------------------------------------------------------
    @property
    def counters(self) -> OrderApiCounters:
        return self._counters

    @property
    def rate_limits(self) -> RateLimits:
        rate = max(self.order_rate, 1.0)
        return RateLimits(
            orders_per_second=rate,
            order_burst=max(1, int(rate)),
            queries_per_second=self._query_rate,
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

    # -- order calls ----------------------------------------------------------------------
    def _cancel_refused(self, coid: ClientOrderId, reason: Reason, message: str) -> OrderCallResult:
        self._events.append(
            CancelRejected(
                client_order_id=coid, reason=reason, message=message, timestamp=self._now()
            )
        )
        return OrderCallResult(client_order_id=coid, taken=False, reason=reason, message=message)

    def _not_ready(self) -> tuple[Reason, str] | None:
        if not self.ready:
            return Reason.CONNECTION, f"{self.name} is not logged in; nothing was sent"
        if self.halt_reason:
            return Reason.UNKNOWN, f"{self.name} is halted: {self.halt_reason}"
        return None

    def _check(self, order: BrokerOrder) -> tuple[Reason, str] | CtpContract:  # noqa: PLR0911
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
            order.order_type,
            order.limit_ticks,
            order.stop_ticks,
            order.time_in_force,
            order.expire_at,
        )
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
            order.side,
            order.quantity,
            book,
            splits_today=contract.splits_today,
            offset=order.offset,
        )
        if isinstance(legs, str):
            return self._reject(coid, Reason.INVALID_ORDER, f"{legs}; not sent")
        client = ClientState(
            coid,
            contract.contract_id,
            order.side,
            order.quantity,
            order.order_type,
            order.time_in_force,
            order.limit_ticks,
        )
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
            client.client_order_id,
            contract.contract_id,
            contract.instrument_id,
            contract.exchange_id,
            client.side,
            leg.offset,
            leg.quantity,
            (self.front_id, self.session_id, ref_key(ref)),
            current_session=True,
        )
        client.legs.append(state)
        self._by_triple[state.triple] = state
        book = self.books.setdefault(contract.contract_id, Book())
        if leg.offset is not OffsetFlag.OPEN:
            state.frozen = [
                (bucket, lots)
                for bucket, lots in book.buckets(
                    client.side.opposite,
                    leg.offset,
                    leg.quantity,
                    splits_today=contract.splits_today,
                )
                if lots
            ]
            for bucket, lots in state.frozen:
                book.freeze(client.side.opposite, bucket, lots)
        self.order_map.append(
            {
                "kind": "leg",
                "day": self.trading_day,
                "coid": client.client_order_id,
                "contract": contract.contract_id,
                "side": client.side.value,
                "offset": leg.offset.value,
                "qty": leg.quantity,
                "order_qty": client.quantity,
                "front": self.front_id,
                "session": self.session_id,
                "ref": ref,
                "type": client.order_type.value,
                "tif": client.time_in_force.value,
                "limit": client.limit_ticks,
            }
        )
        field = self._order_field(state, contract, price, tif, ref)
        code = self._send(self.trader.insert_order, field, self.next_request_id())
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
        return self._send(self.trader.order_action, field, self.next_request_id())

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
                coid,
                order.contract_id,
                order.side,
                order.quantity,
                order.order_type,
                order.time_in_force,
                order.limit_ticks,
            )
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
