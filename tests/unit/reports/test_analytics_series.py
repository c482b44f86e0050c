"""Invariant: the report's series are right: the underwater curve is zero at every new
high and negative below it (never filled from the bottom); monthly returns compound
from the capital; rolling statistics wait for a full window; a sample under a year of
trading days is flagged wherever an annualised figure is shown."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from bastion.backtest.analytics import (
    analyse,
    is_short_sample,
    monthly_returns,
    rolling_sharpe,
    rolling_volatility,
    short_sample_caveat,
    underwater,
)


def test_underwater_zero_at_new_highs_negative_below() -> None:
    assert underwater([100, 110, 99, 121, 121, 60]) == pytest.approx(
        [0.0, 0.0, -0.1, 0.0, 0.0, 60 / 121 - 1]
    )
    assert underwater([5.0, 5.0, 5.0]) == [0.0, 0.0, 0.0]
    assert underwater([]) == []


def test_underwater_deepest_point_is_max_drawdown() -> None:
    equity = [100.0, 120.0, 90.0, 130.0, 117.0]
    assert -min(underwater(equity)) == pytest.approx(analyse(equity).max_drawdown)


def test_monthly_returns_compound_from_capital() -> None:
    days = [dt.date(2024, 1, 30), dt.date(2024, 1, 31), dt.date(2024, 2, 1), dt.date(2024, 2, 29)]
    months = monthly_returns(days, [101.0, 102.0, 99.0, 107.1], start_equity=100.0)
    assert [(m.year, m.month) for m in months] == [(2024, 1), (2024, 2)]
    assert months[0].value == pytest.approx(0.02)
    assert months[1].value == pytest.approx(107.1 / 102.0 - 1)


def test_rolling_statistics_wait_for_full_window() -> None:
    returns = [0.01, -0.02, 0.03, 0.0, 0.01]
    sharpe = rolling_sharpe(returns, window=3, periods_per_year=256)
    vol = rolling_volatility(returns, window=3, periods_per_year=256)
    assert sharpe[:2] == [None, None]
    assert vol[:2] == [None, None]
    window = returns[2:5]
    mean = sum(window) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in window) / 2)
    assert vol[4] == pytest.approx(std * 16)
    assert sharpe[4] == pytest.approx(mean / std * 16)
    assert rolling_sharpe([0.01] * 4, window=2) == [None] * 4  # no variation, no ratio


def test_short_sample_flagged_under_a_year() -> None:
    assert is_short_sample(78)
    assert not is_short_sample(256)
    assert "under one year" in short_sample_caveat(22)
    assert short_sample_caveat(300) == ""
