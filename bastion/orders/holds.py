"""Refused intents wait: a risk refusal is not asked again at every pass.

The order stack sends through the one send path, whose risk decision may refuse an
order (an account HALTED, an instrument locked, a spread too wide). Each refusal is
journaled with its reason; without a hold the stack would make a new contract order
for the same intent at the next pass, be refused again and journal it again, at every
pass for as long as the refusal lasts (a halted sim session wrote 330,000 records in
five minutes). ``DenialHolds`` holds an intent (an instrument order) back after a
refusal; another intent (an operator's manual order) is still tried at once:

- the hold doubles with each refusal in a row, from ``first``;
- refusals that end only when something changes that ``epoch`` sees (trading state,
  risk level, limits, a lock, a position limit, a calendar or expiry, an order the
  limits can never allow) are held up to ``long_cap``; every hold ends at once when
  ``epoch`` changes: the kernel's epoch is the trading states, the locks, the risk
  level, the limits and the fills, so a resume, an unlock or a fill is acted on at the
  next pass;
- every other refusal may end with the market or the account moving (a market guard,
  price distance or band, the order rate, margin, notional, an equity or rate not yet
  known, the broker's position), so it is held at most ``short_cap`` and trading resumes
  soon after the market does;
- an order that goes out ends its intent's hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.domain.ids import OrderId

__all__ = ["DenialHolds"]

STATE_CHECKS = frozenset(
    {
        "trading_state",
        "risk_level",
        "limits",
        "instrument_lock",
        "position_limit",
        "strategy_position_limit",
        "order_size",
        "calendar",
        "expiry",
        "contract",
        "kill_only_reduces",
    }
)
"""Refusals that end only with a change the epoch sees; any other may end with time."""

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
        cap = self.long_cap if check in STATE_CHECKS else self.short_cap
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
