"""Market data into the matching engine, and the venue's day: halts, settlement, expiry.

Call these after moving the clock to the data's time. Each piece of data is matched
against the orders live in that contract only (no scan of other contracts or history).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import msgspec

from bastion.domain.enums import TimeInForce
from bastion.domain.ids import ContractId
from bastion.errors import DataError
from bastion.venues.port import OrderStatusRecord, VenueOrderStatus
from bastion.venues.sim.engine import MatchingEngine
from bastion.venues.sim.market_data import Bar, MarketState, Quote, Trade
from bastion.venues.sim.matching import match_on_bar, match_on_trade
from bastion.venues.sim.parsing import SimOrder

__all__ = ["MarketFeed"]


class MarketFeed(MatchingEngine):
    def _market(self, contract_id: ContractId) -> MarketState:
        market = self.markets.get(contract_id)
        if market is None:
            raise DataError(f"{self.config.name}: market data for unknown contract {contract_id}")
        return market

    def on_quote(self, quote: Quote) -> None:
        self.advance()
        market = self._market(quote.contract_id)
        market.apply_quote(quote, publish=not self.faults_stale())
        if self.is_halted(market):
            return
        for order in tuple(self.live[quote.contract_id]):
            if order.live:
                self.attempt_quote(order, market, arriving=False)

    def on_trade(self, trade: Trade) -> None:
        self.advance()
        market = self._market(trade.contract_id)
        market.mark_ticks = trade.price_ticks
        if self.is_halted(market):
            return
        print_left = trade
        for order in tuple(self.live[trade.contract_id]):
            if not order.live:
                continue
            # Orders earlier in time priority used part of the print; the rest is
            # what later orders (and the queue ahead of them) can see.
            lots, price = match_on_trade(order, print_left, market)
            self.settle_attempt(order, lots, price)
            if lots:
                print_left = msgspec.structs.replace(print_left, size=print_left.size - lots)

    def on_bar(self, bar: Bar) -> None:
        self.advance()
        market = self._market(bar.contract_id)
        if not self.is_halted(market):
            cap = int(bar.volume * self.config.participation_rate)
            for order in tuple(self.live[bar.contract_id]):
                if not order.live:
                    continue
                lots, price = match_on_bar(
                    order,
                    bar,
                    market,
                    self.config.slippage,
                    cap=cap,
                    touch_fraction=self.config.touch_volume_fraction,
                )
                self.settle_attempt(order, lots, price)
                cap -= lots
        market.apply_bar(bar)

    def faults_stale(self) -> bool:
        """Whether the published quote is frozen (overridden by the venue's faults)."""
        return False

    def market_quote(self, contract_id: ContractId) -> Quote | None:
        """The quote the venue publishes; under a stale-quote fault it stops moving."""
        return self._market(contract_id).published_quote

    def set_reference_price(self, contract_id: ContractId, ticks: int) -> None:
        """The previous settlement: the centre of the daily price band."""
        self._market(contract_id).set_reference(ticks)

    # -- halts --------------------------------------------------------------------------
    def halt(
        self, contract_id: ContractId | None = None, duration: dt.timedelta | None = None
    ) -> None:
        """An exchange halt or circuit breaker on one contract, or on all of them."""
        now = self.current_time()
        if contract_id is None:
            self.halted_all = True
        else:
            self._market(contract_id).halted = True
        if duration is not None:
            self.schedule(now + duration, self.resume, contract_id)

    def resume(self, contract_id: ContractId | None = None) -> None:
        if contract_id is None:
            self.halted_all = False
            for market in self.markets.values():
                market.halted = False
        else:
            self._market(contract_id).halted = False

    # -- the trading day ------------------------------------------------------------------
    def end_of_day(self, contracts: Collection[ContractId] | None = None) -> None:
        """The session closes: DAY orders expire (the calendar wiring calls this), in
        ``contracts`` (those whose exchange's day ended) or in every contract."""
        self.advance()
        for order in tuple(self.orders.values()):
            if order.time_in_force is TimeInForce.DAY and (
                contracts is None or order.contract_id in contracts
            ):
                self.expire(order)

    def start_of_day(self, contracts: Collection[ContractId] | None = None) -> None:
        """A new trading day in ``contracts`` (or every contract): today's books become
        yesterday's, the band re-centres on the last mark (the settlement); with every
        contract, yesterday's finished orders are forgotten too."""
        self.advance()
        for cid, book in self.account_book.books.items():
            if contracts is None or cid in contracts:
                book.roll_day()
        for cid, market in self.markets.items():
            if market.mark_ticks is not None and (contracts is None or cid in contracts):
                market.set_reference(market.mark_ticks)
        if contracts is None:
            self.status.clear()

    def _late_fill(self, order: SimOrder, lots: int) -> None:
        """A fill that matched just before a cancel took effect, reported after it.
        The order is already finished (its working lots released); the fill is real."""
        market = self.markets[order.contract_id]
        price = order.limit_ticks if order.limit_ticks is not None else market.mark_ticks
        if price is None or lots <= 0:
            return
        self.record_fill(order, lots, price)
        done = self.status[order.client_order_id]
        self.status[order.client_order_id] = OrderStatusRecord(
            client_order_id=done.client_order_id,
            status=(
                VenueOrderStatus.FILLED
                if order.filled == order.quantity
                else VenueOrderStatus.CANCELED
            ),
            filled=order.filled,
            venue_order_id=done.venue_order_id,
            timestamp=done.timestamp,
        )
