"""Volatility-targeted sizing with a buffer, in the style of pysystemtrade (R3.5).

position = forecast / 10 x capital x annual vol target / (price x multiplier x annualised
price volatility); the buffer is +/- ``buffer_fraction`` of the average (forecast 10)
position around it. The engine trades only when the position leaves the buffer, and then
only to its nearest edge.
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
        annual_vol_target: float = 0.2,
        vol_window: int = 25,
        buffer_fraction: float = 0.1,
        periods_per_year: int = 256,
    ) -> None:
        if capital <= 0 or multiplier <= 0 or annual_vol_target <= 0:
            raise ValueError("capital, multiplier and vol target must be positive")
        self.capital = capital
        self.multiplier = multiplier
        self.annual_vol_target = annual_vol_target
        self.buffer_fraction = buffer_fraction
        self.periods_per_year = periods_per_year
        self._changes: deque[float] = deque(maxlen=vol_window)
        self._last: float | None = None

    def update(self, price: float) -> None:
        if self._last is not None:
            self._changes.append(price - self._last)
        self._last = price

    def average_position(self) -> float | None:
        """Position at a forecast of 10 (full size), or None before volatility is known."""
        if self._last is None or len(self._changes) < 2:
            return None
        mean = sum(self._changes) / len(self._changes)
        var = sum((c - mean) ** 2 for c in self._changes) / (len(self._changes) - 1)
        daily_vol = math.sqrt(var)
        if daily_vol == 0:
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
