"""A simulated multi-day session (``bastion session``) or backtest (``bastion backtest``)
from a profile, on the bar store: data -> targets -> orders -> risk -> journal -> sim
venue -> fills -> positions, one trading day after another.

The engine is the kernel's (``bastion.engine``), with every duty of a live session: the
kill switch acts at the next bar and can flatten there, loss limits see every bar's
equity, margin above the high mark is reduced, and each instrument's trading day ends
by its exchange calendar (working orders cancelled, families completed), never at UTC
midnight. Daily equity is one point per account trading day, and analytics annualise
with the account calendar's trading days per year.

Money is in the profile's base currency (``currency``) at the profile's rates
(``fx``; ``bastion.marketdata.fx``): the result keeps each currency's P&L and the base
total. Strategies see back-adjusted prices across rolls (``contract_adjustments``).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl

from bastion.backtest.analytics import Analytics, analyse
from bastion.backtest.build import build_engine
from bastion.backtest.runner import BarRunner, InstrumentBar
from bastion.backtest.slippage import Slippage, measure_slippage
from bastion.config import Environment, Profile
from bastion.domain.contracts import ContractSpec
from bastion.domain.fx import FxTable
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.orders import BrokerOrder
from bastion.engine.engine import Engine
from bastion.engine.kernel import algo_choices
from bastion.errors import DataError, UserError
from bastion.marketdata.adjust import contract_shifts, panama
from bastion.marketdata.bars import BarStore
from bastion.marketdata.calendars import (
    calendar_for,
    trading_days_per_year,
    use_operator_calendars,
)
from bastion.marketdata.fx import profile_fx
from bastion.marketdata.sample import write_sample
from bastion.marketdata.series import SeriesStore
from bastion.marketdata.specs import MarketSpec, SpecRegistry
from bastion.orders.rolls import CalendarSchedule, Roll
from bastion.strategy.registry import build_strategies
from bastion.venues.sim import Bar, SimVenueConfig

__all__ = [
    "PreparedSession",
    "SessionResult",
    "finish_session",
    "load_bars",
    "prepare_session",
    "run_session",
]


@dataclass(slots=True)
class SessionResult:
    kind: str
    days: list[dt.date]
    bars: int
    orders: int
    fills: int
    positions: dict[str, int]
    strategy_positions: dict[str, int]
    gross_pnl: Decimal | None
    """In the base currency; ``None`` when a currency in it has no usable rate."""
    commissions: Decimal | None
    net_pnl: Decimal | None
    slippage: Slippage
    """Fill prices against the reference prices, worse (a cost) positive, in money per
    currency and in the base currency, and in ticks per instrument."""
    equity: list[tuple[dt.date, float]]
    analytics: Analytics
    journal: Path
    problems: list[str] = field(default_factory=list)
    send_order_calls: int = 0
    cancel_order_calls: int = 0
    sample_generated: list[str] = field(default_factory=list)
    currency: str = "USD"
    """The base currency."""
    pnl_by_currency: dict[str, tuple[Decimal, Decimal, Decimal]] = field(default_factory=dict)
    """Per currency: gross P&L, commissions, net P&L, each in that currency."""
    rates: dict[str, Decimal] = field(default_factory=dict)
    """The rates used, base units per unit of each other currency."""
    periods_per_year: int = 252
    """Trading days per year of the account's calendar (what analytics annualise with)."""
    state: str = "trading"
    """What the engine was doing when the data ended (``EngineState``): trading, HALTED,
    kill pending, ..."""


def _ensure_data(profile: Profile) -> tuple[BarStore, SeriesStore, list[str]]:
    data_dir = profile.data.dir
    bars = BarStore(data_dir)
    generated: list[str] = []
    if not bars.contracts() and profile.data.sample:
        generated = write_sample(data_dir)
    return bars, SeriesStore(data_dir), generated


def load_bars(
    store: BarStore, spec: MarketSpec, start: dt.datetime | None, end: dt.datetime | None
) -> list[InstrumentBar]:
    iid = spec.instrument_id
    contracts = [cid for cid, size in store.contracts(iid) if size == "1m"]
    if not contracts:
        raise UserError(
            f"no minute bars for {iid} in {store.root}; import some with"
            " 'bastion data import' or set data.sample: true"
        )
    out: list[InstrumentBar] = []
    minute = dt.timedelta(minutes=1)
    for cid in contracts:
        frame = store.read(ContractId(cid), "1m", start, end)
        cols = [
            frame[c].to_list()
            for c in ("ts", "open_ticks", "high_ticks", "low_ticks", "close_ticks", "volume")
        ]
        for ts, o, h, lo, c, v in zip(*cols, strict=True):
            out.append(
                InstrumentBar(
                    iid,
                    Bar(
                        contract_id=ContractId(cid),
                        open_ticks=o,
                        high_ticks=h,
                        low_ticks=lo,
                        close_ticks=c,
                        volume=v,
                        start=ts,
                        end=ts + minute,
                    ),
                )
            )
    return out


def _rolls(series: SeriesStore, iid: InstrumentId) -> list[Roll]:
    if not series.has(iid, "roll_calendar"):
        return []
    frame: pl.DataFrame = series.read(iid, "roll_calendar")
    return [
        Roll(ts, ContractId(f"{iid}/{cur}"), ContractId(f"{iid}/{nxt}"))
        for ts, cur, nxt in frame.select("ts", "current", "next").iter_rows()
    ]


def contract_adjustments(
    series: SeriesStore, spec: MarketSpec, rolls: list[Roll]
) -> dict[ContractId, int]:
    """Each held contract's back-adjustment in ticks, from the Panama series of the
    instrument's multiple prices (``bastion.marketdata.adjust``). An instrument that
    rolls needs them: signals must not jump at a roll (a ``UserError`` says what to
    import); one without rolls needs none."""
    iid = spec.instrument_id
    if not rolls:
        return {}
    if not series.has(iid, "multiple"):
        raise UserError(
            f"{iid} rolls {len(rolls)} time(s) in the data but has no multiple prices to"
            f" back-adjust its signals across them: import them ('bastion data"
            " import-pysystemtrade DIR') or use the sample data (data.sample: true)"
        )
    shifts = contract_shifts(panama(series.read(iid, "multiple")))
    out: dict[ContractId, int] = {}
    for contract, shift in shifts.items():
        cid = ContractId(f"{iid}/{contract}")
        if shift is None:
            raise UserError(
                f"{cid}: the back-adjusted series of {iid} is blank there (a roll gap cannot"
                " be determined); 'bastion data adjusted' lists the unresolved rolls"
            )
        ticks = Decimal(repr(shift)) / spec.tick_size
        if ticks != ticks.to_integral_value():
            raise UserError(f"{cid}: its roll adjustment {shift} is not a whole number of ticks")
        out[cid] = int(ticks)
    return out


def _rotate(journal: Path) -> Path | None:
    """A sim session starts from an empty journal; an old one is kept beside it."""
    if not journal.exists():
        return None
    stamp = dt.datetime.fromtimestamp(journal.stat().st_mtime, dt.UTC).strftime("%Y%m%dT%H%M%S")
    kept = journal.with_name(f"{journal.stem}-{stamp}{journal.suffix}")
    journal.rename(kept)
    for suffix in ("-wal", "-shm"):
        side = journal.with_name(journal.name + suffix)
        if side.exists():
            side.rename(kept.with_name(kept.name + suffix))
    return kept


@dataclass(slots=True)
class PreparedSession:
    """A sim session or backtest built from its profile, before its bars run: the
    kernel's engine in its bar driver, the bars in time order, and what the result
    needs. ``run_session`` is ``prepare_session``, every bar, ``finish_session``."""

    profile: Profile
    kind: str
    runner: BarRunner
    bars: list[InstrumentBar]
    specs: dict[InstrumentId, ContractSpec]
    fx: FxTable
    periods_per_year: int
    problems: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)


def _trading_span(
    account: MarketSpec, start: dt.date | None, end: dt.date | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The bars of the account's trading days ``start`` to ``end`` (either open): from
    the close of the trading day before ``start`` to the close of the last trading day
    on or before ``end``, so a China night session goes with the trading day it belongs
    to (Friday night with Monday) and CME's evening with the next day, never a UTC
    date's."""
    calendar = calendar_for(account)

    def after_close_before(day: dt.date) -> dt.datetime:
        try:
            return calendar.close(calendar.previous_trading_day(day))
        except DataError:  # outside the calendar's years: UTC midnight (nothing trades
            return dt.datetime.combine(day, dt.time(), dt.UTC)  # there: orders are refused)

    begin = None if start is None else after_close_before(start)
    finish = None if end is None else after_close_before(end + dt.timedelta(days=1))
    return begin, finish


def _session_bars(
    profile: Profile,
    bar_store: BarStore,
    market_specs: list[MarketSpec],
    start: dt.date | None,
    end: dt.date | None,
) -> list[InstrumentBar]:
    begin, finish = _trading_span(market_specs[0], start or profile.start, end or profile.end)
    bars: list[InstrumentBar] = []
    for spec in market_specs:
        bars.extend(load_bars(bar_store, spec, begin, finish))
    if not bars:
        raise UserError(f"no bars between {start} and {end} for {', '.join(profile.instruments)}")
    bars.sort(key=lambda b: (b.bar.end, b.instrument_id))
    return bars


def prepare_session(
    profile: Profile,
    *,
    kind: str = "session",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> PreparedSession:
    """The session's engine and bars (see ``PreparedSession``); its journal is new."""
    if profile.environment is not Environment.SIM:
        raise UserError(
            f"profile {profile.name} is a {profile.environment} profile; a simulated"
            f" {kind} needs environment: sim"
        )
    use_operator_calendars(profile.data.dir)
    bar_store, series, generated = _ensure_data(profile)
    registry = SpecRegistry.bundled()
    market_specs = [registry[i] for i in profile.instruments]
    specs = {m.instrument_id: m.contract for m in market_specs}
    bars = _session_bars(profile, bar_store, market_specs, start, end)
    # The bars live for the whole run: keep the cyclic collector from rescanning them.
    gc.collect()
    gc.freeze()
    rolls = {iid: _rolls(series, iid) for iid in specs}
    adjustments: dict[ContractId, int] = {}
    for spec in market_specs:
        adjustments.update(contract_adjustments(series, spec, rolls[spec.instrument_id]))
    journal = profile.store.path
    journal.parent.mkdir(parents=True, exist_ok=True)
    _rotate(journal)
    fx = profile_fx(profile)
    first_bar_day = bars[0].bar.start.date()
    problems: list[str] = []
    strategies = build_strategies(
        profile.strategy_line,
        market_specs,
        float(profile.capital),
        profile.risk.max_order_lots // 2 or 1,
        fx=fx,
        start=first_bar_day,
        problems=problems,
    )
    account = market_specs[0]
    runner = build_engine(
        specs=specs,
        contracts=sorted({(b.instrument_id, b.bar.contract_id) for b in bars}),
        schedule=CalendarSchedule(rolls),
        strategies=strategies,
        start=bars[0].bar.start,
        journal=journal,
        venue_config=SimVenueConfig(
            seed=profile.venue.seed, initial_cash=profile.capital, currency=profile.currency
        ),
        risk=profile.risk,
        # A sim session's signal plan is the built-in strategy's own: normal risk level.
        risk_level=("base", f"sim {kind}: built-in strategy {profile.strategy_line}"),
        capital=profile.capital,
        position_limits=dict.fromkeys(specs, profile.risk.max_position_lots),
        fx=fx,
        adjustments=adjustments,
        algos=algo_choices(profile, specs),
        account_instrument=account.instrument_id,
    )
    periods = trading_days_per_year(calendar_for(account), first_bar_day)
    return PreparedSession(profile, kind, runner, bars, specs, fx, periods, problems, generated)


def run_session(
    profile: Profile,
    *,
    kind: str = "session",
    start: dt.date | None = None,
    end: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
    attach: Callable[[Engine], object] | None = None,
) -> SessionResult:
    """``attach`` is called with the engine before the first bar (a sim session's
    heartbeat and alerts, ``bastion.ops.monitor``)."""
    prepared = prepare_session(profile, kind=kind, start=start, end=end)
    runner, bars = prepared.runner, prepared.bars
    if attach is not None:
        attach(runner.engine)
    total = len(bars)
    for n, item in enumerate(bars):
        runner.on_bar(item)
        if progress is not None and n % 5000 == 0:
            progress(n, total)
    if progress is not None:
        progress(total, total)
    return finish_session(prepared)


def finish_session(prepared: PreparedSession) -> SessionResult:
    """The data ended: cancel what still works, keep the last day's equity, close the
    journal, and say what happened."""
    profile, runner, specs = prepared.profile, prepared.runner, prepared.specs
    engine = runner.engine
    engine.stack.end_of_day()  # what is still working is cancelled, as at an end of day
    last = engine.days.account_day(prepared.bars[-1].bar.end)
    final = runner.equity()
    if final is not None and (not runner.equity_points or runner.equity_points[-1][0] != last):
        runner.equity_points.append((last, final))
    problems = list(
        dict.fromkeys(
            [*prepared.problems, *engine.days.problems, *runner.problems, *engine.stack.problems]
        )
    )
    kills = [
        f"kill switch ran ({report.reason}): "
        + ("flat confirmed" if report.flat_confirmed else f"NOT FLAT: {report.residual}")
        for report in engine.kill_reports
    ]
    problems = [*kills, *problems]  # what an operator must read first
    state = str(engine.state())
    engine.close()
    book = engine.oms.book
    broker = [o for o in book.history.values() if isinstance(o, BrokerOrder)]
    slippage = measure_slippage(broker, specs, runner.pnl.to_base)
    pnl = runner.pnl
    equity = [(day, float(value)) for day, value in runner.equity_points]
    gross_by, net_by = pnl.gross_by_currency(), pnl.net_by_currency()
    by_currency = {
        c: (
            gross_by.get(c, Decimal(0)),
            pnl.commissions_by.get(c, Decimal(0)),
            net_by.get(c, Decimal(0)),
        )
        for c in [
            profile.currency,
            *sorted({s.currency for s in specs.values()} - {profile.currency}),
        ]
    }
    kind, journal, generated = prepared.kind, profile.store.path, prepared.generated
    periods_per_year, fx = prepared.periods_per_year, prepared.fx
    return SessionResult(
        kind=kind,
        days=[day for day, _ in runner.equity_points],
        bars=runner.bars,
        orders=len(broker) + len(book.broker_orders),
        fills=pnl.fills,
        positions={c: q for (_, c), q in sorted(book.positions.contract.items())},
        strategy_positions={f"{s}/{i}": q for (s, i), q in sorted(book.positions.strategy.items())},
        gross_pnl=pnl.gross(),
        commissions=pnl.commissions,
        net_pnl=pnl.net(),
        slippage=slippage,
        equity=equity,
        # From capital, as the backtest report: day 1's return is part of the run.
        analytics=analyse(
            [float(runner.capital), *(e for _, e in equity)], pnl.traded_lots, periods_per_year
        ),
        journal=journal,
        problems=problems,
        send_order_calls=runner.venue.counters.send_order_calls,
        cancel_order_calls=runner.venue.counters.cancel_order_calls,
        sample_generated=generated,
        currency=profile.currency,
        pnl_by_currency=by_currency,
        rates=fx.usable(last),
        periods_per_year=periods_per_year,
        state=state,
    )
