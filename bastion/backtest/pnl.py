"""Profit and loss from fills and marks, exact: integer ticks per instrument, money at the edge.

Cash-flow method: each fill moves cash by -quantity x price; equity is cash plus the
position marked at the last price, times the tick value, less commissions. Rolls need no
special case: closing the old contract and opening the new are ordinary fills.

Currencies: each instrument's P&L and commissions are in its contract's currency
(``*_by_currency``); ``gross``, ``net`` and ``commissions`` are in the account's base
currency at the rates of ``fx`` (``bastion.domain.fx``). A currency with money in it
and no usable rate makes those totals unknown (``None``): never a one-for-one sum.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.fills import Fill
from bastion.domain.fx import FxTable
from bastion.domain.ids import ContractId, InstrumentId

__all__ = ["PnlBook"]

_ONE = Decimal(1)


def _no_day() -> dt.date | None:
    return None


@dataclass(slots=True)
class PnlBook:
    specs: Mapping[InstrumentId, ContractSpec]
    fx: FxTable | None = None
    """Rates to the base currency; ``None``: every spec is in the first spec's currency
    (any other currency has no rate)."""
    today: Callable[[], dt.date | None] = _no_day
    """The account's trading day now (a dated rate's age is counted to it)."""
    cash_ticks: dict[InstrumentId, int] = field(default_factory=dict)
    positions: dict[ContractId, int] = field(default_factory=dict)
    marks: dict[ContractId, int] = field(default_factory=dict)
    commissions_by: dict[str, Decimal] = field(default_factory=dict)
    """Commissions per currency (each fill's in its contract's currency)."""
    traded_lots: int = 0
    fills: int = 0
    _instrument_of: dict[ContractId, InstrumentId] = field(default_factory=dict)
    _factor_day: tuple[dt.date | None] | None = None
    _factors: dict[str, Decimal | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fx is None:
            first = next(iter(self.specs.values())).currency if self.specs else "USD"
            self.fx = FxTable.identity(first)

    @property
    def base(self) -> str:
        assert self.fx is not None  # noqa: S101 - set in __post_init__
        return self.fx.base

    def on_fill(self, fill: Fill) -> None:
        iid, _ = parse_contract_id(fill.contract_id)
        q = fill.signed_quantity
        self.cash_ticks[iid] = self.cash_ticks.get(iid, 0) - q * fill.price_ticks
        self.positions[fill.contract_id] = self.positions.get(fill.contract_id, 0) + q
        if fill.commission:
            currency = self.specs[iid].currency
            self.commissions_by[currency] = (
                self.commissions_by.get(currency, Decimal(0)) + fill.commission
            )
        self.traded_lots += fill.quantity
        self.fills += 1

    def mark(self, contract_id: ContractId, ticks: int) -> None:
        self.marks[contract_id] = ticks

    def gross_by_currency(self) -> dict[str, Decimal]:
        """Trading P&L before commissions, per currency (exact: integer ticks per
        instrument, one Decimal product each)."""
        by_instrument: dict[InstrumentId, int] = dict(self.cash_ticks)
        marks = self.marks
        instrument_of = self._instrument_of
        for cid, pos in self.positions.items():
            if pos:
                iid = instrument_of.get(cid)
                if iid is None:
                    iid = instrument_of[cid] = parse_contract_id(cid)[0]
                by_instrument[iid] = by_instrument.get(iid, 0) + pos * marks.get(cid, 0)
        out: dict[str, Decimal] = {}
        for iid, ticks in by_instrument.items():
            if ticks:
                spec = self.specs[iid]
                out[spec.currency] = out.get(spec.currency, Decimal(0)) + ticks * spec.tick_value
        return out

    def net_by_currency(self) -> dict[str, Decimal]:
        out = self.gross_by_currency()
        for currency, paid in self.commissions_by.items():
            out[currency] = out.get(currency, Decimal(0)) - paid
        return out

    def _factor(self, currency: str) -> Decimal | None:
        assert self.fx is not None  # noqa: S101 - set in __post_init__
        if currency == self.fx.base:
            return _ONE
        day = (self.today(),)
        if day != self._factor_day:
            self._factor_day = day
            self._factors = {}
        if currency not in self._factors:
            self._factors[currency] = self.fx.factor(currency, day[0])
        return self._factors[currency]

    def to_base(self, amounts: Mapping[str, Decimal]) -> Decimal | None:
        """The sum of ``amounts`` in the base currency; ``None`` when a currency with a
        non-zero amount has no usable rate."""
        total = Decimal(0)
        for currency, amount in amounts.items():
            if not amount:
                continue
            rate = self._factor(currency)
            if rate is None:
                return None
            total += amount * rate
        return total

    def missing_rates(self) -> list[str]:
        """Currencies with money in them and no usable rate (what makes totals unknown)."""
        amounts = self.net_by_currency()
        return sorted(c for c, a in amounts.items() if a and self._factor(c) is None)

    def gross(self) -> Decimal | None:
        """Trading P&L before commissions in the base currency (``None``: no rate).
        This runs on every equity mark (each bar): one Decimal product per instrument
        with money in it, at its tick value in the base currency."""
        by_instrument: dict[InstrumentId, int] = dict(self.cash_ticks)
        marks = self.marks
        instrument_of = self._instrument_of
        for cid, pos in self.positions.items():
            if pos:
                iid = instrument_of.get(cid)
                if iid is None:
                    iid = instrument_of[cid] = parse_contract_id(cid)[0]
                by_instrument[iid] = by_instrument.get(iid, 0) + pos * marks.get(cid, 0)
        total = Decimal(0)
        specs = self.specs
        for iid, ticks in by_instrument.items():
            if ticks:
                spec = specs[iid]
                rate = self._factor(spec.currency)
                if rate is None:
                    return None
                total += ticks * spec.tick_value * rate
        return total

    @property
    def commissions(self) -> Decimal | None:
        """Commissions in the base currency (``None``: no rate)."""
        return self.to_base(self.commissions_by)

    def net(self) -> Decimal | None:
        gross = self.gross()
        paid = self.commissions
        return None if gross is None or paid is None else gross - paid
