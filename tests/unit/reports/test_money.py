"""Invariant: every money figure carries its currency; a base-currency total is the sum
of each currency times the caller's rate, and says which rate is missing instead of
adding unlike amounts; prices print in price units with the tick's decimals."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import InstrumentId
from bastion.reports.money import format_amount, format_price, money_text, to_base

ES = ContractSpec(InstrumentId("SP500"), "CME", "USD", Decimal("0.25"), Decimal(50))
RB = ContractSpec(InstrumentId("rb"), "SHFE", "CNY", Decimal(1), Decimal(10))


def test_to_base_missing_rate_names_currency_no_total() -> None:
    total = to_base({"USD": Decimal(100), "CNY": Decimal(700)}, "USD")
    assert total.amount is None
    assert total.text() == "no rate for CNY"


def test_to_base_with_rates_converts_each_currency() -> None:
    total = to_base(
        {"USD": Decimal(100), "CNY": Decimal(700), "EUR": Decimal(-10)},
        "USD",
        {"CNY": Decimal("0.14"), "EUR": Decimal("1.1")},
    )
    assert total.amount == Decimal("187.00")
    assert total.text(signed=True) == "+187.00 USD"


def test_to_base_zero_amount_needs_no_rate() -> None:
    assert to_base({"USD": Decimal(5), "CNY": Decimal(0)}, "USD").amount == Decimal("5.00")


def test_format_price_ticks_to_price_units() -> None:
    assert format_price(19_795, ES) == "4,948.75"
    assert format_price(3_922, RB) == "3,922"
    assert format_price(Fraction(39_581, 2), ES) == "4,947.6250"
    assert format_price(None, ES) == "-"
    assert format_price(12, None) == "12 ticks (no contract spec)"


def test_format_amount_minus_zero_prints_zero() -> None:
    assert format_amount(Decimal("-0.001")) == "0.00"
    assert format_amount(Decimal("-1234.5"), signed=True) == "-1,234.50"


def test_money_text_snapshot_decimal_separators_two_places_currency() -> None:
    assert money_text("1011242.5", "USD") == "1,011,242.50 USD"
    assert money_text("0", "CNY") == "0.00 CNY"
    assert money_text("unknown", "USD") == "unknown"
    assert money_text("NaN", "USD") == "NaN"
