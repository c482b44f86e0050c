"""Invariant: `bastion session` and `bastion backtest` run the whole path from a clean
folder on the bundled sample data and say what happened; bad arguments are refused with
one line and exit status 2 before anything runs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, CliResult
from tests.tables import facts_of


@pytest.fixture
def workdir(in_tmp: Path) -> Path:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    return in_tmp


def _one_line(result: CliResult) -> str:
    assert result.code == 2, result
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def test_session_sample_data_runs_and_reports(cli: Callable[..., CliResult], workdir: Path) -> None:
    result = cli(["session", "--profile", "examples/sim.yaml", "--end", "2024-02-20"])
    assert result.code == 0, result.err
    out = result.out
    for label in (
        "days run",
        "orders / fills",
        "positions (contract)",
        "P&L USD gross / net",
        "P&L CNY gross / net",
        "P&L net total in USD",
        "commissions",
        "slippage vs reference",
        "journal",
    ):
        assert label in out
    assert (workdir / "runs" / "sim" / "journal.db").exists()
    records = list((workdir / "runs" / "sim" / "records").glob("*/session-*.json"))
    assert len(records) == 1
    assert records[0].with_suffix(".md").exists()
    record = json.loads(records[0].read_text())
    assert record["api_counts"]["send_order_calls"] == record["details"]["orders"]
    assert record["details"]["fills"] > 0
    assert record["command"].startswith("bastion session")


def test_session_prints_each_currency_and_usd_total_at_profile_rate(
    cli: Callable[..., CliResult], workdir: Path
) -> None:
    """Issue 15: SP500 (USD) and rb (CNY) P&L are shown apart, and the total is in USD
    at the profile's rate, never the two added one for one."""
    result = cli(["session", "--profile", "examples/sim.yaml", "--end", "2024-03-15"])
    assert result.code == 0, result.err
    record = json.loads(
        next((workdir / "runs" / "sim" / "records").glob("*/session-*.json")).read_text()
    )
    details = record["details"]
    rate = Decimal(details["rates"]["CNY"])
    assert rate == Decimal("0.1385")
    by = {
        c: {k: Decimal(v) for k, v in row.items()} for c, row in details["pnl_by_currency"].items()
    }
    assert set(by) == {"USD", "CNY"}
    assert by["CNY"]["net"] != 0
    total = Decimal(details["net_pnl"])
    assert total == by["USD"]["net"] + by["CNY"]["net"] * rate
    assert total != by["USD"]["net"] + by["CNY"]["net"]  # not summed 1:1
    assert f"{total:,.2f} USD (at 0.1385 USD per CNY)" in result.out
    assert f"{by['CNY']['net']:,.2f} CNY" in result.out
    assert f"{by['USD']['net']:,.2f} USD" in result.out


def test_session_slippage_in_money_per_currency_ticks_per_instrument(
    cli: Callable[..., CliResult], workdir: Path
) -> None:
    """Issue 20: the headline's slippage is money (each currency, and the USD total at
    the rate, a cost positive) and ticks per lot per instrument; never ticks of SP500
    and rb added together."""
    result = cli(["session", "--profile", "examples/sim.yaml", "--end", "2024-03-15"])
    assert result.code == 0, result.err
    record = json.loads(
        next((workdir / "runs" / "sim" / "records").glob("*/session-*.json")).read_text()
    )
    slip = record["details"]["slippage"]
    assert "positive" in slip["sign"]
    assert "cost" in slip["sign"]
    by = {c: Decimal(v) for c, v in slip["by_currency"].items()}
    assert set(by) == {"USD", "CNY"}
    base = Decimal(slip["base"])
    assert base == by["USD"] + by["CNY"] * Decimal("0.1385")
    assert set(slip["ticks_per_lot"]) == {"SP500", "rb"}
    line = _line(result.out, "slippage vs reference")
    assert f"{base:+,.2f} USD" in line
    assert f"{by['CNY']:+,.2f} CNY" in line
    assert f"{by['USD']:+,.2f} USD" in line
    assert "positive is a cost" in line
    assert ("a cost" if base > 0 else "a gain") in line.split("(")[0]
    per_lot = _line(result.out, "slippage per lot")
    for iid, ticks in slip["ticks_per_lot"].items():
        assert f"{iid} {ticks:+.2f} ticks over" in per_lot
    assert "ticks per lot (" not in result.out


def test_session_no_rate_for_cny_refuses_rb_says_no_rate(
    cli: Callable[..., CliResult], workdir: Path
) -> None:
    """A missing rate fails closed for the instruments in that currency: rb opens
    nothing (the risk engine says why) and the total is in USD, SP500 alone."""
    path = _variant(workdir, fx={})
    result = cli(["session", "--profile", path, "--end", "2024-02-20"])
    assert result.code == 0, result.err
    record = json.loads(
        next((workdir / "runs" / "sim" / "records").glob("*/session-*.json")).read_text()
    )
    assert record["broker_state"]["positions"].get("rb/202405", 0) == 0
    assert not any(c.startswith("rb/") for c in record["broker_state"]["positions"])
    assert any("fx_rate" in n and "no rate from CNY to USD" in n for n in record["notes"])


def test_session_second_run_keeps_previous_journal(
    cli: Callable[..., CliResult], workdir: Path
) -> None:
    for _ in range(2):
        assert cli(["session", "--profile", "examples/sim.yaml", "--end", "2024-02-05"]).code == 0
    kept = list((workdir / "runs" / "sim").glob("journal-[0-9]*.db"))
    assert len(kept) == 1


def test_backtest_writes_html_with_charts(cli: Callable[..., CliResult], workdir: Path) -> None:
    result = cli(["backtest", "--profile", "examples/sim.yaml", "--end", "2024-02-29"])
    assert result.code == 0, result.err
    for label in ("Sharpe", "Sortino", "max drawdown", "win rate", "turnover"):
        assert label in result.out
    html = (workdir / "runs" / "sim" / "reports" / "backtest.html").read_text()
    assert html.count('class="chart"') >= 8
    assert "Underwater: drawdown from the running peak" in html


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--start", "2024-13-01"], "not a date; expected YYYY-MM-DD"),
        (["--start", "2024-03-01", "--end", "2024-02-01"], "is after --end"),
        (["--start", "2030-01-01"], "no bars between"),
    ],
)
def test_session_bad_dates_one_line(
    cli: Callable[..., CliResult], workdir: Path, args: list[str], expected: str
) -> None:
    line = _one_line(cli(["session", "--profile", "examples/sim.yaml", *args]))
    assert expected in line


def _line(out: str, label: str) -> str:
    """The value of the summary table's row ``label`` (never wrapped: one line)."""
    return facts_of(out, "Bastion session: what happened")[label]


def _variant(workdir: Path, **changes: object) -> str:
    raw = yaml.safe_load((workdir / "examples" / "sim.yaml").read_text())
    raw.update(changes)
    path = workdir / "variant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_session_unknown_strategy_line_one_line(
    cli: Callable[..., CliResult], workdir: Path
) -> None:
    line = _one_line(cli(["session", "--profile", _variant(workdir, strategy_line="magic")]))
    assert "strategy_line 'magic' is not known" in line


def test_session_unknown_instrument_one_line(cli: Callable[..., CliResult], workdir: Path) -> None:
    line = _one_line(cli(["session", "--profile", _variant(workdir, instruments=["NOPE"])]))
    assert "NOPE" in line


def test_session_no_data_and_sample_off_one_line(
    cli: Callable[..., CliResult], workdir: Path
) -> None:
    path = _variant(workdir, data={"dir": "empty-data", "sample": False})
    line = _one_line(cli(["session", "--profile", path]))
    assert "no minute bars" in line
    assert "bastion data import" in line


def test_session_paper_profile_without_plan_refuses(
    cli: Callable[..., CliResult], workdir: Path
) -> None:
    result = cli(["session", "--profile", "examples/paper.yaml", "--seconds", "2"])
    assert result.code == 3, result.out + result.err  # no approved plan: a verdict of NO
    assert "session refused: no gate has judged a plan" in result.out
    assert "bastion gate dry-run" in result.out
