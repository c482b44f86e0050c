"""Invariant: money in another currency converts to the base currency only at a known,
fresh rate; a missing or stale rate is never taken as 1 and says why in one line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bastion.domain.fx import FxRate, FxTable

DAY = dt.date(2024, 4, 30)


def test_fx_fixed_rate_converts_and_base_is_one() -> None:
    table = FxTable.fixed("USD", {"CNY": Decimal("0.1385")}, "profile fx.rates")
    assert table.convert(Decimal(-1550), "CNY") == Decimal("-214.6750")
    assert table.factor("USD") == 1
    assert table.problem("CNY", DAY) is None  # a fixed rate has no date: never stale


def test_fx_missing_rate_is_none_with_reason() -> None:
    table = FxTable.identity("USD")
    assert table.factor("CNY") is None
    assert table.convert(Decimal(100), "CNY") is None
    assert table.problem("CNY") == "no rate from CNY to USD (no rates configured)"


@pytest.mark.parametrize(("age", "fresh"), [(3, True), (4, True), (5, False)])
def test_fx_dated_rate_stale_after_max_age_boundary(age: int, fresh: bool) -> None:
    rate = FxRate("CNY", Decimal("0.14"), DAY - dt.timedelta(days=age), "PBOC")
    table = FxTable("USD", {"CNY": rate}, max_age_days=4, where="rates file x")
    assert (table.factor("CNY", DAY) is not None) is fresh
    if not fresh:
        problem = table.problem("CNY", DAY)
        assert problem is not None
        assert "5 days old on 2024-04-30, over the limit of 4" in problem
        assert table.usable(DAY) == {}
    else:
        assert table.usable(DAY) == {"CNY": Decimal("0.14")}


def test_fx_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        FxRate("CNY", Decimal(0))
