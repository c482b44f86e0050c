"""EMA trend: +1 when the fast EMA is above the slow one, else -1 (R3.5).

The definition is exact, so results can be compared with other engines bar for bar:
EMA(N) has alpha 2/(N+1) and is seeded with the simple mean of the first N closes; the
first signal comes at the ``slow``-th close. Signals are not money: floats are fine.
"""

from __future__ import annotations

__all__ = ["Ema", "EmaCross"]


class Ema:
    __slots__ = ("_alpha", "_n", "_seed_sum", "count", "value")

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"EMA length must be at least 1, got {n}")
        self._n = n
        self._alpha = 2.0 / (n + 1)
        self._seed_sum = 0.0
        self.count = 0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        self.count += 1
        if self.value is None:
            self._seed_sum += x
            if self.count == self._n:
                self.value = self._seed_sum / self._n
            return self.value
        self.value += self._alpha * (x - self.value)
        return self.value


class EmaCross:
    """The signal of EMA(fast) against EMA(slow): +1, -1, or ``None`` before it exists.
    ``spread`` is the raw forecast behind it, EMA(fast) - EMA(slow) in price units (a
    shift of every price by a constant, as a back-adjustment is, leaves it unchanged)."""

    __slots__ = ("fast", "slow", "spread")

    def __init__(self, fast: int = 10, slow: int = 30) -> None:
        if fast >= slow:
            raise ValueError(f"fast EMA ({fast}) must be shorter than slow EMA ({slow})")
        self.fast = Ema(fast)
        self.slow = Ema(slow)
        self.spread: float | None = None

    def update(self, close: float) -> int | None:
        f = self.fast.update(close)
        s = self.slow.update(close)
        if f is None or s is None:
            return None
        self.spread = f - s
        return 1 if f > s else -1
