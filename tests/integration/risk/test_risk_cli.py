"""Invariant: the operator's risk commands change trading states, limits and the kill
request only with a reason, journal every change, show the truth in `bastion risk
status`, and answer every bad input with one line on stderr and exit status 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bastion.clock import WallClock
from bastion.config import load_profile
from bastion.domain.records import Note
from bastion.engine.lock import EngineLock
from bastion.risk.board import StateBoard
from bastion.risk.limits import LimitBook
from bastion.risk.states import Scope, TradingState
from bastion.store import SqliteStore
from tests.conftest import REPO, CliResult
from tests.tables import facts_of, header_of, rows_of

Cli = Callable[..., CliResult]
EXAMPLE = yaml.safe_load((REPO / "examples" / "sim.yaml").read_text())
FIRST = EXAMPLE["instruments"][0]


@pytest.fixture
def profile(in_tmp: Path) -> Path:
    path = in_tmp / "profile.yaml"
    path.write_text(yaml.safe_dump(EXAMPLE))
    return path


def _store(profile: Path) -> SqliteStore:
    return SqliteStore(load_profile(profile).store.path, clock=WallClock())


def _notes(profile: Path, kind: str) -> list[Note]:
    with _store(profile) as store:
        return [
            e.record
            for e in store.entries()
            if isinstance(e.record, Note) and e.record.kind == kind
        ]


def _one_line_error(result: CliResult) -> str:
    assert result.code == 2, result
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def test_risk_status_fresh_store_shows_states_level_limits(cli: Cli, profile: Path) -> None:
    result = cli(["risk", "status", "--profile", str(profile)])
    assert result.code == 0, result.err
    assert rows_of(result.out, "Trading states") == []
    assert "scopes not listed are ACTIVE" in result.out
    facts = facts_of(result.out, "Risk status")
    assert facts["risk level"] == "unknown"
    assert facts["kill switch"] == "no request pending"
    assert header_of(result.out, "Limits") == ["limit", "value", "set by"]
    limits = {row[0]: row[1:] for row in rows_of(result.out, "Limits")}
    assert limits["max_order_lots"] == ["10", "profile"]


def test_risk_status_money_limits_carry_separators_and_currency(cli: Cli, profile: Path) -> None:
    """max_notional and the loss limits are amounts in the base currency, not bare numbers."""
    args = ["risk", "limits", "--profile", str(profile), "--reason", "r"]
    changed = cli([*args, "--set", "max_notional=1234567.5", "--set", "max_drawdown=25000"])
    assert "max_notional: 50,000,000.00 USD -> 1,234,567.50 USD (journaled)" in changed.out
    result = cli(["risk", "status", "--profile", str(profile)])
    assert result.code == 0, result.err
    limits = {row[0]: row[1:] for row in rows_of(result.out, "Limits")}
    assert limits["max_notional"] == [
        "1,234,567.50 USD",
        "run-time override (profile: 50,000,000.00 USD)",
    ]
    assert limits["max_drawdown"] == ["25,000.00 USD", "run-time override (profile: unset)"]
    assert limits["daily_loss_limit"] == ["unset", "profile"]


def test_risk_status_not_a_terminal_keeps_long_rows_whole(cli: Cli, profile: Path) -> None:
    """Captured output (no terminal) is never cut or wrapped, whatever the reason's length."""
    why = "a reason long enough to overflow an eighty-column terminal " * 3
    assert cli(["risk", "halt", "--profile", str(profile), "--scope", "account",
                "--reason", why.strip()]).code == 0  # fmt: skip
    out = cli(["risk", "status", "--profile", str(profile)], env={"COLUMNS": "60"}).out
    [row] = rows_of(out, "Trading states")
    assert row[0] == "account"
    assert row[1] == "HALTED"
    assert row[3] == why.strip()


@pytest.mark.parametrize(
    ("command", "scope", "state"),
    [
        ("halt", "account", TradingState.HALTED),
        ("reduce", f"instrument:{FIRST}", TradingState.REDUCE_ONLY),
        ("halt", "strategy:ema_trend", TradingState.HALTED),
    ],
)
def test_risk_state_command_persists_and_journals(
    cli: Cli, profile: Path, command: str, scope: str, state: TradingState
) -> None:
    result = cli(
        ["risk", command, "--profile", str(profile), "--scope", scope, "--reason", "drill"]
    )
    assert result.code == 0, result.err
    assert state.upper() in result.out
    with _store(profile) as store:
        assert StateBoard(store, WallClock()).state(Scope.parse(scope)) is state
    notes = _notes(profile, "risk.state")
    assert notes[-1].data["reason"] == "drill"
    assert notes[-1].data["actor"] == "operator (cli)"
    status = cli(["risk", "status", "--profile", str(profile)]).out
    assert f"{scope}" in status
    assert "drill" in status


def test_risk_resume_after_halt_returns_active(cli: Cli, profile: Path) -> None:
    args = ["--profile", str(profile), "--scope", "account"]
    assert cli(["risk", "halt", *args, "--reason", "stop"]).code == 0
    result = cli(["risk", "resume", *args, "--reason", "checked"])
    assert result.code == 0, result.err
    assert "moved from HALTED to ACTIVE" in result.out
    assert len(_notes(profile, "risk.state")) == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["risk", "halt", "--scope", "account"], "needs a reason"),
        (["risk", "halt", "--scope", "account", "--reason", "  "], "needs a reason"),
        (["risk", "halt", "--reason", "x"], "--scope is required"),
        (["risk", "halt", "--scope", "desk", "--reason", "x"], "is not a scope"),
        (["risk", "halt", "--scope", "instrument:NOPE", "--reason", "x"], "NOPE is not in profile"),
        (["risk", "resume", "--scope", "account", "--reason", "x"], "account is ACTIVE"),
        (["risk", "limits", "--set", "max_lots=3", "--reason", "x"], "unknown risk limit"),
        (["risk", "limits", "--set", "max_order_lots=many", "--reason", "x"], "max_order_lots"),
        (["risk", "limits", "--set", "max_order_lots=0", "--reason", "x"], "greater than or equal"),
        (["risk", "limits", "--set", "max_order_lots", "--reason", "x"], "expected NAME=VALUE"),
        (["risk", "limits", "--set", "max_order_lots=5"], "needs a reason"),
        (["risk", "limits", "--reset", "max_order_lots", "--reason", "x"], "no run-time override"),
        (
            ["risk", "limits", "--set", "margin_low_mark=0.95", "--reason", "x"],
            "must be below margin_high_mark",
        ),
        (["kill"], "needs a reason"),
    ],
)
def test_risk_cli_bad_input_one_line_error(
    cli: Cli, profile: Path, args: list[str], expected: str
) -> None:
    line = _one_line_error(cli([*args, "--profile", str(profile)]))
    assert expected in line


def test_risk_cli_missing_profile_one_line_error(cli: Cli, in_tmp: Path) -> None:
    # No --profile and no official profile in the folder: the one line says what to do.
    assert "no official profile" in _one_line_error(cli(["risk", "status"]))
    assert "no such file" in _one_line_error(cli(["risk", "status", "--profile", "nope.yaml"]))


def test_risk_limits_set_and_reset_journaled_and_seen_by_engine(cli: Cli, profile: Path) -> None:
    result = cli(
        ["risk", "limits", "--profile", str(profile), "--set", "max_order_lots=5",
         "--set", "daily_loss_limit=25000", "--reason", "quiet week"]
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "max_order_lots: 10 -> 5 (journaled)" in result.out
    shown = cli(["risk", "limits", "--profile", str(profile)]).out
    limits = {row[0]: row[1:] for row in rows_of(shown, "Limits")}
    assert limits["max_order_lots"] == ["5", "run-time override (profile: 10)"]
    with _store(profile) as store:
        assert LimitBook(load_profile(profile).risk, store).limits.max_order_lots == 5
    notes = _notes(profile, "risk.limits")
    assert [n.data["limit"] for n in notes] == ["max_order_lots", "daily_loss_limit"]
    assert notes[0].data["reason"] == "quiet week"
    reset = cli(
        ["risk", "limits", "--profile", str(profile), "--reset", "max_order_lots", "--reason", "ok"]
    )
    assert "5 -> 10, the profile's value" in reset.out
    assert len(_notes(profile, "risk.limits")) == 3


def test_risk_limits_per_instrument_and_unset(cli: Cli, profile: Path) -> None:
    args = ["risk", "limits", "--profile", str(profile), "--reason", "r"]
    assert cli([*args, "--set", f"instrument_position_lots.{FIRST}=3"]).code == 0
    assert cli([*args, "--set", "daily_loss_limit=1000"]).code == 0
    assert cli([*args, "--set", "daily_loss_limit=none"]).code == 0
    shown = cli(["risk", "limits", "--profile", str(profile)]).out
    assert f"instrument_position_lots.{FIRST}" in shown
    limits = {row[0]: row[1:] for row in rows_of(shown, "Limits")}
    assert limits["daily_loss_limit"] == ["unset", "run-time override (profile: unset)"]
    assert limits[f"instrument_position_lots.{FIRST}"] == ["3", "run-time override"]


def test_kill_command_with_engine_running_halts_and_leaves_request(cli: Cli, profile: Path) -> None:
    journal = load_profile(profile).store.path
    lock = EngineLock.acquire(journal, "test")  # an engine holds the store
    try:
        result = cli(
            ["kill", "--profile", str(profile), "--reason", "runaway orders", "--wait", "0.4"]
        )
    finally:
        lock.release()
    assert result.code == 1, result.err  # nobody reported an outcome within the wait
    assert "account HALTED and kill requested" in result.out
    assert "run by the running engine" in result.out
    assert "has not reported" in result.out
    status = cli(["risk", "status", "--profile", str(profile)]).out
    assert "HALTED" in status
    assert facts_of(status, "Risk status")["kill switch"].startswith("REQUESTED at ")
    assert "runaway orders" in status
    assert _notes(profile, "risk.kill")[0].data["reason"] == "runaway orders"


def test_kill_command_sim_profile_without_session_refused_in_one_line(
    cli: Cli, profile: Path
) -> None:
    result = cli(["kill", "--profile", str(profile), "--reason", "runaway orders"])
    assert result.code == 2
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "sim profile and no session is running" in result.err
