"""The deterministic core driven bar by bar on a simulated clock (R11.2).

For each bar, in time order: the clock moves to the bar's end; the sim venue sees the
bar (orders sent at the previous close fill at this bar's open); fills are applied; the
strategies see the close and may change their targets; the stack turns changed targets
into orders, which go through the risk gate and the journal to the venue. Backtests,
``bastion session`` and the live runner use these same objects; only the clock and the
source of bars differ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bastion.backtest.pnl import PnlBook
from bastion.clock import Clock, SimClock
from bastion.domain.fills import Fill
from bastion.domain.ids import ContractId, InstrumentId, StrategyId
from bastion.domain.market import MarketQuote
from bastion.domain.targets import Target, TargetError
from bastion.orders.rolls import CalendarSchedule, RollStatus
from bastion.orders.stack import StackHandler
from bastion.store.targets import Contribution as StoredContribution
from bastion.store.targets import TargetStore
from bastion.strategy.examples import BarStrategy
from bastion.venues.sim import Bar, SimVenue

__all__ = ["BarMarket", "Engine", "InstrumentBar", "by_time"]


@dataclass(frozen=True, slots=True)
class InstrumentBar:
    instrument_id: InstrumentId
    bar: Bar


class BarMarket:
    """A market view from the last bar of each contract: bid = ask = last = close.

    A spread of ``half_spread_ticks`` either side can be assumed for cost references.
    """

    __slots__ = ("_half", "_last", "session_gap")

    def __init__(
        self, half_spread_ticks: int = 0, session_gap: dt.timedelta = dt.timedelta(minutes=30)
    ) -> None:
        self._last: dict[str, Bar] = {}
        self._half = half_spread_ticks
        self.session_gap = session_gap

    def update(self, bar: Bar) -> None:
        self._last[bar.contract_id] = bar

    def quote(self, contract_id: ContractId) -> MarketQuote | None:
        bar = self._last.get(contract_id)
        if bar is None:
            return None
        c = bar.close_ticks
        size = max(1, bar.volume // 10)
        return MarketQuote(
            contract_id,
            bid_ticks=c - self._half,
            ask_ticks=c + self._half,
            last_ticks=c,
            last_tick_at=bar.end,
            bid_size=size,
            ask_size=size,
        )

    def in_session(self, contract_id: ContractId, when: dt.datetime) -> bool:
        """Bars arrive only in session: a contract with a recent bar is trading."""
        bar = self._last.get(contract_id)
        return bar is not None and when - bar.end <= self.session_gap


@dataclass(slots=True)
class Engine:
    stack: StackHandler
    venue: SimVenue
    clock: Clock
    """A ``SimClock`` (moved to each bar's end) or a wall/replay clock (not moved)."""
    market: BarMarket
    pnl: PnlBook
    strategies: Sequence[BarStrategy]
    target_store: TargetStore | None = None
    """When set, strategies' targets are written to it and the stack reads them back
    (R3.1: the signal side and the trading side share only the store)."""
    schedule: CalendarSchedule | None = None
    """When set, strategies see only the priced contract's bars, and forced rolls run."""
    targets: dict[tuple[StrategyId, InstrumentId], Target] = field(default_factory=dict)
    bars: int = 0
    _by_instrument: dict[InstrumentId, list[BarStrategy]] = field(default_factory=dict)
    _sim_clock: bool = False

    def __post_init__(self) -> None:
        self._sim_clock = isinstance(self.clock, SimClock)
        for strategy in self.strategies:
            self._by_instrument.setdefault(strategy.instrument_id, []).append(strategy)
        self.stack.on_fill = self._on_fill

    def _on_fill(self, fill: Fill) -> None:
        self.pnl.on_fill(fill)

    def on_bar(self, item: InstrumentBar) -> None:
        """One bar through the core. This runs once per bar: keep it lean (the bench's
        100k bars/s leaves about 10 us a bar for everything)."""
        bar = item.bar
        end = bar.end
        clock = self.clock
        if self._sim_clock and end > clock.now():
            clock.advance_to(end)  # type: ignore[attr-defined]
        self.bars += 1
        self.venue.on_bar(bar)
        self.market.update(bar)
        self.pnl.marks[bar.contract_id] = bar.close_ticks
        strategies = self._by_instrument.get(item.instrument_id, ())
        rolling = False
        schedule = self.schedule
        if schedule is not None:
            iid = item.instrument_id
            if schedule.priced(iid, end) != bar.contract_id:
                strategies = ()
            rolling = schedule.status(iid, end) in _FORCED
        changed: list[Target] | None = None
        for strategy in strategies:
            target = self._target_of(strategy, bar)
            if target is not None:
                self.targets[(target.strategy_id, target.instrument_id)] = target
                if changed is None:
                    changed = []
                changed.append(target)
        book = self.stack.oms.ledger.book  # not cached: a store rebuild replaces it
        if (
            changed
            or rolling
            or book.instrument_orders
            or book.contract_orders
            or book.broker_orders
        ):
            self.stack.step(self._targets_of({t.instrument_id for t in changed or ()}))

    def _target_of(self, strategy: BarStrategy, bar: Bar) -> Target | None:
        """The strategy's new target, through the target store when there is one; a bad
        target is skipped with a note and the engine goes on (R3.1)."""
        try:
            target = strategy.on_bar(bar.close_ticks, bar.contract_id, bar.end)
            if target is None or self.target_store is None:
                return target
            self.target_store.write(target, _contributions(strategy))
        except TargetError as exc:
            self.stack.problems.append(f"{strategy.strategy_id}: {exc}")
            return None
        stored = self.target_store.read(target.strategy_id, target.instrument_id)
        return stored if stored is not None else target

    def _targets_of(self, instruments: set[InstrumentId]) -> Iterable[Target]:
        book = self.stack.oms.book
        live = {o.instrument_id for o in book.instrument_orders.values()}
        # Re-offer targets of instruments whose families just completed (partial fills).
        wanted = instruments | (set(self._by_instrument) - live)
        return [t for (_, iid), t in self.targets.items() if iid in wanted]

    def run(self, bars: Iterable[InstrumentBar]) -> None:
        for item in bars:
            self.on_bar(item)

    def equity(self, capital: float) -> float:
        return capital + float(self.pnl.net())


_FORCED = (RollStatus.FORCE, RollStatus.FORCE_LEG)


def _contributions(strategy: BarStrategy) -> list[StoredContribution]:
    found = getattr(strategy, "contributions", ())
    return [StoredContribution(c.name, c.position, c.weight, c.contribution) for c in found]


def by_time(streams: Mapping[InstrumentId, Iterable[Bar]]) -> list[InstrumentBar]:
    """Merge per-instrument bar streams into one time-ordered list."""
    merged = [InstrumentBar(iid, bar) for iid, bars in streams.items() for bar in bars]
    merged.sort(key=lambda b: (b.bar.end, b.instrument_id))
    return merged
