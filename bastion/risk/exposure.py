"""Exposure and margin from the book: positions plus working orders, per contract,
per instrument and per strategy. Pure reads of the book and the market view."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Protocol

from bastion.domain.book import Book
from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import Side
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
    ) -> None:
        self._ledger = ledger
        self.specs = specs
        self.market = market
        self.instrument_of = instrument_of
        self._margin_per_tick: dict[InstrumentId, float] = {
            iid: float(spec.tick_value * spec.margin_rate) for iid, spec in specs.items()
        }

    def margin_in_use_estimate(self) -> float | None:
        """``margin_in_use`` in floats, for the monitor's every-mark check (cheap); the
        exact ``margin_in_use`` is taken when the estimate is near or above a mark."""
        total = 0.0
        quote_of = self.market.quote
        per_tick = self._margin_per_tick
        for (instrument, cid), lots in self.book.positions.contract.items():
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
        """Initial margin of the worst case of every contract, without and with ``order``."""
        before = after = Decimal(0)
        exposures = self.contract_exposures()
        exposures.setdefault(order.contract_id, Exposure())
        for cid, exposure in exposures.items():
            spec = self.specs.get(self.instrument_of(cid))
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
            if spec is None or mark is None:
                return None, None
            before += spec.margin(mark, worst)
            after += spec.margin(mark, worst_after)
        return before, after

    def margin_in_use(self) -> Decimal | None:
        """Initial margin of the positions held (not working orders), at current marks."""
        total = Decimal(0)
        for (instrument, cid), lots in self.book.positions.contract.items():
            quote = self.market.quote(cid)
            mark = None if quote is None else quote.reference_ticks
            spec = self.specs.get(instrument)
            if spec is None or mark is None:
                return None
            total += spec.margin(mark, lots)
        return total
