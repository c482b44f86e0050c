"""Money and prices as a person reads them: every amount carries its currency, every
price is in price units (never ticks), and a total in the base currency is shown only
where a rate for every currency in it was supplied.

This module converts nothing by itself: a base-currency total is the sum of each
currency's amount times the rate the caller supplied (``{currency: rate to base}``;
the base currency's own rate is 1). A currency without a rate makes the total
unknown, and the text says which rate is missing ("no rate for CNY") instead of
adding unlike amounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from bastion.domain.contracts import ContractSpec

__all__ = [
    "NO_QUOTE",
    "NO_REFERENCE",
    "BaseTotal",
    "Money",
    "format_amount",
    "format_money",
    "format_price",
    "money_text",
    "price_of",
    "to_base",
    "to_decimal_money",
]

NO_REFERENCE = "no reference"
"""Said where a cost figure needs a reference price the order did not carry."""
NO_QUOTE = "no quote"
"""Said where a cost figure needs a market quote taken when the order was generated."""

CENT = Decimal("0.01")


def to_decimal_money(value: Fraction | Decimal | int) -> Decimal:
    """An exact fraction or integer as a Decimal rounded to the cent (half-even)."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(value).quantize(CENT)


def format_amount(amount: Decimal | float, *, signed: bool = False) -> str:
    """``1,234.50`` (or ``+1,234.50`` with ``signed``); minus zero prints as zero."""
    value = Decimal(str(amount)) if isinstance(amount, float) else amount
    value = value.quantize(CENT) + 0  # "+ 0" turns -0.00 into 0.00
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def format_money(amount: Decimal | float, currency: str, *, signed: bool = False) -> str:
    return f"{format_amount(amount, signed=signed)} {currency}"


def money_text(amount: object, currency: str) -> str:
    """An amount as stored in a snapshot (a decimal string, perhaps "unknown") as money:
    ``1011242.5`` in USD prints ``1,011,242.50 USD``; what is not a finite number is
    printed as it is."""
    try:
        value = Decimal(str(amount))
    except (ArithmeticError, ValueError):
        return str(amount)
    if not value.is_finite():
        return str(amount)
    return format_money(value, currency)


def price_of(ticks: int | Fraction | float, spec: ContractSpec) -> Decimal:
    """A price in price units from a (possibly fractional, averaged) tick count."""
    if isinstance(ticks, float):
        return Decimal(str(ticks)) * spec.tick_size
    if isinstance(ticks, Fraction):
        return Decimal(ticks.numerator) * spec.tick_size / Decimal(ticks.denominator)
    return ticks * spec.tick_size


def format_price(ticks: int | Fraction | float | None, spec: ContractSpec | None) -> str:
    """The price in price units with the tick's decimals (plus two more for an average).

    ``None`` prints as ``-``; without a spec the tick count is shown and labelled so a
    reader never mistakes it for a price.
    """
    if ticks is None:
        return "-"
    if spec is None:
        return f"{ticks} ticks (no contract spec)"
    places = max(0, -int(spec.tick_size.normalize().as_tuple().exponent))
    whole = isinstance(ticks, int) or (isinstance(ticks, Fraction) and ticks.denominator == 1)
    if not whole:
        places += 2
    value = price_of(ticks, spec).quantize(Decimal(1).scaleb(-places))
    return f"{value:,.{places}f}"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency."""

    amount: Decimal
    currency: str

    def text(self, *, signed: bool = False) -> str:
        return format_money(self.amount, self.currency, signed=signed)


@dataclass(frozen=True, slots=True)
class BaseTotal:
    """A sum over currencies in the base currency, or which rates it lacks."""

    currency: str
    amount: Decimal | None
    missing: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return self.amount is not None

    def text(self, *, signed: bool = False) -> str:
        if self.amount is None:
            return f"no rate for {', '.join(self.missing)}"
        return format_money(self.amount, self.currency, signed=signed)


def to_base(
    amounts: Mapping[str, Decimal] | Iterable[tuple[str, Decimal]],
    base: str,
    rates: Mapping[str, Decimal] | None = None,
) -> BaseTotal:
    """Sum ``amounts`` (currency -> amount) in ``base`` using ``rates`` (currency -> rate
    to base). A currency with no rate (other than the base) and a non-zero amount makes
    the total unknown."""
    pairs = amounts.items() if isinstance(amounts, Mapping) else amounts
    total = Decimal(0)
    missing: list[str] = []
    for currency, amount in pairs:
        if currency == base or amount == 0:  # zero is zero whatever the rate
            total += amount
            continue
        rate = (rates or {}).get(currency)
        if rate is None:
            if currency not in missing:
                missing.append(currency)
            continue
        total += amount * rate
    if missing:
        return BaseTotal(base, None, tuple(sorted(missing)))
    return BaseTotal(base, total.quantize(CENT))
