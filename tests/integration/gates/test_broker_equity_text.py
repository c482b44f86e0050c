"""Invariant: the broker's equity (as the venue reported it, a bare decimal in the
snapshot) reads as money wherever a person sees it: `bastion probe`, `bastion report
pnl` and the daily report print it with thousands separators, two decimals and the
account's currency (1,011,242.50 USD, never 1011242.5)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from bastion.gates.broker import broker_state_path, save_broker_state
from bastion.gates.profiles import resolve_profile
from tests.conftest import CliResult
from tests.tables import facts_of
from tests.unit.gates.kit import broker

Cli = Callable[..., CliResult]


def _snapshot(equity: str, margin: str) -> None:
    profile = resolve_profile("examples/sim.yaml").profile
    state = broker(age_seconds=0)
    at = dt.datetime.now(dt.UTC).isoformat()
    state = dataclasses.replace(
        state,
        taken_at=at,
        positions_at=at,
        account={"currency": "USD", "equity": equity, "margin_used": margin},
        account_at=at,
    )
    save_broker_state(state, broker_state_path(profile))


def test_probe_sim_equity_and_margins_printed_as_money(cli: Cli, day: Path) -> None:
    result = cli(["probe", "--profile", "examples/sim.yaml"])
    assert result.code == 0, result.err
    assert (
        "account snapshot: equity 1,000,000.00 USD, margin used 0.00 USD,"
        " available 1,000,000.00 USD"
    ) in result.out


def test_report_pnl_broker_equity_separators_decimals_currency(cli: Cli, day: Path) -> None:
    _snapshot("1011242.5", "52000")
    result = cli(["report", "pnl", "--profile", "examples/sim.yaml"])
    assert result.code == 0, result.err
    shown = facts_of(result.out, "Equity")["broker equity (last probe)"]
    assert shown.startswith("1,011,242.50 USD (at "), shown


def test_daily_report_broker_equity_and_margin_as_money(cli: Cli, day: Path) -> None:
    _snapshot("1011242.5", "52000")
    result = cli(["report", "daily", "--profile", "examples/sim.yaml"])
    assert result.code in {0, 3}, result.err
    assert "equity 1,011,242.50 USD; margin used 52,000.00 USD;" in result.out, result.out
