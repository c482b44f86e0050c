"""Invariant: watch mode connects, monitors and reconciles without a single order call;
flatten takes exactly one form and a reason, goes through the kill switch (immediate)
or reduce-only plus a review-level flatten plan the gate accepts (graceful), never
loosens a halt, and is journaled and recorded (R8.9)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.config import load_profile
from bastion.gates.checks import evaluate
from bastion.gates.flatten import flatten_plan
from tests.conftest import CliResult
from tests.unit.gates.kit import NOW, broker, inputs

Cli = Callable[..., CliResult]


def _one_line_error(result: CliResult) -> str:
    assert result.code == 2, result.out + result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def test_watch_rounds_reconcile_and_send_nothing(cli: Cli, day: Path) -> None:
    result = cli(
        ["session", "--profile", "examples/sim.yaml", "--watch", "--cycles", "3", "--interval", "0"]
    )
    assert result.code == 0, result.err
    rounds = [x for x in result.out.splitlines() if "connected=yes" in x]
    assert len(rounds) == 3
    assert all("reconciliation=clean send=0 cancel=0" in x for x in rounds)
    record = json.loads(next(Path("runs/sim/records").glob("*/watch-*.json")).read_text())
    assert record["api_counts"] == {"send_order_calls": 0, "cancel_order_calls": 0}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--immediate"], "needs a reason: --reason TEXT"),
        (["--immediate", "--reason", "  "], "needs a reason"),
        (["--reason", "x"], "choose one form"),
        (["--graceful", "--immediate", "--reason", "x"], "choose one form"),
    ],
)
def test_flatten_bad_arguments_one_line(
    cli: Cli, day: Path, args: list[str], expected: str
) -> None:
    assert expected in _one_line_error(cli(["flatten", *args]))


def test_flatten_immediate_sim_profile_refused_never_claims_flat(cli: Cli, day: Path) -> None:
    # A sim profile's venue lives only inside its session: a fresh, empty simulated
    # venue must never be reported as "flat confirmed" (it holds nothing, not the
    # journal's positions). The command says so in one line.
    now = cli(["flatten", "--immediate", "--reason", "end of test"])
    assert now.code == 2
    assert "flat confirmed" not in now.out
    assert "sim profile and no session is running" in now.err
    assert len(now.err.strip().splitlines()) == 1


def test_flatten_graceful_keeps_a_halt(cli: Cli, day: Path) -> None:
    halt = cli(
        ["risk", "halt", "--profile", "examples/sim.yaml", "--scope", "account", "--reason", "stop"]
    )
    assert halt.code == 0, halt.err
    later = cli(["flatten", "--graceful", "--reason", "wind down"])
    assert later.code == 0, later.err
    assert "stays HALTED" in later.out
    assert "the broker holds nothing: no flatten plan needed" in later.out


def test_flatten_graceful_fresh_account_goes_reduce_only(cli: Cli, day: Path) -> None:
    result = cli(["flatten", "--graceful", "--reason", "wind down"])
    assert result.code == 0, result.err
    assert "account: active -> reduce_only (journaled: wind down)" in result.out


def test_flatten_plan_closes_broker_positions_and_gate_accepts_it(tmp_path: Path) -> None:
    from tests.conftest import REPO

    profile = load_profile(REPO / "examples" / "sim.yaml")
    held = broker({"SP500/202406": 3, "rb/202410": -2})
    plan, path = flatten_plan(
        profile, role="official", broker=held, now=NOW, reason="test", folder=tmp_path
    )
    assert path.exists()
    assert [(s.contract, s.previous, s.target, s.action.value) for s in plan.signals] == [
        ("SP500/202406", 3, 0, "close"),
        ("rb/202410", -2, 0, "close"),
    ]
    assert plan.risk_level == "review"
    result = evaluate(
        inputs(
            profile=profile.name,
            official_strategy_line=profile.strategy_line,
            official_capital=str(profile.capital),
            plan=plan,
            broker=held,
        )
    )
    assert result.line() == "executable"
    assert [o.line() for o in result.orders] == [
        "sell 3 SP500/202406 (broker +3 -> target +0, reduces)",
        "buy 2 rb/202410 (broker -2 -> target +0, reduces)",
    ]
