"""Volatility-targeted sizing with a buffer, in the style of pysystemtrade (R3.5).

position = forecast / 10 x capital x annual vol target / (multiplier x annualised price
volatility); the buffer is +/- ``buffer_fraction`` of the average (forecast 10) position
around it. The engine trades only when the position leaves the buffer, and then only to
its nearest edge.

**Annualised by the data, not by a constant.** Volatility is the standard deviation of
*daily* price changes: one close per trading day of the instrument's own exchange
calendar (``update`` takes a trading day's last close), however often the strategy
decides (hourly on minute bars, say). It is annualised with ``periods_per_year``, the
number of trading days in a year of that calendar (``trading_days_per_year``): 258
sessions a year on CME Globex, 242 to 248 on the Chinese exchanges. Scaling hourly
changes by the square root of a daily constant made positions several times too large.

``capital`` is in the instrument's own currency (the caller converts the account's
capital at its rate).
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["VolTargetSizer"]


class VolTargetSizer:
    def __init__(
        self,
        capital: float,
        multiplier: float,
        *,
        periods_per_year: int,
        annual_vol_target: float = 0.2,
        vol_window: int = 25,
        buffer_fraction: float = 0.1,
    ) -> None:
        if capital <= 0 or multiplier <= 0 or annual_vol_target <= 0:
            raise ValueError("capital, multiplier and vol target must be positive")
        if periods_per_year <= 0:
            raise ValueError(f"periods per year must be positive, got {periods_per_year}")
        self.capital = capital
        self.multiplier = multiplier
        self.annual_vol_target = annual_vol_target
        self.buffer_fraction = buffer_fraction
        self.periods_per_year = periods_per_year
        self._changes: deque[float] = deque(maxlen=vol_window)
        self._last: float | None = None

    def update(self, close: float) -> None:
        """A trading day's last close (one call per trading day)."""
        if self._last is not None:
            self._changes.append(close - self._last)
        self._last = close

    def daily_volatility(self) -> float | None:
        """Standard deviation of the last ``vol_window`` daily changes (price units)."""
        if self._last is None or len(self._changes) < 2:
            return None
        mean = sum(self._changes) / len(self._changes)
        var = sum((c - mean) ** 2 for c in self._changes) / (len(self._changes) - 1)
        return math.sqrt(var)

    def average_position(self) -> float | None:
        """Position at a forecast of 10 (full size), or None before volatility is known."""
        daily_vol = self.daily_volatility()
        if not daily_vol:
            return None
        annual_cash_vol = daily_vol * self.multiplier * math.sqrt(self.periods_per_year)
        return self.capital * self.annual_vol_target / annual_cash_vol

    def buffered(self, forecast: float) -> tuple[float, float] | None:
        """(low, high) lots for ``forecast`` in [-20, 20], or None before vol is known."""
        average = self.average_position()
        if average is None:
            return None
        optimal = forecast / 10.0 * average
        width = self.buffer_fraction * abs(average)
        return optimal - width, optimal + width
