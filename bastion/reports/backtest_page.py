"""The backtest report drawn: the terminal's tables and the HTML page.

Both are made from the same ``TableData`` (``bastion.reports.tables``), so the page shows
exactly the figures the terminal prints; the page adds the charts and the long tables
(every round trip).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from bastion.backtest.analytics import underwater
from bastion.domain.ids import InstrumentId
from bastion.reports.charts import (
    bars_by_day,
    equity_chart,
    monthly_heatmap,
    rolling_chart,
    underwater_chart,
)
from bastion.reports.html import Callout, Chart, PageData, Paragraph, Section
from bastion.reports.money import NO_REFERENCE, format_amount, format_money, format_price
from bastion.reports.pnl_tables import currency_table
from bastion.reports.tables import TableData, facts_table, grid

if TYPE_CHECKING:
    from bastion.reports.backtest import BacktestReport, Figures

__all__ = ["backtest_page", "tables"]

SHORT = " (short sample)"


def pct(value: float | None, *, signed: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:+.2%}" if signed else f"{value:.2%}"


def _ratio(value: float) -> str:
    return f"{value:.2f}"


def context_rows(report: BacktestReport) -> list[tuple[str, str]]:
    c = report.context
    instruments = ", ".join(
        f"{i} ({c.specs[InstrumentId(i)].currency})" if InstrumentId(i) in c.specs else i
        for i in c.instruments
    )
    venue = c.venue + (f" (seed {c.seed})" if c.seed is not None else "")
    return [
        ("profile", c.profile),
        ("strategy", c.strategy),
        ("instruments", instruments),
        ("period", f"{report.start} to {report.end} ({len(report.days)} trading days)"),
        ("capital", format_money(c.capital, c.currency)),
        ("base currency", c.currency),
        ("venue", venue),
        ("bars / orders / fills", f"{report.bars:,} / {report.orders:,} / {report.fills:,}"),
    ]


def performance_table(report: BacktestReport) -> TableData:
    """The analytics, strategy against the benchmark; annualised figures flagged."""
    short = SHORT if report.caveat else ""
    s = report.figures
    b = report.benchmark_figures

    def row(name: str, get: str, *, annual: bool = False, signed: bool = True) -> tuple[str, ...]:
        def show(f: Figures | None) -> str:
            if f is None:
                return "-"
            value = _value(f, get)
            text = pct(value, signed=signed) if get not in RATIOS else _ratio(value)
            return text + (short if annual else "")

        return (name, show(s), show(b))

    days = len(report.days)
    rows = [
        row("compounded return", "total_return"),
        row("annualised return", "annual_return", annual=True),
        row("volatility (annualised)", "volatility", annual=True, signed=False),
        row("Sharpe", "sharpe", annual=True),
        row("Sortino", "sortino", annual=True),
        row("max drawdown", "max_drawdown", signed=False),
        row("win rate (days)", "win_rate", signed=False),
        row("best day", "best_day"),
        row("worst day", "worst_day"),
        (
            "turnover (lots/day)",
            f"{report.traded_lots / days:.1f}" if days else "-",
            "-",
        ),
        ("time in market", pct(report.time_in_market, signed=False), "100.00%"),
    ]
    caveat = f"{report.caveat}." if report.caveat else ""
    note = " ".join(
        part
        for part in (caveat, report.equity_note, f"Returns from {report.equity_source}.")
        if part
    )
    return grid("Analytics", ("", "strategy", "buy and hold"), rows, note=note)


RATIOS = {"sharpe", "sortino"}


def _value(f: Figures, name: str) -> float:
    if name in {"volatility", "best_day", "worst_day"}:
        return float(getattr(f, name))
    return float(getattr(f.analytics, name))


def costs_table(report: BacktestReport) -> TableData:
    rows = []
    for c in report.summary.currencies:
        total = c.commissions + c.slippage
        rows.append(
            (
                c.currency,
                format_amount(c.commissions),
                format_amount(c.slippage, signed=True),
                format_amount(total),
                f"{c.referenced_lots:,}",
                f"{c.unreferenced_lots:,}" if c.unreferenced_lots else "0",
            )
        )
    base = report.summary
    rows.append(
        (
            f"total in {base.base}",
            base.total("commissions").text(),
            base.total("slippage").text(signed=True),
            _sum_text(report),
            "",
            "",
        )
    )
    return grid(
        "Costs: commission and slippage",
        ("currency", "commission", "slippage", "total cost", "lots vs reference", NO_REFERENCE),
        rows,
        note=(
            "Slippage is the fill price against the order's reference price, worse positive"
            " (a cost), counted only on lots whose order carried a reference; the others are"
            f" counted under '{NO_REFERENCE}'. The slippage is already inside the P&L."
        ),
    )


def _sum_text(report: BacktestReport) -> str:
    commissions = report.summary.total("commissions")
    slippage = report.summary.total("slippage")
    if commissions.amount is None or slippage.amount is None:
        return commissions.text() if commissions.amount is None else slippage.text()
    return format_money(commissions.amount + slippage.amount, report.summary.base)


def instruments_table(report: BacktestReport) -> TableData:
    rows = [
        (
            f"{r.instrument} ({r.currency})",
            f"{r.trips}",
            pct(r.win_rate, signed=False),
            format_amount(r.gross, signed=True),
            format_amount(r.commissions),
            format_amount(r.slippage, signed=True),
            format_amount(r.net, signed=True),
            f"{r.lots:,}",
            pct(r.time_in_market, signed=False),
        )
        for r in report.instruments
    ]
    return grid(
        "Per instrument",
        (
            "instrument",
            "trades",
            "win rate",
            "gross P&L",
            "commission",
            "slippage",
            "net P&L",
            "lots",
            "in market",
        ),
        rows,
        note="Money in each instrument's own currency; win rate over closed trades, after"
        " commission. Slippage is inside gross P&L and shown apart for information.",
    )


def monthly_table(report: BacktestReport) -> TableData:
    return grid(
        "Monthly returns",
        ("month", "return"),
        [(f"{m.year}-{m.month:02d}", pct(m.value)) for m in report.monthly],
        note=f"Compounded within each month, from {report.equity_source}.",
    )


def exposure_table(report: BacktestReport) -> TableData:
    rows = []
    equity = report.equity
    for currency, values in report.exposure_by_day.items():
        if not any(values):
            continue
        average = sum(values, Decimal(0)) / len(values)
        peak = max(values)
        share = "-"
        rate = (
            Decimal(1)
            if currency == report.context.currency
            else (report.context.rates or {}).get(currency)
        )
        if rate is not None:
            ratios = [float(v * rate) / e for v, e in zip(values, equity, strict=True) if e > 0]
            share = f"{sum(ratios) / len(ratios):.2f}x / {max(ratios):.2f}x" if ratios else "-"
        else:
            share = f"no rate for {currency}"
        rows.append((currency, format_amount(average), format_amount(peak), share))
    return grid(
        "Exposure (gross notional at day end)",
        ("currency", "average", "largest", "average / largest x equity"),
        rows,
        note="Gross notional = |lots| x price x multiplier, at each day's closing price.",
    )


def trips_table(report: BacktestReport) -> TableData:
    rows = []
    for t in report.trips:
        exit_price = format_price(t.exit_ticks, t.spec) if t.exit_ticks is not None else "open"
        rows.append(
            (
                str(t.contract),
                t.direction,
                f"{t.lots}",
                t.opened.strftime("%Y-%m-%d %H:%M"),
                t.closed.strftime("%Y-%m-%d %H:%M") if t.closed else "open",
                _holding(t.holding),
                format_price(t.entry_ticks, t.spec),
                exit_price + (" (roll)" if t.exit_by_roll else ""),
                format_amount(t.gross, signed=True),
                format_amount(t.commissions),
                format_amount(t.slippage, signed=True)
                if t.unreferenced_lots == 0
                else NO_REFERENCE,
                format_amount(t.net, signed=True),
                t.currency,
            )
        )
    return grid(
        f"Trades ({len(report.trips)} round trips)",
        (
            "contract",
            "side",
            "lots",
            "opened (UTC)",
            "closed (UTC)",
            "held",
            "entry price",
            "exit price",
            "gross P&L",
            "commission",
            "slippage",
            "net P&L",
            "currency",
        ),
        rows,
        numeric=(False, False, True, False, False, True, True, True, True, True, True, True, False),
        note="A trade runs from flat to flat in one contract; a roll closes the old"
        " contract's trade and opens one in the new. Open trades are marked at the last close.",
    )


def _holding(held: dt.timedelta | None) -> str:
    if held is None:
        return "-"
    hours = held.total_seconds() / 3600
    return f"{hours / 24:.1f} d" if hours >= 48 else f"{hours:.1f} h"


def tables(report: BacktestReport) -> list[TableData]:
    """The tables the terminal prints, in order (the page shows them too)."""
    return [
        facts_table("Run", context_rows(report)),
        performance_table(report),
        currency_table(report.summary, title="P&L by currency"),
        costs_table(report),
        instruments_table(report),
        monthly_table(report),
        exposure_table(report),
    ]


def backtest_page(report: BacktestReport) -> PageData:
    c = report.context
    dates = report.days
    _, performance, by_currency, costs, per_instrument, monthly, exposure = tables(report)
    lines = {f"strategy ({report.equity_source})": report.equity}
    if report.benchmark is not None:
        lines["buy and hold (equal weight, same instruments)"] = list(report.benchmark)
    pnl_lines = {cur: [float(v) for v in values] for cur, values in report.pnl_by_day.items()}
    daily_pnl = {
        cur: [float(b - a) for a, b in zip([Decimal(0), *values], values, strict=False)]
        for cur, values in report.pnl_by_day.items()
    }
    window = c.rolling_window
    net = report.summary.total("net")
    headline = Callout(
        "Net P&L: "
        + "; ".join(format_money(x.net, x.currency, signed=True) for x in report.summary.currencies)
        + f" | in {c.currency}: {net.text(signed=True)}"
        + f" | compounded return {pct(report.figures.analytics.total_return)}",
        "good" if report.figures.analytics.total_return >= 0 else "bad",
    )
    sections = [
        Section(
            "Performance",
            (
                performance,
                Chart(
                    f"Equity ({c.currency}) against buy and hold",
                    equity_chart(dates, lines, y_title=f"equity ({c.currency})"),
                    note="Buy and hold: every instrument of the run held long with equal"
                    " weight, fully collateralised, rolled on the roll calendar, no costs.",
                ),
                Chart(
                    "Underwater: drawdown from the running peak",
                    underwater_chart(dates, underwater([float(c.capital), *report.equity])[1:]),
                    note="Zero at every new high; the shaded area is how far below its peak the"
                    " equity stood.",
                ),
            ),
        ),
        Section(
            "P&L by currency",
            (
                by_currency,
                Chart(
                    "Cumulative net P&L per currency",
                    equity_chart(dates, pnl_lines, y_title="net P&L (own currency)"),
                ),
                Chart(
                    "Daily net P&L per currency",
                    bars_by_day(dates, daily_pnl, y_title="net P&L (own currency)"),
                ),
            ),
        ),
        Section(
            "Monthly returns",
            (Chart("Monthly returns", monthly_heatmap(report.monthly)), monthly),
        ),
        Section(
            "Rolling statistics",
            (
                Chart(
                    f"Rolling Sharpe ratio ({window} trading days, annualised)",
                    rolling_chart(dates, report.rolling_sharpe, name="Sharpe"),
                    note=f"Blank until {window} days of returns exist.",
                ),
                Chart(
                    f"Rolling volatility ({window} trading days, annualised)",
                    rolling_chart(
                        dates, report.rolling_volatility, name="volatility", y_format=".1%"
                    ),
                ),
            ),
        ),
        Section("Costs", (costs,)),
        Section(
            "Exposure and time in market",
            (
                exposure,
                Chart(
                    "Gross notional held at day end",
                    equity_chart(
                        dates,
                        {k: [float(x) for x in v] for k, v in report.exposure_by_day.items()},
                        y_title="gross notional (own currency)",
                    ),
                ),
            ),
        ),
        Section("Per instrument", (per_instrument,)),
        Section("Trades", (trips_table(report),)),
    ]
    others = [n for n in report.notes if n != report.equity_note]
    if others:
        sections.append(Section("Notes", tuple(Paragraph(text) for text in others[:50])))
    return PageData(
        kind="backtest",
        title=f"Bastion backtest: {c.profile}",
        subtitle=f"{c.strategy} on {', '.join(c.instruments)}, {report.start} to {report.end}",
        headline=headline,
        context=(*context_rows(report), ("journal", str(report.journal))),
        sections=tuple(sections),
    )
