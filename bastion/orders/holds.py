"""Refused intents wait: a risk refusal is not asked again at every pass.

The order stack sends through the one send path, whose risk decision may refuse an
order (an account HALTED, an instrument locked, a spread too wide). Each refusal is
journaled with its reason; without a hold the stack would make a new contract order
for the same intent at the next pass, be refused again and journal it again, at every
pass for as long as the refusal lasts (a halted sim session wrote 330,000 records in
five minutes). ``DenialHolds`` holds an intent (an instrument order) back after a
refusal; another intent (an operator's manual order) is still tried at once:

- the hold doubles with each refusal in a row, from ``first``;
- refusals that end with time (market guards, price distance and band, the order rate,
  an equity or rate that cannot be valued yet) are held at most ``short_cap``, so
  trading resumes soon after the market does;
- refusals that end only when something changes (trading state, risk level, limits, a
  lock, a calendar, a position limit) are held up to ``long_cap``, and every hold ends
  at once when ``epoch`` changes: the kernel's epoch is the trading states, the locks,
  the risk level, the limits and the fills, so a resume, an unlock or a fill is acted
  on at the next pass;
- an order that goes out ends its intent's hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.domain.ids import OrderId

__all__ = ["DenialHolds"]

TIMED_CHECKS = frozenset(
    {"market_guard", "price_distance", "price_band", "order_rate", "equity", "fx_rate"}
)
"""Refusals that clear with time rather than with a change of state."""

Key = OrderId


@dataclass(slots=True)
class _Hold:
    refusals: int
    until: dt.datetime


@dataclass(slots=True)
class DenialHolds:
    epoch: Callable[[], object] | None = None
    """What, when it changes, ends every hold (``None``: holds end with time only)."""
    first: dt.timedelta = dt.timedelta(seconds=1)
    short_cap: dt.timedelta = dt.timedelta(seconds=60)
    long_cap: dt.timedelta = dt.timedelta(hours=1)
    _holds: dict[Key, _Hold] = field(default_factory=dict)
    _epoch: object = None

    def refused(self, key: Key, check: str, now: dt.datetime) -> dt.datetime:
        """Hold ``key`` back after a refusal by ``check``; returns the hold's end."""
        if not self._holds:
            self._epoch = self._current()
        refusals = (found.refusals if (found := self._holds.get(key)) else 0) + 1
        cap = self.short_cap if check in TIMED_CHECKS else self.long_cap
        delay = min(self.first * (1 << min(refusals - 1, 30)), cap)
        self._holds[key] = _Hold(refusals, now + delay)
        return now + delay

    def held(self, key: Key, now: dt.datetime) -> bool:
        """Whether ``key`` is still held back (a changed epoch ends every hold)."""
        if not self._holds:
            return False
        if self._current() != self._epoch:
            self._holds.clear()
            return False
        found = self._holds.get(key)
        return found is not None and now < found.until

    def sent(self, key: Key) -> None:
        """An order for ``key`` went out: its hold and its count end."""
        self._holds.pop(key, None)

    def _current(self) -> object:
        return None if self.epoch is None else self.epoch()
