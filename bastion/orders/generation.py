"""Order generation (R4.2, R4.3): targets become per-strategy trades, netted per instrument.

For each strategy and instrument the trade is ``target - (position + working)``, where
working is the unfilled part of its live instrument orders; nothing is traded inside a
buffered range, and outside it the trade goes to the nearest edge. Overrides (a
multiplier in [0, 1], reduce-only, no-trade) and position limits apply before netting.

Netting: within one instrument, opposite trades of different strategies are crossed
internally (each side's share is an allocation, no venue order), so what reaches the
market for an instrument is all on one side and Bastion never buys and sells one market
at once. Conservation: for every instrument, the sum of the strategies' trades equals
the net market trade, and crossed quantities sum to zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bastion.domain.ids import InstrumentId, StrategyId
from bastion.domain.targets import Target
from bastion.errors import UserError

__all__ = [
    "InstrumentPlan",
    "Override",
    "OverrideError",
    "Overrides",
    "StrategyTrade",
    "desired_trade",
    "net_trades",
]


class OverrideError(UserError):
    """An override that cannot be applied."""


@dataclass(frozen=True, slots=True)
class Override:
    multiplier: float = 1.0
    reduce_only: bool = False
    no_trade: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.multiplier) and 0.0 <= self.multiplier <= 1.0):
            raise OverrideError(f"override multiplier {self.multiplier} is outside [0, 1]")

    def combine(self, other: Override) -> Override:
        return Override(
            self.multiplier * other.multiplier,
            self.reduce_only or other.reduce_only,
            self.no_trade or other.no_trade,
        )


@dataclass(slots=True)
class Overrides:
    """Overrides per strategy, per instrument, and per (strategy, instrument); they stack."""

    strategy: dict[StrategyId, Override] = field(default_factory=dict)
    instrument: dict[InstrumentId, Override] = field(default_factory=dict)
    both: dict[tuple[StrategyId, InstrumentId], Override] = field(default_factory=dict)

    def effective(self, strategy_id: StrategyId, instrument_id: InstrumentId) -> Override:
        result = Override()
        for found in (
            self.strategy.get(strategy_id),
            self.instrument.get(instrument_id),
            self.both.get((strategy_id, instrument_id)),
        ):
            if found is not None:
                result = result.combine(found)
        return result


@dataclass(frozen=True, slots=True)
class StrategyTrade:
    strategy_id: StrategyId
    instrument_id: InstrumentId
    quantity: int
    """Signed lots: what this strategy needs to trade."""
    note: str = ""


def _scale(value: int, multiplier: float) -> int:
    """Scale toward zero, so a multiplier never increases exposure."""
    return int(value * multiplier)


def desired_trade(
    target: Target,
    position: int,
    working: int,
    override: Override = Override(),
    position_limit: int | None = None,
) -> StrategyTrade:
    """The trade one strategy needs in one instrument (R4.2, R4.3)."""
    sid, iid = target.strategy_id, target.instrument_id
    if override.no_trade:
        return StrategyTrade(sid, iid, 0, "no-trade override")
    low, high = _scale(target.low, override.multiplier), _scale(target.high, override.multiplier)
    note = ""
    if position_limit is not None:
        clamped_low = max(-position_limit, min(position_limit, low))
        clamped_high = max(-position_limit, min(position_limit, high))
        if (clamped_low, clamped_high) != (low, high):
            note = f"target cut to the position limit {position_limit}"
        low, high = clamped_low, clamped_high
    current = position + working
    trade = Target(strategy_id=sid, instrument_id=iid, low=low, high=high).trade_from(current)
    if override.reduce_only and trade != 0:
        # Only toward zero, never through it, counting what is already working.
        if current == 0 or (trade > 0) == (current > 0):
            return StrategyTrade(sid, iid, 0, "reduce-only override: no increase")
        trade = max(trade, -current) if current > 0 else min(trade, -current)
        note = "reduce-only override"
    return StrategyTrade(sid, iid, trade, note)


@dataclass(frozen=True, slots=True)
class InstrumentPlan:
    instrument_id: InstrumentId
    trades: tuple[StrategyTrade, ...]
    crossed: tuple[tuple[StrategyId, int], ...]
    """Internal crosses: signed lots each strategy gets from another; they sum to zero."""
    market: tuple[tuple[StrategyId, int], ...]
    """What each strategy still needs from the market; all the same sign."""

    @property
    def net(self) -> int:
        return sum(q for _, q in self.market)


def net_trades(trades: Iterable[StrategyTrade]) -> dict[InstrumentId, InstrumentPlan]:
    """Net trades per instrument, crossing opposite sides internally (R4.2)."""
    by_instrument: dict[InstrumentId, list[StrategyTrade]] = {}
    for trade in trades:
        if trade.quantity != 0:
            by_instrument.setdefault(trade.instrument_id, []).append(trade)
    plans: dict[InstrumentId, InstrumentPlan] = {}
    for iid, group in by_instrument.items():
        buys = sum(t.quantity for t in group if t.quantity > 0)
        sells = -sum(t.quantity for t in group if t.quantity < 0)
        crossable = min(buys, sells)
        crossed = _share(group, crossable, buys, sells)
        market = tuple(
            (t.strategy_id, t.quantity - dict(crossed).get(t.strategy_id, 0))
            for t in group
            if t.quantity - dict(crossed).get(t.strategy_id, 0) != 0
        )
        plans[iid] = InstrumentPlan(iid, tuple(group), crossed, market)
    return plans


def _share(
    group: list[StrategyTrade], crossable: int, buys: int, sells: int
) -> tuple[tuple[StrategyId, int], ...]:
    """Split ``crossable`` lots over each side, in order, so each side sums to it exactly."""
    if crossable == 0:
        return ()
    result: dict[StrategyId, int] = {}
    for side_total, sign in ((buys, 1), (sells, -1)):
        left = crossable
        members = [t for t in group if t.quantity * sign > 0]
        for i, trade in enumerate(members):
            size = abs(trade.quantity)
            share = left if i == len(members) - 1 else min(left, crossable * size // side_total)
            share = min(share, size)
            left -= share
            result[trade.strategy_id] = result.get(trade.strategy_id, 0) + share * sign
        if left:  # rounding left something: give it to whoever still has room
            for trade in members:
                room = abs(trade.quantity) - abs(result[trade.strategy_id])
                take = min(room, left)
                result[trade.strategy_id] += take * sign
                left -= take
    return tuple(result.items())


def working_by_strategy(
    live_remaining: Iterable[tuple[StrategyId, InstrumentId, int]],
) -> Mapping[tuple[StrategyId, InstrumentId], int]:
    """Sum signed unfilled quantities of live instrument orders per (strategy, instrument)."""
    totals: dict[tuple[StrategyId, InstrumentId], int] = {}
    for sid, iid, signed in live_remaining:
        totals[(sid, iid)] = totals.get((sid, iid), 0) + signed
    return totals
