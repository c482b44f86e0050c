"""The sim venue's exchange side: order arrival checks, matching, fills, expiry, halts.

``MatchingEngine`` holds the venue's truth (working orders, books, fills) and schedules
reports; ``SimVenue`` (``execution.py``) adds the port surface on top. Time comes only
from the clock: actions (an order arriving after its latency, a GTD expiry, the end
of a halt or a disconnect) sit in a heap and run when the clock has passed them, and
reports sit in a heap by due time, so delivery order is (due time, creation order).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable
from typing import Any

from bastion.clock import Clock
from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import OffsetFlag, TimeInForce
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, VenueOrderId
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    FillReport,
    Rejected,
    TradeCorrection,
    VenueEvent,
)
from bastion.venues.port import OrderStatusRecord, VenueOrderStatus
from bastion.venues.sim.accounts import SimAccount
from bastion.venues.sim.config import HaltPolicy, SimVenueConfig
from bastion.venues.sim.market_data import MarketState
from bastion.venues.sim.matching import init_queue, match_on_quote
from bastion.venues.sim.parsing import SimOrder

__all__ = ["MatchingEngine", "always_open"]

SessionCheck = Callable[[ContractId, dt.datetime], bool]

_CLOSES = (OffsetFlag.CLOSE, OffsetFlag.CLOSE_TODAY, OffsetFlag.CLOSE_YESTERDAY)


def always_open(_contract_id: ContractId, _when: dt.datetime) -> bool:
    return True


class MatchingEngine:
    def __init__(
        self,
        specs: dict[ContractId, ContractSpec],
        clock: Clock,
        config: SimVenueConfig,
        is_open: SessionCheck,
    ) -> None:
        self.config = config
        self._clock = clock
        self._is_open = is_open
        self._specs = dict(specs)
        self.markets = {
            cid: MarketState(spec, config.slippage.volatility_window)
            for cid, spec in self._specs.items()
        }
        self.account_book = SimAccount(
            config.currency, config.initial_cash, self._specs, config.rates
        )
        self.orders: dict[ClientOrderId, SimOrder] = {}
        """Working orders (arriving or live), by client order id."""
        self.live: dict[ContractId, list[SimOrder]] = {cid: [] for cid in self._specs}
        """Orders at the matching engine, per contract, in time priority."""
        self.status: dict[ClientOrderId, OrderStatusRecord] = {}
        """Orders that are done today, for status queries."""
        self.fills: list[Fill] = []
        self.halted_all = False
        self._now = clock.now()
        self._dispatching = False
        self._seq = 0
        self._actions: list[tuple[dt.datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self._due: list[tuple[dt.datetime, int, VenueEvent]] = []
        self._next_venue_id = 0
        self._next_exec_id = 0
        self.reject_hook: Callable[[], tuple[Reason, str] | None] = lambda: None

    # -- time ---------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def schedule(self, at: dt.datetime, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._actions, (at, self._next_seq(), action, args))

    def advance(self) -> None:
        """Run every action the clock has passed, each at its own time."""
        if self._dispatching:
            return  # an action that calls back in runs at its own time
        now = self._clock.now()
        actions = self._actions
        self._dispatching = True
        try:
            while actions and actions[0][0] <= now:
                at, _, action, args = heapq.heappop(actions)
                self._now = at
                action(*args)
        finally:
            self._dispatching = False
        self._now = now

    def current_time(self) -> dt.datetime:
        """Now, after running what is due (or the running action's time)."""
        self.advance()
        return self._now

    def report(self, event: VenueEvent, delay: dt.timedelta | None = None) -> None:
        due = self._now if not delay else self._now + delay
        heapq.heappush(self._due, (due, self._next_seq(), event))

    def due_reports(self) -> list[VenueEvent]:
        due, now, out = self._due, self._now, []
        while due and due[0][0] <= now:
            out.append(heapq.heappop(due)[2])
        return out

    # -- arrival ------------------------------------------------------------------------
    def arrive(self, order: SimOrder) -> None:
        """The order reaches the matching engine: checks, acceptance, first match."""
        if self.orders.get(order.client_order_id) is not order:
            return  # expired or canceled while in flight
        refusal = self._arrival_refusal(order)
        if refusal is not None:
            self._finish(order, VenueOrderStatus.REJECTED)
            self.report(
                Rejected(
                    client_order_id=order.client_order_id,
                    reason=refusal[0],
                    message=refusal[1],
                    timestamp=self._now,
                    venue_order_id=order.venue_order_id,
                )
            )
            return
        self._next_venue_id += 1
        order.venue_order_id = VenueOrderId(f"{self.config.name}-{self._next_venue_id}")
        order.live = True
        book = self.account_book.book(order.contract_id)
        if order.sign > 0:
            book.working_buy += order.quantity
        else:
            book.working_sell += order.quantity
        if order.offset in _CLOSES:
            key = (order.sign, order.offset)
            book.working_closes[key] = book.working_closes.get(key, 0) + order.quantity
        self.live[order.contract_id].append(order)
        self.report(
            Acknowledged(
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id,
                timestamp=self._now,
            )
        )
        if order.time_in_force is TimeInForce.GTD and order.expire_at is not None:
            self.schedule(order.expire_at, self._expire_if_working, order)
        market = self.markets[order.contract_id]
        if self.is_halted(market) or market.ask_ticks is None:
            return
        self.attempt_quote(order, market, arriving=True)

    def _arrival_refusal(self, order: SimOrder) -> tuple[Reason, str] | None:
        """Why the exchange refuses the order on arrival, or None. Checks run in the order
        a venue runs them: injected fault, session, halt, expiry, band, books, margin."""
        injected = self.reject_hook()
        if injected is not None:
            return injected
        cid = order.contract_id
        if not self._is_open(cid, self._now):
            return Reason.MARKET_CLOSED, f"{cid} is outside its trading session"
        market = self.markets[cid]
        if self.is_halted(market) and self.config.halt_policy is HaltPolicy.REJECT:
            return Reason.HALTED, f"{cid} is halted"
        if order.expire_at is not None and order.expire_at <= self._now:
            return Reason.INVALID_ORDER, f"expiry {order.expire_at} is already past"
        return self._economic_refusal(order, market)

    def _economic_refusal(self, order: SimOrder, market: MarketState) -> tuple[Reason, str] | None:
        cid = order.contract_id
        unconverted = self.account_book.unconverted.get(cid)
        if unconverted is not None:
            return Reason.INVALID_ORDER, f"{cid}: {unconverted}"
        band = market.band()
        for label, ticks in (("limit", order.limit_ticks), ("stop", order.stop_ticks)):
            if band is not None and ticks is not None and not band[0] <= ticks <= band[1]:
                return (
                    Reason.PRICE_OUTSIDE_BAND,
                    f"{label} price {ticks} is outside the band [{band[0]}, {band[1]}] ticks",
                )
        book = self.account_book.book(cid)
        if order.offset in _CLOSES:
            closable = book.closable(order.sign, order.offset)
            if order.quantity > closable:
                return (
                    Reason.INVALID_ORDER,
                    f"{order.offset} of {order.quantity} exceeds the {closable} lots closable",
                )
        price = order.limit_ticks if order.limit_ticks is not None else order.stop_ticks
        if price is None:
            price = market.mark_ticks
        if price is None:
            return Reason.MARKET_CLOSED, f"no price for {cid} yet"
        extra = self.account_book.extra_margin(cid, order.sign, order.quantity, price)
        if extra:
            available = self.account_book.available(self.markets)
            if extra > available:
                return (
                    Reason.INSUFFICIENT_MARGIN,
                    f"needs {extra} {self.config.currency} margin, {available} available",
                )
        return None

    # -- matching -----------------------------------------------------------------------
    def is_halted(self, market: MarketState) -> bool:
        return self.halted_all or market.halted

    def attempt_quote(self, order: SimOrder, market: MarketState, *, arriving: bool) -> None:
        lots, price = match_on_quote(order, market, self.config.slippage, arriving=arriving)
        self.settle_attempt(order, lots, price)
        if lots:
            if order.sign > 0:
                market.ask_available -= lots
            else:
                market.bid_available -= lots

    def settle_attempt(self, order: SimOrder, lots: int, price: int) -> None:
        """Commit a match, honouring FOK (all or nothing) and IOC/FOK's single chance."""
        if order.one_shot:
            if order.time_in_force is TimeInForce.FOK and lots < order.remaining:
                lots = 0
            if lots:
                self.execute(order, lots, price)
            if order.client_order_id in self.orders:
                self.cancel_now(order, unsolicited=True)
            return
        if lots:
            self.execute(order, lots, price)
        elif order.queue_ahead is None:
            init_queue(order, self.markets[order.contract_id])

    def execute(self, order: SimOrder, lots: int, price: int) -> None:
        """A fill of a working order; it is finished when nothing remains."""
        self._release(order, lots)
        self.record_fill(order, lots, price)
        if order.filled == order.quantity:
            self._finish(order, VenueOrderStatus.FILLED)

    def record_fill(self, order: SimOrder, lots: int, price: int) -> None:
        """Books, cash and commission move now; the report follows the fill latency.
        Commission is charged here and only here: once per fill."""
        self._next_exec_id += 1
        commission = self.config.commission_per_contract * lots
        self.account_book.book(order.contract_id).apply_fill(order.sign, lots, price, order.offset)
        self.account_book.charge(self.account_book.to_account(order.contract_id, commission))
        order.filled += lots
        fill = Fill(
            exec_id=ExecId(f"{self.config.name}-E{self._next_exec_id}"),
            client_order_id=order.client_order_id,
            contract_id=order.contract_id,
            side=order.side,
            quantity=lots,
            price_ticks=price,
            timestamp=self._now,
            venue_order_id=order.venue_order_id,
            commission=commission,
        )
        self.fills.append(fill)
        self.report(FillReport(fill=fill), self.config.fill_latency)

    def correct_trade(self, exec_id: ExecId, quantity: int = 0) -> TradeCorrection:
        """Bust (``quantity`` 0) or correct one of the venue's fills to ``quantity`` lots,
        as an exchange does after the fact: the books move back by the difference (at
        the fill's price), and a ``TradeCorrection`` naming the fill is reported now. A
        control for tests (FIX ExecType H and G)."""
        fill = next((f for f in self.fills if f.exec_id == exec_id), None)
        if fill is None:
            raise ValueError(f"no fill {exec_id} at this venue")
        if quantity < 0:
            raise ValueError(f"a corrected quantity is never negative, got {quantity}")
        change = quantity - fill.quantity
        if change:
            sign = fill.side.sign if change > 0 else -fill.side.sign
            self.account_book.book(fill.contract_id).apply_fill(
                sign, abs(change), fill.price_ticks, None
            )
        self._next_exec_id += 1
        event = TradeCorrection(
            exec_id=ExecId(f"{self.config.name}-E{self._next_exec_id}"),
            exec_ref_id=exec_id,
            bust=quantity == 0,
            quantity=quantity,
            price_ticks=fill.price_ticks,
            timestamp=self._now,
            client_order_id=fill.client_order_id,
            venue_order_id=fill.venue_order_id,
        )
        self.report(event)
        return event

    def _release(self, order: SimOrder, lots: int) -> None:
        """Working quantities shrink by ``lots`` (filled, or withdrawn)."""
        if not order.live:
            return
        book = self.account_book.book(order.contract_id)
        if order.sign > 0:
            book.working_buy -= lots
        else:
            book.working_sell -= lots
        if order.offset in _CLOSES:
            key = (order.sign, order.offset)
            book.working_closes[key] -= lots

    def _finish(self, order: SimOrder, status: VenueOrderStatus) -> None:
        if status is not VenueOrderStatus.FILLED:
            self._release(order, order.remaining)
        self.orders.pop(order.client_order_id, None)
        if order.live:
            self.live[order.contract_id].remove(order)
            order.live = False
        self.status[order.client_order_id] = OrderStatusRecord(
            client_order_id=order.client_order_id,
            status=status,
            filled=order.filled,
            venue_order_id=order.venue_order_id,
            timestamp=self._now,
        )

    # -- removal --------------------------------------------------------------------------
    def cancel_now(self, order: SimOrder, *, unsolicited: bool = False) -> None:
        self._finish(order, VenueOrderStatus.CANCELED)
        self.report(
            Canceled(
                client_order_id=order.client_order_id,
                timestamp=self._now,
                venue_order_id=order.venue_order_id,
                unsolicited=unsolicited,
                filled=order.filled,
            )
        )

    def refuse_cancel(self, client_order_id: ClientOrderId, reason: Reason, message: str) -> None:
        self.report(
            CancelRejected(
                client_order_id=client_order_id,
                reason=reason,
                message=message,
                timestamp=self._now,
            )
        )

    def expire(self, order: SimOrder) -> None:
        self._finish(order, VenueOrderStatus.EXPIRED)
        self.report(
            Expired(
                client_order_id=order.client_order_id,
                timestamp=self._now,
                venue_order_id=order.venue_order_id,
                filled=order.filled,
            )
        )

    def _expire_if_working(self, order: SimOrder) -> None:
        if self.orders.get(order.client_order_id) is order:
            self.expire(order)
