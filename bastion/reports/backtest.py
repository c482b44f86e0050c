"""The backtest report: every figure a trader reads after a run, built once from the
run's journal, its bars and its daily equity, and drawn both in the terminal and on a
self-contained HTML page (``bastion.reports.backtest_page``) so the two agree.

What it holds: the run's context; return, risk and ratio figures (annualised ones
flagged when the run is under a year); dated equity against a buy-and-hold benchmark
of the same instruments; the underwater curve; monthly returns; rolling Sharpe and
volatility; P&L per currency (realised, unrealised, commissions, slippage) with a
base-currency total where rates were supplied; costs split into commission and
slippage; exposure and time in market; per-instrument and per-trade tables.

Currencies: every money figure carries its currency. Figures in the base currency are
the sum of each currency's figure times the rate supplied in the context; no rate, no
sum ("no rate for CNY"). The return series behind the ratios is the base-currency
equity when every currency converts; otherwise it is the engine's own daily equity,
and the report says so plainly, including whether that equity adds currencies one for
one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bastion.backtest.analytics import (
    TRADING_DAYS_PER_YEAR,
    Analytics,
    MonthlyReturn,
    analyse,
    daily_returns,
    monthly_returns,
    rolling_sharpe,
    rolling_volatility,
    short_sample_caveat,
)
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId, InstrumentId
from bastion.reports.ledger import FillFact, Ledger, PnlSummary, fill_facts
from bastion.reports.marks import DailyMarks, buy_and_hold, daily_marks
from bastion.reports.money import to_base
from bastion.reports.sources import journal_records
from bastion.reports.tables import TableData, print_tables
from bastion.reports.trades import (
    InstrumentRow,
    RoundTrip,
    instrument_rows,
    round_trips,
    time_in_market,
)

if TYPE_CHECKING:
    from rich.console import Console

    from bastion.config import Profile

__all__ = [
    "BacktestReport",
    "BacktestRun",
    "ReportContext",
    "build_backtest_report",
    "write_backtest_report",
]


class BacktestRun(Protocol):
    """What the report reads from a finished run (``SessionResult`` has these)."""

    @property
    def days(self) -> list[dt.date]: ...
    @property
    def bars(self) -> int: ...
    @property
    def orders(self) -> int: ...
    @property
    def fills(self) -> int: ...
    @property
    def equity(self) -> list[tuple[dt.date, float]]: ...
    @property
    def journal(self) -> Path: ...


@dataclass(frozen=True, slots=True)
class ReportContext:
    """The run's context, as the page shows it, and what the report needs to price it."""

    profile: str
    strategy: str
    instruments: tuple[str, ...]
    capital: Decimal
    currency: str
    """The base currency (the profile's)."""
    specs: Mapping[InstrumentId, ContractSpec]
    data_dir: Path | None = None
    venue: str = "sim"
    seed: int | None = None
    rates: Mapping[str, Decimal] | None = None
    """``{currency: rate to base}``; None or a missing currency: no base-currency sum."""
    rolling_window: int = 21
    problems: tuple[str, ...] = ()
    day_of: Callable[[dt.datetime], dt.date] | None = None
    """The account's trading day of a moment (the engine's, from exchange calendars);
    ``None``: the UTC date."""
    periods_per_year: int = TRADING_DAYS_PER_YEAR
    """Trading days per year of the account's calendar: what annualised figures use."""

    @classmethod
    def from_profile(
        cls,
        profile: Profile,
        *,
        rates: Mapping[str, Decimal] | None = None,
        problems: Sequence[str] = (),
        start: dt.date | None = None,
    ) -> ReportContext:
        """The context of a profile's run: its rates to the base currency (the
        profile's ``fx`` unless ``rates`` are given) and the account calendar's trading
        days per year around ``start`` (the run's first day; default today)."""
        from bastion.engine.days import TradingDays, calendars_for
        from bastion.marketdata.calendars import calendar_for, trading_days_per_year
        from bastion.marketdata.fx import profile_fx
        from bastion.marketdata.specs import SpecRegistry
        from bastion.reports.sources import profile_specs

        specs = profile_specs(profile)
        days = TradingDays(calendars_for(specs), InstrumentId(profile.instruments[0]))
        if rates is None:
            rates = profile_fx(profile).usable(None)
        periods = TRADING_DAYS_PER_YEAR
        account = SpecRegistry.bundled().get(profile.instruments[0])
        if account is not None:
            periods = trading_days_per_year(
                calendar_for(account), start or dt.datetime.now(dt.UTC).date()
            )
        return cls(
            profile=profile.name,
            strategy=profile.strategy_line,
            instruments=tuple(profile.instruments),
            capital=profile.capital,
            currency=profile.currency,
            specs=specs,
            data_dir=Path(profile.data.dir),
            venue=profile.venue.kind,
            seed=profile.venue.seed if profile.venue.kind == "sim" else None,
            rates=rates,
            problems=tuple(problems),
            day_of=days.account_day,
            periods_per_year=periods,
        )

    @property
    def currencies(self) -> tuple[str, ...]:
        """The base currency first, then every other currency the instruments trade in."""
        others = sorted({s.currency for s in self.specs.values()} - {self.currency})
        return (self.currency, *others)

    @property
    def missing_rates(self) -> tuple[str, ...]:
        return tuple(c for c in self.currencies[1:] if c not in (self.rates or {}))


@dataclass(frozen=True, slots=True)
class Figures:
    """The performance figures of one equity series (strategy or benchmark)."""

    analytics: Analytics
    volatility: float
    best_day: float
    worst_day: float


@dataclass(slots=True)
class BacktestReport:
    context: ReportContext
    days: list[dt.date]
    bars: int
    orders: int
    fills: int
    journal: Path
    equity: list[float]
    """The series behind the ratios, one value per day (see ``equity_source``)."""
    equity_source: str
    equity_note: str
    figures: Figures
    caveat: str
    pnl_by_day: dict[str, list[Decimal]]
    """Net P&L per currency at each day's end."""
    exposure_by_day: dict[str, list[Decimal]]
    """Gross notional held per currency at each day's end."""
    summary: PnlSummary
    monthly: list[MonthlyReturn]
    rolling_sharpe: list[float | None]
    rolling_volatility: list[float | None]
    benchmark: list[float] | None
    benchmark_figures: Figures | None
    trips: list[RoundTrip]
    instruments: list[InstrumentRow]
    time_in_market: float | None
    """Share of the run with any position open."""
    traded_lots: int
    notes: list[str] = field(default_factory=list)

    @property
    def start(self) -> dt.date:
        return self.days[0]

    @property
    def end(self) -> dt.date:
        return self.days[-1]

    def tables(self) -> list[TableData]:
        """The tables the terminal prints and the page shows, in order."""
        from bastion.reports.backtest_page import tables

        return tables(self)

    def print(self, console: Console) -> None:
        print_tables(console, self.tables())

    def write(self, path: Path) -> Path:
        """The self-contained HTML page at ``path`` (parent folders made)."""
        from bastion.reports.backtest_page import backtest_page
        from bastion.reports.html import write_page

        return write_page(backtest_page(self), path, scripts="inline")


def _figures(equity: Sequence[float], traded_lots: int, periods_per_year: int) -> Figures:
    returns = daily_returns(equity)
    a = analyse(equity, traded_lots, periods_per_year)
    vol = (
        rolling_volatility(returns, len(returns), periods_per_year) if len(returns) >= 2 else [None]
    )
    return Figures(
        analytics=a,
        volatility=vol[-1] or 0.0,
        best_day=max(returns, default=0.0),
        worst_day=min(returns, default=0.0),
    )


def _utc_date(when: dt.datetime) -> dt.date:
    return when.astimezone(dt.UTC).date()


def _daily_ledger(
    facts: Sequence[FillFact],
    context: ReportContext,
    days: Sequence[dt.date],
    marks: DailyMarks,
) -> tuple[Ledger, dict[str, list[Decimal]], dict[str, list[Decimal]]]:
    ledger = Ledger(context.specs)
    pnl: dict[str, list[Decimal]] = {c: [] for c in context.currencies}
    exposure: dict[str, list[Decimal]] = {c: [] for c in context.currencies}
    ordered = sorted(facts, key=lambda f: f.fill.timestamp)
    day_of = context.day_of or _utc_date
    i = 0
    for day, day_marks in zip(days, marks.series(), strict=True):
        while i < len(ordered) and day_of(ordered[i].fill.timestamp) <= day:
            ledger.apply(ordered[i])
            i += 1
        net = ledger.net_by_currency(day_marks)
        held = ledger.gross_exposure(day_marks)
        for currency, values in pnl.items():
            values.append(net.get(currency, Decimal(0)))
            exposure[currency].append(held.get(currency, Decimal(0)))
    for fact in ordered[i:]:  # fills after the last day (none in a normal run)
        ledger.apply(fact)
    return ledger, pnl, exposure


def _equity_series(
    run: BacktestRun, context: ReportContext, pnl: Mapping[str, Sequence[Decimal]]
) -> tuple[list[float], str, str]:
    """The series behind the ratios, where it came from, and what to say about it."""
    capital = context.capital
    n = len(run.days)
    if not context.missing_rates:
        series = []
        for k in range(n):
            total = to_base(((c, v[k]) for c, v in pnl.items()), context.currency, context.rates)
            assert total.amount is not None  # noqa: S101 - no rate is missing
            series.append(float(capital + total.amount))
        converted = len(context.currencies) > 1
        source = (
            f"base-currency equity ({context.currency}, converted at the supplied rates)"
            if converted
            else f"equity in {context.currency}"
        )
        return series, source, ""
    engine = [value for _, value in run.equity]
    face = [float(capital + sum(v[k] for v in pnl.values())) for k in range(n)]
    gap = max((abs(a - b) for a, b in zip(engine, face, strict=False)), default=0.0)
    missing = ", ".join(context.missing_rates)
    note = (
        f"No rate from {missing} to {context.currency} was supplied, so this report cannot"
        f" state the run in {context.currency}. Returns, drawdown and ratios below are on"
        " the engine's own daily equity"
    )
    if gap < 0.01:
        note += (
            f", which adds {missing} amounts to {context.currency} one for one (1:1);"
            " 'P&L by currency' gives each currency's own figures."
        )
    else:
        note += f" (it differs from this report's face-value sum by up to {gap:,.2f})."
    return engine, f"engine equity ({context.currency} and {missing} summed 1:1)", note


def build_backtest_report(run: BacktestRun, context: ReportContext) -> BacktestReport:
    """Everything the page and the terminal show, from the run and its journal."""
    days = list(run.days)
    records = journal_records(run.journal)
    facts = fill_facts(records)
    marks = (
        daily_marks(context.data_dir, context.instruments, days, context.day_of)
        if context.data_dir is not None
        else DailyMarks(days)
    )
    ledger, pnl, exposure = _daily_ledger(facts, context, days, marks)
    final_marks = marks.series()[-1] if days else {}
    summary = ledger.summary(
        {cid: (ticks, f"close {days[-1]}") for cid, ticks in final_marks.items()},
        base=context.currency,
        capital=context.capital,
        rates=context.rates,
    )
    equity, source, note = _equity_series(run, context, pnl)
    traded_lots = sum(f.fill.quantity for f in facts)
    with_capital = [float(context.capital), *equity]
    returns = daily_returns(with_capital)
    periods = context.periods_per_year
    figures = _figures(with_capital, traded_lots, periods)
    bench_returns = (
        buy_and_hold(marks, context.data_dir, context.instruments)
        if context.data_dir is not None and marks.closes
        else None
    )
    benchmark: list[float] | None = None
    bench_figures = None
    if bench_returns is not None:
        value, benchmark = float(context.capital), []
        for r in bench_returns:
            value *= 1.0 + (r or 0.0)
            benchmark.append(value)
        bench_figures = _figures([float(context.capital), *benchmark], 0, periods)
    span = _span(marks, days)
    in_market = time_in_market(facts, span)
    any_position = _any_position(facts, span)
    trips = round_trips(facts, context.specs, final_marks)
    notes = [*summary.notes, *context.problems]
    if note:
        notes.insert(0, note)
    return BacktestReport(
        context=context,
        days=days,
        bars=run.bars,
        orders=run.orders,
        fills=run.fills,
        journal=run.journal,
        equity=equity,
        equity_source=source,
        equity_note=note,
        figures=figures,
        caveat=short_sample_caveat(len(days), periods),
        pnl_by_day=pnl,
        exposure_by_day=exposure,
        summary=summary,
        monthly=monthly_returns(days, equity, float(context.capital)),
        rolling_sharpe=rolling_sharpe(returns, context.rolling_window, periods),
        rolling_volatility=rolling_volatility(returns, context.rolling_window, periods),
        benchmark=benchmark,
        benchmark_figures=bench_figures,
        trips=trips,
        instruments=instrument_rows(trips, in_market),
        time_in_market=any_position,
        traded_lots=traded_lots,
        notes=notes,
    )


def _span(marks: DailyMarks, days: Sequence[dt.date]) -> tuple[dt.datetime, dt.datetime]:
    if marks.first_bar is not None and marks.last_bar_end is not None:
        return marks.first_bar, marks.last_bar_end
    start = dt.datetime.combine(days[0], dt.time(), dt.UTC)
    return start, dt.datetime.combine(days[-1], dt.time(), dt.UTC) + dt.timedelta(days=1)


def _any_position(facts: Sequence[FillFact], span: tuple[dt.datetime, dt.datetime]) -> float:
    """Share of the span with a position open in any contract."""
    start, end = span
    total = (end - start).total_seconds()
    held: dict[ContractId, int] = {}
    open_since: dt.datetime | None = None
    seconds = 0.0
    for fact in sorted(facts, key=lambda f: f.fill.timestamp):
        cid = fact.fill.contract_id
        held[cid] = held.get(cid, 0) + fact.fill.signed_quantity
        when = min(max(fact.fill.timestamp, start), end)
        flat = not any(held.values())
        if open_since is None and not flat:
            open_since = when
        elif open_since is not None and flat:
            seconds += (when - open_since).total_seconds()
            open_since = None
    if open_since is not None:
        seconds += (end - open_since).total_seconds()
    return seconds / total if total > 0 else 0.0


def write_backtest_report(run: BacktestRun, path: Path, context: ReportContext) -> Path:
    """Build the report and write its page; returns the page's path."""
    return build_backtest_report(run, context).write(path)
