"""Invariant: price <-> tick conversion is exact and refuses off-tick prices; no floats."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.domain.contracts import (
    ContractSpec,
    OffTickError,
    Rounding,
    contract_id,
    parse_contract_id,
)
from bastion.domain.ids import InstrumentId

ES = ContractSpec(
    instrument_id=InstrumentId("ES"),
    exchange="CME",
    currency="USD",
    tick_size=Decimal("0.25"),
    multiplier=Decimal(50),
)
TICKS = st.sampled_from(
    [Decimal("0.25"), Decimal("0.01"), Decimal("0.0001"), Decimal(1), Decimal(5)]
)


@given(tick=TICKS, ticks=st.integers(min_value=-(10**9), max_value=10**9))
def test_ticks_roundtrip_any_tick_size_exact(tick: Decimal, ticks: int) -> None:
    spec = ContractSpec(InstrumentId("X"), "X", "USD", tick, Decimal(1))
    assert spec.to_ticks(spec.from_ticks(ticks)) == ticks


def test_to_ticks_off_tick_price_raises_with_instrument_and_tick() -> None:
    with pytest.raises(OffTickError, match=r"ES: price 4500.10 is not a multiple of the tick 0.25"):
        ES.to_ticks("4500.10")


def test_round_to_ticks_directions_passive_prices() -> None:
    assert ES.round_to_ticks("4500.10", Rounding.DOWN) == ES.to_ticks("4500.00")
    assert ES.round_to_ticks("4500.10", Rounding.UP) == ES.to_ticks("4500.25")
    assert ES.round_to_ticks("4500.10", Rounding.NEAREST) == ES.to_ticks("4500.00")


def test_to_ticks_non_number_raises_value_error() -> None:
    with pytest.raises(ValueError, match="not a decimal"):
        ES.to_ticks("abc")


def test_contract_spec_nonpositive_tick_refused() -> None:
    with pytest.raises(ValueError, match="tick size must be positive"):
        ContractSpec(InstrumentId("X"), "X", "USD", Decimal(0), Decimal(1))


def test_notional_and_margin_exact() -> None:
    ticks = ES.to_ticks("4000")
    assert ES.notional(ticks, -2) == Decimal(400000)
    assert ES.margin(ticks, 2) == Decimal(40000)


def test_contract_id_malformed_month_refused() -> None:
    assert parse_contract_id(contract_id("ES", "202412")) == ("ES", "202412")
    with pytest.raises(ValueError, match="month 13"):
        parse_contract_id("ES/202413")
    with pytest.raises(ValueError, match="INSTRUMENT/YYYYMM"):
        parse_contract_id("ES-202412")
