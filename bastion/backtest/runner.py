"""The bar driver: the kernel's engine driven bar by bar (R11.2).

For each bar, in time order: the clock moves to the bar's end (a simulated clock; a
wall or replay clock is not moved); the sim venue sees the bar (orders sent at the
previous close fill at this bar's open); the market view and the P&L marks move; the
strategies see the close and may change their targets; then the engine runs one pass
of its loop (``Engine.iterate``): events, the kill switch, reconciliation, the equity
mark for loss limits and margin, the order stack, the trading day, the heartbeat. The
engine is the one the kernel builds for every mode; this driver only supplies bars.

**Signals on back-adjusted prices.** With a roll schedule, strategies see only the
bars of the contract the schedule prices, and each close plus that contract's
back-adjustment (``adjustments``: the cumulative Panama roll gap of every roll after
it, ``bastion.marketdata.adjust.contract_shifts``), so their signals run on the
back-adjusted series and never jump at a roll. A target's reference price stays the
priced contract's own close (what its orders are measured against), and orders go to
the contract the roll state names.

**Money.** Equity is capital plus the P&L in the account's base currency
(``PnlBook``); while a currency with money in it has no usable rate the equity is
unknown: no mark reaches the loss limits and no daily point is kept (a problem says so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from bastion.backtest.pnl import PnlBook
from bastion.clock import Clock, SimClock
from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId, InstrumentId, StrategyId
from bastion.domain.market import MarketQuote
from bastion.domain.targets import Target, TargetError
from bastion.engine.days import DayEnd
from bastion.engine.engine import Engine
from bastion.orders.rolls import CalendarSchedule, RollStatus
from bastion.orders.stack import StackHandler
from bastion.store.targets import Contribution as StoredContribution
from bastion.store.targets import TargetStore
from bastion.strategy.examples import BarStrategy
from bastion.venues.sim import Bar, SimVenue

__all__ = ["BarMarket", "BarRunner", "InstrumentBar", "by_time"]


@dataclass(frozen=True, slots=True)
class InstrumentBar:
    instrument_id: InstrumentId
    bar: Bar


class BarMarket:
    """A market view from the last bar of each contract: last = close, and bid = ask =
    close unless a spread is assumed (``spread_ticks``: bid = close - spread // 2, ask =
    bid + spread; ``set_spread`` changes it, e.g. to rehearse the spread breaker on bars).
    Each contract's quote is built once per bar, when first asked for.
    """

    __slots__ = ("_last", "_quotes", "_spread", "session_gap")

    def __init__(
        self, spread_ticks: int = 0, session_gap: dt.timedelta = dt.timedelta(minutes=30)
    ) -> None:
        self._last: dict[str, Bar] = {}
        self._quotes: dict[str, MarketQuote] = {}
        self._spread = spread_ticks
        self.session_gap = session_gap

    def set_spread(self, ticks: int) -> None:
        """Assume a spread of ``ticks`` from now on (every contract's quote is rebuilt)."""
        self._spread = ticks
        self._quotes.clear()

    def update(self, bar: Bar) -> None:
        self._last[bar.contract_id] = bar
        self._quotes.pop(bar.contract_id, None)

    def quote(self, contract_id: ContractId) -> MarketQuote | None:
        cached = self._quotes.get(contract_id)
        if cached is not None:
            return cached
        bar = self._last.get(contract_id)
        if bar is None:
            return None
        c = bar.close_ticks
        size = max(1, bar.volume // 10)
        bid = c - self._spread // 2
        quote = self._quotes[contract_id] = MarketQuote(
            contract_id,
            bid_ticks=bid,
            ask_ticks=bid + self._spread,
            last_ticks=c,
            last_tick_at=bar.end,
            bid_size=size,
            ask_size=size,
        )
        return quote

    def in_session(self, contract_id: ContractId, when: dt.datetime) -> bool:
        """Bars arrive only in session: a contract with a recent bar is trading."""
        bar = self._last.get(contract_id)
        return bar is not None and when - bar.end <= self.session_gap


@dataclass(slots=True)
class BarRunner:
    engine: Engine
    venue: SimVenue
    """The in-process sim venue the bars are fed to (the exchange of a backtest)."""
    market: BarMarket
    pnl: PnlBook
    strategies: Sequence[BarStrategy]
    capital: Decimal = Decimal(0)
    use_target_store: bool = True
    """Strategies' targets go through the engine's target store (R3.1)."""
    schedule: CalendarSchedule | None = None
    """When set, strategies see only the priced contract's bars, and forced rolls run."""
    adjustments: Mapping[ContractId, int] = field(default_factory=dict)
    """Back-adjustment of each contract in ticks (its close plus this is the adjusted
    close strategies see); a contract not listed is not adjusted (the latest one)."""
    problems: list[str] = field(default_factory=list)
    targets: dict[tuple[StrategyId, InstrumentId], Target] = field(default_factory=dict)
    bars: int = 0
    equity_points: list[tuple[dt.date, Decimal]] = field(default_factory=list)
    """Equity at each end of the account's trading day (daily returns, run records)."""
    _by_instrument: dict[InstrumentId, list[BarStrategy]] = field(default_factory=dict)
    _sim_clock: bool = False

    def __post_init__(self) -> None:
        self._sim_clock = isinstance(self.clock, SimClock)
        for strategy in self.strategies:
            self._by_instrument.setdefault(strategy.instrument_id, []).append(strategy)
        self.engine.fill_listeners.append(self.pnl.on_fill)
        self.engine.day_listeners.append(self._on_day_end)

    # -- what tests and reports read -------------------------------------------------------
    @property
    def stack(self) -> StackHandler:
        return self.engine.stack

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    @property
    def target_store(self) -> TargetStore | None:
        return self.engine.targets if self.use_target_store else None

    def equity(self) -> Decimal | None:
        """Capital plus net P&L in the base currency; ``None`` without a usable rate."""
        net = self.pnl.net()
        return None if net is None else self.capital + net

    def equity_mark(self) -> tuple[Decimal, Decimal | None] | str:
        """The engine's equity source in bar mode: capital plus P&L at the last marks,
        or why it cannot be valued (a currency with money in it has no usable rate)."""
        equity = self.equity()
        if equity is not None:
            return equity, None
        pnl = self.pnl
        assert pnl.fx is not None  # noqa: S101 - set in PnlBook.__post_init__
        day = pnl.today()
        problems = [pnl.fx.problem(c, day) or c for c in pnl.missing_rates()]
        return "P&L held in another currency: " + "; ".join(problems)

    def _on_day_end(self, ended: DayEnd) -> None:
        if ended.instruments:
            # The exchange's end of day, for its own contracts only (a CME close leaves
            # SHFE's DAY orders and books alone): DAY orders expire, books roll, bands
            # re-centre.
            ending = set(ended.instruments)
            contracts = {c for c in self.venue.markets if parse_contract_id(c)[0] in ending}
            self.venue.end_of_day(contracts)
            self.venue.start_of_day(contracts)
        if ended.account_day is not None:
            equity = self.equity()
            if equity is not None:
                self.equity_points.append((ended.account_day, equity))
            else:
                missing = ", ".join(self.pnl.missing_rates())
                self.problems.append(
                    f"{ended.account_day}: no equity point: no usable rate for {missing}"
                )

    # -- the driver --------------------------------------------------------------------------
    def on_bar(self, item: InstrumentBar) -> None:
        """One bar through the engine. This runs once per bar: keep it lean (the bench's
        100k bars/s leaves about 10 us a bar for everything)."""
        bar = item.bar
        end = bar.end
        clock = self.engine.clock
        if self._sim_clock and end > clock.now():
            clock.advance_to(end)  # type: ignore[attr-defined]
            self.engine.close_days()  # a day that ended closes on its own last prices
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
        shift = self.adjustments.get(bar.contract_id, 0) if strategies else 0
        for strategy in strategies:
            target = self._target_of(strategy, bar, shift)
            if target is not None:
                self.targets[(target.strategy_id, target.instrument_id)] = target
                if changed is None:
                    changed = []
                changed.append(target)
        book = self.engine.oms.book
        busy = bool(
            changed
            or rolling
            or book.instrument_orders
            or book.contract_orders
            or book.broker_orders
        )
        offered = self._targets_of({t.instrument_id for t in changed}) if changed else None
        if offered is None and busy:
            offered = self._targets_of(set())
        self.engine.iterate(offered, trade=busy)

    def _target_of(self, strategy: BarStrategy, bar: Bar, shift: int) -> Target | None:
        """The strategy's new target, from the adjusted close (``shift``), through the
        target store; a bad target is skipped with a note and the engine goes on (R3.1)."""
        store = self.target_store
        try:
            target = strategy.on_bar(bar.close_ticks + shift, bar.contract_id, bar.end)
            if target is not None and shift and target.reference_ticks == bar.close_ticks + shift:
                # The reference is the priced contract's own close, not the adjusted one.
                target = msgspec.structs.replace(target, reference_ticks=bar.close_ticks)
            if target is None or store is None:
                return target
            store.write(target, _contributions(strategy))
        except TargetError as exc:
            self.engine.stack.problems.append(f"{strategy.strategy_id}: {exc}")
            return None
        stored = store.read(target.strategy_id, target.instrument_id)
        return stored if stored is not None else target

    def _targets_of(self, instruments: set[InstrumentId]) -> list[Target]:
        book = self.engine.oms.book
        live = {o.instrument_id for o in book.instrument_orders.values()}
        # Re-offer targets of instruments whose families just completed (partial fills).
        wanted = instruments | (set(self._by_instrument) - live)
        return [t for (_, iid), t in self.targets.items() if iid in wanted]

    def run(self, bars: Iterable[InstrumentBar]) -> None:
        for item in bars:
            self.on_bar(item)

    def close(self) -> None:
        """Commit the journal and release the store (its one-engine lock)."""
        self.engine.close()


_FORCED = (RollStatus.FORCE, RollStatus.FORCE_LEG)


def _contributions(strategy: BarStrategy) -> list[StoredContribution]:
    found = getattr(strategy, "contributions", ())
    return [StoredContribution(c.name, c.position, c.weight, c.contribution) for c in found]


def by_time(streams: Mapping[InstrumentId, Iterable[Bar]]) -> list[InstrumentBar]:
    """Merge per-instrument bar streams into one time-ordered list."""
    merged = [InstrumentBar(iid, bar) for iid, bars in streams.items() for bar in bars]
    merged.sort(key=lambda b: (b.bar.end, b.instrument_id))
    return merged
