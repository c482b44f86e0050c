"""Invariant: the operational reports (status, reconcile, trades, pnl, risk, daily) show
prices in price units, slippage only against a reference price the order carried ("no
reference" otherwise, and left out of the averages), equity, realised and unrealised
P&L, commissions and slippage per currency; the terminal prints rich tables whose cells
are the HTML page's cells; every page is real tables and dated charts on the one
shared template (R9.4; issue 20)."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bastion.domain.enums import OrderType, Side
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, ExecId
from bastion.domain.records import BrokerOrderCreated, BrokerOrderSubmitted, FillRecorded
from bastion.store import SqliteStore
from tests.integration.reports.conftest import run_in

REPORTS = Path("runs/sim/records/reports")
JOURNAL = Path("runs/sim/journal.db")
KINDS = ("status", "reconcile", "trades", "pnl", "risk")


@pytest.fixture
def traded(workdir: Path) -> Path:
    # By 2024-02-20 both instruments have traded: SP500 in USD and rb in CNY.
    result = run_in(workdir, ["session", "--profile", "examples/sim.yaml", "--end", "2024-02-20"])
    assert result.code == 0, result.err
    return workdir


def _flatten_without_reference(folder: Path) -> None:
    """A graceful flatten's order: its plan carried reference price 0 (no price)."""
    at = dt.datetime(2024, 2, 21, 1, 0, tzinfo=dt.UTC)
    coid = ClientOrderId("FLAT-1")
    store = SqliteStore(folder / JOURNAL)
    try:
        store.record(
            [
                BrokerOrderCreated(
                    timestamp=at,
                    client_order_id=coid,
                    contract_id=ContractId("SP500/202403"),
                    side=Side.BUY,
                    quantity=1,
                    order_type=OrderType.MARKET,
                    reference_ticks=0,
                    reference_time=at,
                ),
                BrokerOrderSubmitted(timestamp=at, client_order_id=coid),
                FillRecorded(
                    timestamp=at,
                    fill=Fill(
                        exec_id=ExecId("flat-E1"),
                        client_order_id=coid,
                        contract_id=ContractId("SP500/202403"),
                        side=Side.BUY,
                        quantity=1,
                        price_ticks=19_950,
                        timestamp=at,
                        commission=Decimal("2.00"),
                    ),
                ),
            ]
        )
        store.flush()
    finally:
        store.close()


def _page(folder: Path, kind: str) -> str:
    return next((folder / REPORTS).glob(f"{kind}-*.html")).read_text(encoding="utf-8")


def _cells(page: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", page, flags=re.DOTALL)
    ]


def test_trades_report_no_reference_not_a_price_sized_slippage(traded: Path) -> None:
    _flatten_without_reference(traded)
    result = run_in(traded, ["report", "trades"])
    assert result.code == 0, result.err
    row = next(line for line in result.out.splitlines() if "FLAT-1" in line)
    assert "no reference" in row
    assert "4,987.50" in row  # the fill price, in price units (19,950 ticks of 0.25)
    assert "19950" not in row
    assert "-19950.00" not in result.out
    summary = next(line for line in result.out.splitlines() if line.startswith("USD"))
    vs_reference = float(summary.split()[3])
    assert abs(vs_reference) < 5, f"the flatten order leaked into the average: {summary}"
    assert "1 order(s) carried no reference price" in result.out


def test_trades_report_prices_in_price_units_not_ticks(traded: Path) -> None:
    result = run_in(traded, ["report", "trades"])
    assert result.code == 0, result.err
    assert "avg ticks" not in result.out
    assert "average price" in result.out
    prices = re.findall(r"\b\d,\d{3}\.\d{2}\b", result.out)
    assert prices, "SP500 prices print with the tick's decimals"


def test_trades_page_slippage_markers_at_timestamps(traded: Path) -> None:
    assert run_in(traded, ["report", "trades"]).code == 0
    page = _page(traded, "trades")
    assert '"mode":"markers"' in page
    assert re.search(r'"x":\["2024-02-\d\dT\d\d:\d\d:\d\d\+00:00"', page)
    assert (traded / REPORTS / "assets").is_dir()


def test_pnl_report_equity_unrealised_commission_per_currency(traded: Path) -> None:
    result = run_in(traded, ["report", "pnl"])
    assert result.code == 0, result.err
    out = result.out
    for label in (
        "equity in USD (capital + net P&L)",
        "realised",
        "unrealised",
        "commission",
        "slippage",
        "average entry",
        "mark price",
        "total in USD",
    ):
        assert label in out
    currencies = [line.split()[0] for line in out.splitlines() if line[:4] in {"USD ", "CNY "}]
    assert currencies == ["USD", "CNY"]
    # The profile's rate (fx.rates CNY 0.1385) gives the USD total (issue 15).
    assert "no rate for CNY" not in out
    assert "last ticks" not in out


def test_pnl_report_without_rate_says_no_rate(traded: Path) -> None:
    profile = traded / "examples" / "sim.yaml"
    raw = yaml.safe_load(profile.read_text())
    raw.pop("fx", None)
    variant = traded / "examples" / "no-rate.yaml"
    variant.write_text(yaml.safe_dump({**raw, "name": "sim-no-rate", "official": False}))
    result = run_in(traded, ["report", "pnl", "--profile", str(variant)])
    assert result.code == 0, result.err
    assert "no rate for CNY" in result.out


@pytest.mark.parametrize("kind", KINDS)
def test_report_page_real_tables_on_shared_template(traded: Path, kind: str) -> None:
    result = run_in(traded, ["report", kind])
    # No broker snapshot: the reconciliation has an unknown view, a verdict of NO.
    assert result.code == (3 if kind == "reconcile" else 0), result.err
    page = _page(traded, kind)
    assert f'<meta name="generator" content="Bastion {kind} report">' in page
    assert "<pre>" not in page
    assert "<table" in page
    assert list((traded / REPORTS).glob(f"{kind}-*.md"))
    cells = set(_cells(page))
    for line in result.out.splitlines():
        if set(line.strip()) <= {"─", " "}:
            continue
        for cell in re.split(r"\s{2,}", line.strip()):
            if re.fullmatch(r"[+-]?[\d,]+\.\d\d", cell):
                assert cell in cells, f"{kind}: the terminal's {cell} is not on the page"


def test_terminal_report_tables_drawn_by_rich(traded: Path) -> None:
    for kind in ("trades", "pnl", "status", "risk"):
        out = run_in(traded, ["report", kind]).out
        assert re.search(r"^─{20,}", out, flags=re.MULTILINE), f"{kind} has no rich table rule"


def test_daily_report_equity_and_pnl_per_currency(traded: Path) -> None:
    result = run_in(traded, ["report", "daily"])
    assert result.code == 3, result.err  # no plan yet: the answer is NO
    for label in ("P&L and equity by currency", "unrealised", "commission", "broker equity"):
        assert label in result.out
    page = html.unescape(_page(traded, "daily"))
    assert "Equity and P&L" in page
    assert "Net P&L by currency, after each fill" in page
    assert '<meta name="generator" content="Bastion daily report">' in page
