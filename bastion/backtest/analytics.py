"""Performance analytics from a daily equity series (R11.3).

Returns compound; Sharpe and Sortino are annualised from daily returns (Sortino's
downside deviation is taken over *all* periods, counting non-negative ones as zero);
max drawdown is the largest peak-to-trough fall of equity as a fraction of the peak.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

__all__ = ["Analytics", "analyse", "evaluate_signal"]


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
    equity: Sequence[float], traded_lots: int = 0, periods_per_year: int = 256
) -> Analytics:
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
