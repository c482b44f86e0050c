"""Performance analytics from a daily equity series (R11.3).

Returns compound; Sharpe and Sortino are annualised from daily returns, one per
trading day of the account's calendar, with that calendar's trading days per year
(``periods_per_year``, never a constant 256) (Sortino's
downside deviation is taken over *all* periods, counting non-negative ones as zero);
max drawdown is the largest peak-to-trough fall of equity as a fraction of the peak.

The series functions below feed the backtest report (``bastion.reports.backtest``):
the underwater curve (zero at every new high, negative below it), compounded monthly
returns, rolling Sharpe ratio and volatility (annualised, over a window of trading
days), and whether a sample is too short for an annualised figure to mean much. They
are built on polars' windowed and grouped expressions rather than loops written here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import polars as pl

__all__ = [
    "TRADING_DAYS_PER_YEAR",
    "Analytics",
    "MonthlyReturn",
    "analyse",
    "daily_returns",
    "evaluate_signal",
    "is_short_sample",
    "monthly_returns",
    "rolling_sharpe",
    "rolling_volatility",
    "short_sample_caveat",
    "underwater",
]

TRADING_DAYS_PER_YEAR = 252
"""Only a fallback: callers pass the account calendar's own trading days per year
(``bastion.marketdata.calendars.trading_days_per_year``: 258 sessions a year on CME
Globex, which trades most US holidays; 242 to 248 in China), with one daily point per
account trading day."""


@dataclass(frozen=True, slots=True)
class Analytics:
    days: int
    total_return: float
    annual_return: float
    sharpe: float
    sortino: float
    max_drawdown: float
    win_rate: float
    turnover: float
    """Lots traded per day on average."""

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def analyse(
    equity: Sequence[float], traded_lots: int = 0, periods_per_year: int = TRADING_DAYS_PER_YEAR
) -> Analytics:
    """Figures of a daily equity series (one point per trading day), annualised with
    ``periods_per_year`` trading days."""
    if len(equity) < 2 or equity[0] <= 0:
        return Analytics(len(equity), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    returns = [b / a - 1.0 for a, b in itertools.pairwise(equity) if a > 0]
    n = len(returns)
    total = equity[-1] / equity[0] - 1.0
    annual = (1.0 + total) ** (periods_per_year / n) - 1.0 if total > -1.0 else -1.0
    mean = sum(returns) / n
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / (n - 1)) if n > 1 else 0.0
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / n)
    scale = math.sqrt(periods_per_year)
    peak, mdd = equity[0], 0.0
    for value in equity:
        peak = max(peak, value)
        mdd = max(mdd, (peak - value) / peak if peak > 0 else 0.0)
    active = [r for r in returns if r != 0.0]
    wins = sum(1 for r in active if r > 0)
    return Analytics(
        days=len(equity),
        total_return=total,
        annual_return=annual,
        sharpe=mean / std * scale if std > 0 else 0.0,
        sortino=mean / downside * scale if downside > 0 else 0.0,
        max_drawdown=mdd,
        win_rate=wins / len(active) if active else 0.0,
        turnover=traded_lots / len(equity),
    )


def evaluate_signal(
    signal: Sequence[float], prices: Sequence[float], multiplier: float, lots: float = 1.0
) -> list[float]:
    """A fast evaluator: daily P&L of holding ``signal[t] x lots`` from close t to t+1.

    ``signal`` is in [-1, 1]; frictionless; for research screens, not for execution.
    """
    if len(signal) != len(prices):
        raise ValueError("signal and prices must have the same length")
    moves = (
        signal[t - 1] * lots * (prices[t] - prices[t - 1]) * multiplier
        for t in range(1, len(prices))
    )
    return [0.0, *moves]


def is_short_sample(periods: int, periods_per_year: int = TRADING_DAYS_PER_YEAR) -> bool:
    """True when fewer than a year of periods back an annualised figure."""
    return periods < periods_per_year


def short_sample_caveat(periods: int, periods_per_year: int = TRADING_DAYS_PER_YEAR) -> str:
    """The caveat to print beside an annualised figure, or "" for a sample of a year or more."""
    if not is_short_sample(periods, periods_per_year):
        return ""
    return (
        f"short sample: {periods} trading day(s), under one year ({periods_per_year});"
        " annualised figures extrapolate and are not a forecast"
    )


def daily_returns(equity: Sequence[float]) -> list[float]:
    """Period returns ``e[t] / e[t-1] - 1``; a period after a non-positive equity is 0."""
    return [b / a - 1.0 if a > 0 else 0.0 for a, b in itertools.pairwise(equity)]


def underwater(equity: Sequence[float]) -> list[float]:
    """Drawdown from the running peak as a fraction: 0 at a new high, negative below it."""
    if not equity:
        return []
    frame = pl.DataFrame({"equity": list(equity)}, schema={"equity": pl.Float64})
    peak = pl.col("equity").cum_max()
    values = frame.select(
        pl.when(peak > 0).then(pl.col("equity") / peak - 1.0).otherwise(0.0).alias("dd")
    )["dd"]
    return [min(0.0, float(v)) for v in values]


@dataclass(frozen=True, slots=True)
class MonthlyReturn:
    year: int
    month: int
    value: float
    """Compounded return over the month: its last equity over the previous month's last."""


def monthly_returns(
    dates: Sequence[dt.date], equity: Sequence[float], start_equity: float | None = None
) -> list[MonthlyReturn]:
    """Returns per calendar month from a dated equity series.

    The first month is measured from ``start_equity`` (the capital) when given, else
    from the series' first value.
    """
    if len(dates) != len(equity):
        raise ValueError("dates and equity must have the same length")
    if not dates:
        return []
    frame = (
        pl.DataFrame({"date": list(dates), "equity": list(equity)})
        .with_columns(pl.col("date").dt.truncate("1mo").alias("month"))
        .group_by("month", maintain_order=True)
        .agg(pl.col("equity").last().alias("close"))
        .with_columns(
            pl.col("close")
            .shift(1)
            .fill_null(start_equity if start_equity is not None else float(equity[0]))
            .alias("open")
        )
    )
    return [
        MonthlyReturn(
            month.year, month.month, close / opening - 1.0 if opening > 0 else float("nan")
        )
        for month, close, opening in frame.select("month", "close", "open").iter_rows()
    ]


def _rolling(
    returns: Sequence[float], window: int, periods_per_year: int, *, sharpe: bool
) -> list[float | None]:
    if window < 2:
        raise ValueError(f"a rolling window needs at least 2 periods, got {window}")
    series = pl.Series("r", list(returns), dtype=pl.Float64)
    std = series.rolling_std(window_size=window)
    scale = math.sqrt(periods_per_year)
    if sharpe:
        mean = series.rolling_mean(window_size=window)
        values = (
            pl.DataFrame({"mean": mean, "std": std})
            .select(
                pl.when(pl.col("std") > 0).then(pl.col("mean") / pl.col("std") * scale).alias("v")
            )
            .get_column("v")
        )
    else:
        values = std * scale
    return [None if v is None or math.isnan(v) else float(v) for v in values.to_list()]


def rolling_sharpe(
    returns: Sequence[float], window: int = 21, periods_per_year: int = TRADING_DAYS_PER_YEAR
) -> list[float | None]:
    """Annualised Sharpe ratio over the last ``window`` returns (None until the window
    is full, or when the returns in it do not vary)."""
    return _rolling(returns, window, periods_per_year, sharpe=True)


def rolling_volatility(
    returns: Sequence[float], window: int = 21, periods_per_year: int = TRADING_DAYS_PER_YEAR
) -> list[float | None]:
    """Annualised standard deviation of the last ``window`` returns (None until full)."""
    return _rolling(returns, window, periods_per_year, sharpe=False)
