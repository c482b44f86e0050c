"""Invariant (R11.3, issue 15): volatility scaling and analytics are annualised by the
data, never a constant. The vol-target strategy deciding on hourly bars sizes by the
volatility of daily closes (one per trading day of the instrument's exchange calendar),
annualised with that calendar's trading days per year: its position equals a by-hand
daily computation. Analytics take one equity point per account trading day and the
account calendar's trading days per year."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bastion.backtest.analytics import analyse
from bastion.backtest.session import finish_session, prepare_session
from bastion.domain.ids import ContractId
from bastion.domain.targets import Target
from bastion.marketdata.calendars import calendar_for, trading_days_per_year
from bastion.marketdata.specs import SpecRegistry
from bastion.strategy.examples import VolTargetedTrend
from tests.integration.sim_profiles import sim_profile

REG = SpecRegistry.bundled()


def test_trading_days_per_year_from_calendars() -> None:
    day = dt.date(2024, 2, 1)
    cme = trading_days_per_year(calendar_for(REG["SP500"]), day)
    china = trading_days_per_year(calendar_for(REG["rb"]), day)
    # CME Globex trades most US holidays (early closes): 258 sessions in the year to
    # 2024-02-01 in exchange_calendars' CMES; 248 on the Chinese exchanges.
    assert cme == len(calendar_for(REG["SP500"]).trading_days(dt.date(2023, 2, 2), day))
    assert 250 <= cme <= 260
    assert 235 <= china <= 250
    assert cme != china


def test_vol_target_hourly_decisions_equal_daily_vol_by_hand(
    tmp_path: Path, bundled_sample: Path
) -> None:
    profile = sim_profile(
        tmp_path, bundled_sample, strategy_line="vol_target", instruments=["SP500"]
    )
    prepared = prepare_session(profile, kind="backtest", end=dt.date(2024, 2, 29))
    (strategy,) = prepared.runner.strategies
    assert isinstance(strategy, VolTargetedTrend)
    decisions: list[tuple[dt.datetime, float]] = []
    closes: list[tuple[dt.datetime, int]] = []
    inner: Callable[..., Target | None] = strategy.on_bar

    def record(close_ticks: int, contract_id: ContractId, when: dt.datetime) -> Any:
        closes.append((when, close_ticks))
        target = inner(close_ticks, contract_id, when)
        average = strategy.sizer.average_position()
        if strategy._n % 60 == 0 and average is not None:
            decisions.append((when, average))
        return target

    strategy.on_bar = record  # type: ignore[method-assign]
    for item in prepared.bars:
        prepared.runner.on_bar(item)
    finish_session(prepared)

    calendar = calendar_for(REG["SP500"])
    per_year = trading_days_per_year(calendar, dt.date(2024, 2, 1))
    spec = REG["SP500"].contract
    capital, multiplier, tick = 1_000_000.0, float(spec.multiplier), float(spec.tick_size)
    assert len(decisions) > 100
    hourly_ratios = []
    for when, average in decisions:
        day = calendar.trading_day_of(when)
        daily: dict[dt.date, int] = {}
        for at, close in closes:
            if at > when:
                break
            daily[calendar.trading_day_of(at)] = close  # the day's last close so far
        completed = [daily[d] * tick for d in sorted(daily) if d < day]
        changes = [b - a for a, b in itertools.pairwise(completed)][-25:]
        by_hand = capital * 0.2 / (statistics.stdev(changes) * multiplier * math.sqrt(per_year))
        assert average == pytest.approx(by_hand, rel=1e-12)
        hourly = [
            closes[i][1] - closes[i - 60][1]
            for i in range(60, len(closes))
            if closes[i][0] <= when and i % 60 == 0
        ][-25:]
        if len(hourly) >= 2:
            old = capital * 0.2 / (statistics.stdev(hourly) * tick * multiplier * math.sqrt(256))
            hourly_ratios.append(old / average)
    # The old constant on hourly changes sized positions several times too large.
    assert statistics.mean(hourly_ratios) > 3


def test_analytics_one_point_per_trading_day_annualised_by_calendar(
    tmp_path: Path, bundled_sample: Path
) -> None:
    profile = sim_profile(tmp_path, bundled_sample)
    prepared = prepare_session(profile, kind="backtest", end=dt.date(2024, 2, 29))
    for item in prepared.bars:
        prepared.runner.on_bar(item)
    result = finish_session(prepared)
    calendar = calendar_for(REG["SP500"])
    # Every point is a CME trading day (no Sunday-evening stubs), each once.
    sessions = calendar.trading_days(dt.date(2024, 2, 1), dt.date(2024, 3, 1))
    assert result.days == sessions
    assert len([d for d in result.days if d.month == 2]) == 21  # Globex trades 19 Feb too
    assert all(d.weekday() < 5 for d in result.days)
    per_year = trading_days_per_year(calendar, dt.date(2024, 2, 1))
    assert result.periods_per_year == per_year != 256
    # From capital, as the backtest report: the first day's return is in the figures.
    equity = [float(profile.capital), *(e for _, e in result.equity)]
    assert result.analytics.total_return == pytest.approx(equity[-1] / equity[0] - 1, rel=1e-12)
    assert equity[1] != equity[0]
    returns = [b / a - 1 for a, b in itertools.pairwise(equity)]
    by_hand = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(per_year)
    assert result.analytics.sharpe == pytest.approx(by_hand, rel=1e-9)
    assert analyse(equity, 0, 256).sharpe != pytest.approx(by_hand, rel=1e-6)
