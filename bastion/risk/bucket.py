"""An order-rate token bucket per venue (R6.2), on the injected clock.

The bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; each
order call takes one. Rates come from the venue's declared ``RateLimits`` (IB about 50
messages/s, CTP its per-second order limits) unless the profile overrides them.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["TokenBucket"]


class TokenBucket:
    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: dt.datetime) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs a positive rate and burst, got {rate}/{burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = now

    def _refill(self, now: dt.datetime) -> None:
        elapsed = (now - self._at).total_seconds()
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            self._at = now

    def available(self, now: dt.datetime) -> float:
        self._refill(now)
        return self._tokens

    def can_take(self, now: dt.datetime) -> bool:
        return self.available(now) >= 1.0

    def take(self, now: dt.datetime) -> bool:
        """Take one token if there is one; ``False`` (and nothing taken) otherwise."""
        if not self.can_take(now):
            return False
        self._tokens -= 1.0
        return True

    def wait_seconds(self, now: dt.datetime) -> float:
        """How long until one token is available."""
        missing = 1.0 - self.available(now)
        return 0.0 if missing <= 0 else missing / self.rate
