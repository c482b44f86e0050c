"""Exposure and margin from the book: positions plus working orders, per contract,
per instrument and per strategy. Pure reads of the book and the market view.

Margin is money in the account's base currency: each contract's margin (in its own
currency) times the rate of its currency (``bastion.domain.fx``). A held contract whose
currency has no usable rate makes the total unknown (``None``), never a 1:1 sum."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Protocol

from bastion.domain.book import Book
from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import Side
from bastion.domain.fx import FxTable
from bastion.domain.ids import ContractId, InstrumentId, StrategyId
from bastion.domain.market import MarketView
from bastion.domain.records import BrokerOrderCreated
from bastion.risk.checks import Exposure

__all__ = ["ExposureView", "HasBook"]


class HasBook(Protocol):
    """Anything that holds the live book: ``OrderManager``, a ledger, a store."""

    @property
    def book(self) -> Book: ...


class ExposureView:
    def __init__(
        self,
        ledger: HasBook,
        specs: Mapping[InstrumentId, ContractSpec],
        market: MarketView,
        instrument_of: Callable[[ContractId], InstrumentId],
        *,
        fx: FxTable | None = None,
        today: Callable[[], dt.date | None] = lambda: None,
    ) -> None:
        self._ledger = ledger
        self.specs = specs
        self.market = market
        self.instrument_of = instrument_of
        self.fx = fx if fx is not None else FxTable.identity(_first_currency(specs))
        self.today = today
        """The account's trading day now (a dated rate's age is counted to it)."""
        self._factor_day: dt.date | None = None
        self._factors: dict[InstrumentId, Decimal | None] = {}
        self._margin_per_tick: dict[InstrumentId, float | None] = {}

    def factor(self, instrument: InstrumentId) -> Decimal | None:
        """Base-currency units per unit of the instrument's currency today, or ``None``
        (no spec, no rate, or a stale one). Cached for the day."""
        day = self.today()
        if day != self._factor_day or not self._factors:
            self._factor_day = day
            self._factors = {
                iid: self.fx.factor(spec.currency, day) for iid, spec in self.specs.items()
            }
            self._margin_per_tick = {
                iid: None if f is None else float(spec.tick_value * spec.margin_rate * f)
                for (iid, spec), f in zip(self.specs.items(), self._factors.values(), strict=True)
            }
        return self._factors.get(instrument)

    def margin_in_use_estimate(self) -> float | None:
        """``margin_in_use`` in floats, for the monitor's every-mark check (cheap); the
        exact ``margin_in_use`` is taken when the estimate is near or above a mark."""
        total = 0.0
        quote_of = self.market.quote
        positions = self.book.positions.contract
        if positions:
            self.factor(next(iter(positions))[0])  # refresh the day's rates
        per_tick = self._margin_per_tick
        for (instrument, cid), lots in positions.items():
            rate = per_tick.get(instrument)
            quote = quote_of(cid)
            mark = None if quote is None else quote.reference_ticks
            if rate is None or mark is None:
                return None
            total += abs(lots) * abs(mark) * rate
        return total

    @property
    def book(self) -> Book:
        return self._ledger.book

    def exposures(
        self, order: BrokerOrderCreated, instrument: InstrumentId, strategy: StrategyId | None
    ) -> tuple[Exposure, Exposure, Exposure | None]:
        book = self.book
        positions = book.positions
        contract = Exposure(positions.contract_position(order.contract_id))
        inst = Exposure(positions.instrument_position(instrument))
        strat = (
            None if not strategy else Exposure(positions.strategy_position(strategy, instrument))
        )
        for live in book.broker_orders.values():
            working = live.working
            if not working or live.client_order_id == order.client_order_id:
                continue
            if self.instrument_of(live.contract_id) != instrument:
                continue
            targets = [inst]
            if live.contract_id == order.contract_id:
                targets.append(contract)
            if strat is not None and live.strategy_id == strategy:
                targets.append(strat)
            for exposure in targets:
                if live.side is Side.BUY:
                    exposure.buying += working
                else:
                    exposure.selling += working
        return contract, inst, strat

    def contract_exposures(self) -> dict[ContractId, Exposure]:
        """Every contract with a position or working orders."""
        book = self.book
        out = {cid: Exposure(q) for (_, cid), q in book.positions.contract.items()}
        for live in book.broker_orders.values():
            working = live.working
            if working:
                exposure = out.setdefault(live.contract_id, Exposure())
                if live.side is Side.BUY:
                    exposure.buying += working
                else:
                    exposure.selling += working
        return out

    def margin(self, order: BrokerOrderCreated) -> tuple[Decimal | None, Decimal | None]:
        """Initial margin of the worst case of every contract, without and with ``order``,
        in the base currency."""
        before = after = Decimal(0)
        exposures = self.contract_exposures()
        exposures.setdefault(order.contract_id, Exposure())
        for cid, exposure in exposures.items():
            instrument = self.instrument_of(cid)
            spec = self.specs.get(instrument)
            quote = self.market.quote(cid)
            mark = None if quote is None else quote.reference_ticks
            if cid == order.contract_id and mark is None:
                mark = order.limit_ticks or order.stop_ticks
            worst = exposure.worst()
            worst_after = (
                exposure.worst_with(order.side, order.quantity)
                if cid == order.contract_id
                else worst
            )
            if not worst_after and not worst:
                continue
            rate = self.factor(instrument)
            if spec is None or mark is None or rate is None:
                return None, None
            before += spec.margin(mark, worst) * rate
            after += spec.margin(mark, worst_after) * rate
        return before, after

    def margin_in_use(self) -> Decimal | None:
        """Initial margin of the positions held (not working orders), at current marks,
        in the base currency."""
        total = Decimal(0)
        for (instrument, cid), lots in self.book.positions.contract.items():
            quote = self.market.quote(cid)
            mark = None if quote is None else quote.reference_ticks
            spec = self.specs.get(instrument)
            rate = self.factor(instrument)
            if spec is None or mark is None or rate is None:
                return None
            total += spec.margin(mark, lots) * rate
        return total


def _first_currency(specs: Mapping[InstrumentId, ContractSpec]) -> str:
    return next(iter(specs.values())).currency if specs else "USD"
