"""Invariant: the status, reconcile, trades, P&L and risk reports run on a session's
journal, in the terminal (rich tables) and as Markdown and HTML (tables and plotly
charts on the shared template); the trades report's
slippage and delays come from the journal; the JSON log gives every order and fill of
one target the same correlation id, and different targets different ids (R9.3, R9.4)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.tables import rows_of

Cli = Callable[..., CliResult]
REPORTS = Path("runs/sim/records/reports")


@pytest.fixture
def traded(cli: Cli, day: Path) -> Path:
    result = cli(["session", "--profile", "examples/sim.yaml", "--end", "2024-02-06"])
    assert result.code == 0, result.err
    return day


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("status", r"account state\s+active"),
        ("reconcile", r"broker snapshot\s+missing \(run bastion probe\)"),
        ("trades", r"slippage in ticks per lot, worse positive"),
        ("pnl", r"equity in USD \(capital \+ net P&L\)"),
        ("risk", r"risk level in the store\s+base"),
    ],
)
def test_report_kind_terminal_markdown_html(
    cli: Cli, traded: Path, kind: str, expected: str
) -> None:
    result = cli(["report", kind])
    # Without a broker snapshot the reconciliation has an unknown view: a NO (exit 3).
    assert result.code == (3 if kind == "reconcile" else 0), result.err
    assert re.search(expected, result.out), result.out
    assert list(REPORTS.glob(f"{kind}-*.md"))
    page = next(REPORTS.glob(f"{kind}-*.html")).read_text()
    assert "<html" in page
    assert "<table" in page
    if kind in {"trades", "pnl"}:
        assert "Plotly.newPlot" in page


def test_trades_report_rows_match_journal_fills(cli: Cli, traded: Path) -> None:
    from bastion.reports.operations import trade_rows
    from bastion.store import SqliteStore

    store = SqliteStore(Path("runs/sim/journal.db"))
    try:
        records = [e.record for e in store.entries()]
    finally:
        store.close()
    rows = trade_rows(records)
    fills = [r for r in records if type(r).__name__ == "FillRecorded"]
    assert rows
    assert sum(r.filled for r in rows) == sum(f.fill.quantity for f in fills)  # type: ignore[attr-defined]
    for row in rows:
        assert row.submitted is not None
        assert row.filled_at is not None
        assert row.filled_at >= row.submitted


def test_journal_log_correlation_id_follows_target_to_fills(cli: Cli, traded: Path) -> None:
    assert cli(["report", "trades"]).code == 0
    lines = [json.loads(x) for x in (REPORTS / "orders.log.jsonl").read_text().splitlines()]
    by_order: dict[str, str] = {}
    for line in lines:
        if line["event"] == "broker_order.created":
            by_order[line["client_order_id"]] = line["correlation_id"]
    fills = [x for x in lines if x["event"] == "fill"]
    assert fills
    for fill in fills:
        assert fill["correlation_id"] == by_order[fill["fill"]["client_order_id"]]
        assert "@" in fill["correlation_id"]
    roots = {x["correlation_id"] for x in lines if x["event"] == "instrument_order.created"}
    assert len(roots) > 1
    assert all(x["level"] == "info" and "timestamp" in x for x in lines)


def test_report_risk_money_limits_carry_separators_and_currency(cli: Cli, day: Path) -> None:
    """The risk report's limits table is the one `bastion risk status` prints: money with
    thousands separators, two decimals and the base currency."""
    result = cli(["report", "risk", "--profile", "examples/sim.yaml"])
    assert result.code == 0, result.err
    limits = {row[0]: row[1:] for row in rows_of(result.out, "Limits")}
    assert limits["max_notional"] == ["50,000,000.00 USD", "profile"]
    assert limits["max_order_lots"] == ["10", "profile"]
