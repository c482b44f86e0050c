"""Targets: what a strategy wants to hold (R3.1).

A target is a signed number of lots, or a buffered range (trade only when the position is
outside [low, high], and then to the nearest edge). It carries the reference price,
contract and time it was computed from, and when it was generated. Strategies write
targets; the engine reads them; the two sides share nothing else.
"""

from __future__ import annotations

import datetime as dt
import math

import msgspec

from bastion.domain.ids import ContractId, InstrumentId, StrategyId

__all__ = ["Target", "TargetError", "target_from_numbers"]


class TargetError(ValueError):
    """A target that cannot be used; the engine skips it, says why, and goes on."""


class Target(msgspec.Struct, frozen=True, kw_only=True):
    strategy_id: StrategyId
    instrument_id: InstrumentId
    low: int
    high: int
    """``low == high`` for a plain number; ``low < high`` for a buffered range."""
    reference_ticks: int | None = None
    reference_contract: ContractId | None = None
    reference_time: dt.datetime | None = None
    generated_time: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise TargetError(
                f"target {self.strategy_id}/{self.instrument_id}: buffer low {self.low}"
                f" is above high {self.high}"
            )

    @property
    def is_range(self) -> bool:
        return self.low != self.high

    def trade_from(self, current: int) -> int:
        """The trade that brings ``current`` into the target: 0 inside the buffer."""
        if current < self.low:
            return self.low - current
        if current > self.high:
            return self.high - current
        return 0


def _lots(value: float, what: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TargetError(f"target {who}: {what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise TargetError(f"target {who}: {what} is {value}, expected a finite number")
    return round(value)


def target_from_numbers(
    strategy_id: StrategyId,
    instrument_id: InstrumentId,
    position: float | None = None,
    *,
    low: float | None = None,
    high: float | None = None,
    reference_ticks: int | None = None,
    reference_contract: ContractId | None = None,
    reference_time: dt.datetime | None = None,
    generated_time: dt.datetime | None = None,
) -> Target:
    """Build a target from what a strategy computed, refusing NaN, infinities and bad ranges.

    Fractional lots round to the nearest whole lot (half to even).
    """
    who = f"{strategy_id}/{instrument_id}"
    if position is not None:
        if low is not None or high is not None:
            raise TargetError(f"target {who}: give a position or a (low, high) range, not both")
        lots = _lots(position, "position", who)
        lo, hi = lots, lots
    else:
        if low is None or high is None:
            raise TargetError(f"target {who}: needs a position or both low and high")
        lo, hi = _lots(low, "low", who), _lots(high, "high", who)
    return Target(
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        low=lo,
        high=hi,
        reference_ticks=reference_ticks,
        reference_contract=reference_contract,
        reference_time=reference_time,
        generated_time=generated_time,
    )
