"""Invariant: ``bastion backtest`` writes a self-contained report a trader can trust: the
run's context; the same figures as the terminal, formatted as the terminal formats them
(never raw keys or fractions); annualised figures flagged on a short sample; dated
plotly charts (no hand-drawn SVG) with an underwater chart that is empty at new highs;
monthly returns, rolling statistics, a buy-and-hold benchmark, a costs split, exposure,
per-instrument and per-trade tables; money per currency, summed in the base currency
only with a rate (R9.4, R11.3; issue 20)."""

from __future__ import annotations

import dataclasses
import html
import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bastion.backtest.session import SessionResult, run_session
from bastion.config import load_profile
from tests.integration.reports.conftest import Run, make_workdir, run_in, terminal_value

if TYPE_CHECKING:
    from bastion.reports.backtest import BacktestReport, ReportContext


def page_text(page: str) -> str:
    """A page's text as a reader sees it (scripts and tags dropped, entities decoded)."""
    body = re.sub(r"<script.*?</script>", " ", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture(scope="module")
def finished(
    tmp_path_factory: pytest.TempPathFactory, sample_data: Path
) -> tuple[SessionResult, ReportContext, Path]:
    """The same sample backtest run in-process, for the report's data."""
    from bastion.reports.backtest import ReportContext

    folder = make_workdir(tmp_path_factory.mktemp("finished"), sample_data)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        profile = load_profile(Path("examples/sim.yaml"))
        result = run_session(profile, kind="backtest")
        result.journal = folder / result.journal
        context = dataclasses.replace(
            ReportContext.from_profile(profile), data_dir=folder / profile.data.dir
        )
    return result, context, folder


@pytest.fixture(scope="module")
def report(finished: tuple[SessionResult, ReportContext, Path]) -> BacktestReport:
    from bastion.reports.backtest import build_backtest_report

    result, context, _ = finished
    return build_backtest_report(result, context)


def _chart(report: BacktestReport, title: str) -> dict[str, Any]:
    from bastion.reports.backtest_page import backtest_page
    from bastion.reports.html import Chart

    charts = [c for c in backtest_page(report).charts if c.title.startswith(title)]
    assert charts, f"no chart titled {title!r}"
    chart: Chart = charts[0]
    figure: dict[str, Any] = chart.figure.to_dict()
    return figure


def test_backtest_page_context_shows_profile_dates_instruments_capital_currency(
    backtest: Run,
) -> None:
    text = page_text(backtest.html)
    for expected in (
        "sim-default",
        "ema_trend",
        "2024-02-01 to 2024-05-01 (64 trading days)",
        "SP500 (USD), rb (CNY)",
        "1,000,000.00 USD",
        "sim (seed 7)",
    ):
        assert expected in text


def test_backtest_page_figures_match_terminal_never_raw_keys_or_fractions(backtest: Run) -> None:
    out, text = backtest.result.out, page_text(backtest.html)
    for label in ("compounded return", "max drawdown", "win rate (days)", "Sharpe", "Sortino"):
        value = terminal_value(out, label)
        assert value in text, f"{label}: terminal {value} not on the page"
    # 89,965.76 USD on 1,000,000: USD P&L plus CNY P&L at 0.1385 (issue 15; was +9.76%
    # with CNY added one for one and signals spliced across rolls)
    assert terminal_value(out, "compounded return") == "+9.00%"
    for raw in ("total_return", "annual_return", "max_drawdown", "win_rate", "64.0000"):
        assert raw not in text


def test_backtest_short_sample_annualised_figures_flagged(
    workdir: Path,
) -> None:
    result = run_in(workdir, ["backtest", "--profile", "examples/sim.yaml", "--end", "2024-02-29"])
    assert result.code == 0, result.err
    line = next(x for x in result.out.splitlines() if x.startswith("annualised return"))
    assert "(short sample)" in line
    assert "under one year" in result.out
    page = (workdir / "runs" / "sim" / "reports" / "backtest.html").read_text()
    assert "(short sample)" in page_text(page)


def test_backtest_page_self_contained_plotly_no_hand_drawn_svg(backtest: Run) -> None:
    page = backtest.html
    assert "<polyline" not in page
    assert "<svg" not in page.split("<script>", 1)[0]
    assert "Plotly.newPlot" in page
    sources = re.findall(r"""<(?:script|link|img)[^>]+(?:src|href)=["']([^"']+)""", page)
    assert sources == [], f"the page loads {sources}"
    assert page.count('class="chart"') >= 8


def test_backtest_equity_and_drawdown_charts_are_dated(report: BacktestReport) -> None:
    for title in ("Equity", "Underwater", "Rolling Sharpe", "Cumulative net P&L"):
        figure = _chart(report, title)
        assert figure["layout"]["xaxis"]["type"] == "date"
        assert figure["layout"]["xaxis"]["title"]["text"] == "date (UTC)"
        xs = figure["data"][0]["x"]
        assert str(xs[0]) == "2024-02-01"  # the CME trading day of the first bar
        assert str(xs[-1]) == "2024-05-01"


def test_backtest_underwater_zero_at_new_highs_filled_to_zero(report: BacktestReport) -> None:
    trace = _chart(report, "Underwater")["data"][0]
    assert trace["fill"] == "tozeroy"
    drawdown = list(trace["y"])
    assert all(d <= 0 for d in drawdown)
    equity = [float(report.context.capital), *report.equity]
    highs = [i for i in range(1, len(equity)) if equity[i] >= max(equity[:i])]
    assert highs, "the sample run makes new highs"
    assert all(drawdown[i - 1] == 0 for i in highs)
    assert min(drawdown) == pytest.approx(-report.figures.analytics.max_drawdown)


def test_backtest_report_tables_trader_expects(backtest: Run, report: BacktestReport) -> None:
    text = page_text(backtest.html)
    for heading in (
        "Monthly returns",
        "Rolling Sharpe ratio (21 trading days, annualised)",
        "Rolling volatility (21 trading days, annualised)",
        "Costs: commission and slippage",
        "Exposure (gross notional at day end)",
        "Per instrument",
        f"Trades ({len(report.trips)} round trips)",
        "buy and hold",
    ):
        assert heading in text
    # Months of the account's trading days (CME): the sample's last evening, 30 April
    # after 17:00 Chicago, belongs to the trading day of 1 May.
    assert [f"{m.year}-{m.month:02d}" for m in report.monthly] == [
        "2024-02",
        "2024-03",
        "2024-04",
        "2024-05",
    ]
    assert {str(r.instrument) for r in report.instruments} == {"SP500", "rb"}
    assert report.benchmark is not None
    assert len(report.benchmark) == len(report.days)
    assert len(report.trips) > 50
    first = report.trips[0]
    assert f"{first.opened:%Y-%m-%d %H:%M}" in text


def test_backtest_trips_add_up_to_currency_pnl(report: BacktestReport) -> None:
    """Per-trade, per-instrument and per-currency P&L are one set of books."""
    for currency in report.summary.currencies:
        trips = [t for t in report.trips if t.currency == currency.currency]
        assert sum((t.net for t in trips), Decimal(0)) == pytest.approx(
            currency.net, abs=Decimal("0.05")
        )
        rows = [r for r in report.instruments if r.currency == currency.currency]
        assert sum((r.commissions for r in rows), Decimal(0)) == currency.commissions


def test_backtest_currencies_summed_only_with_rates(
    finished: tuple[SessionResult, ReportContext, Path], report: BacktestReport
) -> None:
    from bastion.reports.backtest import build_backtest_report

    result, context, _ = finished
    usd, cny = (c.net for c in report.summary.currencies)
    assert [c.currency for c in report.summary.currencies] == ["USD", "CNY"]
    # The profile's rate (fx.rates CNY 0.1385) reaches the report: a USD total.
    assert context.rates == {"CNY": Decimal("0.1385")}
    total = report.summary.total("net")
    assert total.amount == (usd + cny * Decimal("0.1385")).quantize(Decimal("0.01"))
    assert report.equity_note == ""
    assert report.equity[-1] == pytest.approx(float(context.capital + total.amount))
    # The engine's own equity is in USD too: CNY converted, never added one for one.
    assert result.net_pnl is not None
    assert result.net_pnl == pytest.approx(usd + cny * Decimal("0.1385"), abs=Decimal("0.01"))
    assert result.net_pnl != usd + cny
    # Without a CNY rate there is no USD total, and the page says so.
    bare = build_backtest_report(result, dataclasses.replace(context, rates={}))
    assert bare.summary.total("net").text() == "no rate for CNY"
    assert "No rate from CNY to USD was supplied" in bare.equity_note
