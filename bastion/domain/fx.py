"""Exchange rates to an account's base currency (R2.1, R6): one table, no I/O.

An account has one *base currency* (the profile's ``currency``). Every contract trades
in its own currency (``ContractSpec.currency``); money of a contract (P&L, margin,
notional, commissions) is converted to the base currency by multiplying by the rate
``base units per one unit of the contract's currency`` (``CNY: 0.1385`` on a USD
account: one yuan is 0.1385 dollars). The base currency's own rate is 1.

A rate is *fixed* (written in a sim or backtest profile: it has no date and never goes
stale) or *dated* (from the rates file the data update writes: each rate carries the
day it was observed). A dated rate older than ``max_age_days`` calendar days on the day
it is used is *stale*. A missing or stale rate is never guessed: ``problem`` says why
in one line, ``factor`` returns ``None``, and every caller fails closed for the
instruments in that currency (the risk engine refuses their orders, equity that holds
them is unknown, reports say "no rate").

``FxTable.identity(currency)`` is the table of an account that trades only in its own
currency: any other currency has no rate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["FxRate", "FxTable"]


@dataclass(frozen=True, slots=True)
class FxRate:
    """One currency's rate to the base currency."""

    currency: str
    rate: Decimal
    """Base-currency units per one unit of ``currency``."""
    as_of: dt.date | None = None
    """The day the rate was observed; ``None``: a fixed rate (sim and backtests)."""
    source: str = ""

    def __post_init__(self) -> None:
        if not self.rate.is_finite() or self.rate <= 0:
            raise ValueError(f"rate for {self.currency} must be a positive number, got {self.rate}")


@dataclass(frozen=True, slots=True)
class FxTable:
    """The rates of one account; see the module docstring."""

    base: str
    rates: Mapping[str, FxRate] = field(default_factory=dict)
    max_age_days: int | None = None
    """A dated rate older than this (calendar days) is stale; ``None``: never stale."""
    where: str = ""
    """Where the rates came from (``profile fx.rates``, a rates file's path), for messages."""

    @classmethod
    def identity(cls, base: str) -> FxTable:
        return cls(base=base, where="no rates configured")

    @classmethod
    def fixed(cls, base: str, rates: Mapping[str, Decimal], where: str = "") -> FxTable:
        return cls(
            base=base,
            rates={c: FxRate(c, Decimal(r), None, where) for c, r in rates.items() if c != base},
            where=where,
        )

    def problem(self, currency: str, today: dt.date | None = None) -> str | None:
        """Why ``currency`` cannot be converted to the base on ``today``, or ``None``."""
        if currency == self.base:
            return None
        found = self.rates.get(currency)
        where = f" ({self.where})" if self.where else ""
        if found is None:
            return f"no rate from {currency} to {self.base}{where}"
        if (
            found.as_of is not None
            and self.max_age_days is not None
            and today is not None
            and (today - found.as_of).days > self.max_age_days
        ):
            age = (today - found.as_of).days
            return (
                f"no fresh rate from {currency} to {self.base}: the rate of {found.as_of} is"
                f" {age} days old on {today}, over the limit of {self.max_age_days}{where}"
            )
        return None

    def factor(self, currency: str, today: dt.date | None = None) -> Decimal | None:
        """Base units per unit of ``currency`` on ``today``; ``None`` if missing or stale."""
        if currency == self.base:
            return Decimal(1)
        if self.problem(currency, today) is not None:
            return None
        return self.rates[currency].rate

    def convert(
        self, amount: Decimal, currency: str, today: dt.date | None = None
    ) -> Decimal | None:
        """``amount`` of ``currency`` in the base currency, or ``None`` without a rate."""
        rate = self.factor(currency, today)
        return None if rate is None else amount * rate

    def usable(self, today: dt.date | None = None) -> dict[str, Decimal]:
        """``{currency: rate}`` of every rate usable on ``today`` (what reports take):
        a currency left out reads "no rate" there."""
        return {c: r.rate for c, r in self.rates.items() if self.problem(c, today) is None}
