"""Invariant: every number in a profile and on the command line is finite and inside its
documented bound; anything else is refused before anything runs, in one line naming
the field (or option), the value and the bound, with exit status 2 (R1.4, issue 16)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, CliResult

EXAMPLE = (REPO / "examples" / "sim.yaml").read_text()


def _one_line(result: CliResult) -> str:
    assert result.code == 2, result
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("capital: 1000000", "capital: 1e400", "capital: got '1e400', expected less than or equal to 1000000000000000"),  # noqa: E501
        ("capital: 1000000", "capital: .inf", "capital: got inf, expected a finite number"),
        ("capital: 1000000", "capital: .nan", "capital: got nan, expected a finite number"),
        ("max_order_lots: 10", "max_order_lots: 100000000000000000000000000", "risk.max_order_lots: got 100000000000000000000000000, expected less than or equal to 1000000"),  # noqa: E501
        ("max_position_lots: 20", "max_position_lots: 10000001", "risk.max_position_lots: got 10000001, expected less than or equal to 1000000"),  # noqa: E501
        ("max_notional: 50000000", "max_notional: 1e16", "risk.max_notional: got '1e16', expected less than or equal to 1000000000000000"),  # noqa: E501
        ("stale_data_seconds: 300", "stale_data_seconds: .inf", "risk.stale_data_seconds: got inf, expected a finite number"),  # noqa: E501
        ("stale_data_seconds: 300", "stale_data_seconds: 1.0e+9", "risk.stale_data_seconds: got 1000000000.0, expected less than or equal to 604800"),  # noqa: E501
        ("max_position_lots: 20", "max_position_lots: 20\n  orders_per_second: .nan", "risk.orders_per_second: got nan, expected a finite number"),  # noqa: E501
        ("max_position_lots: 20", "max_position_lots: 20\n  daily_loss_limit: 1e400", "risk.daily_loss_limit: got '1e400', expected less than or equal to 1000000000000000"),  # noqa: E501
    ],
)  # fmt: skip
def test_config_validate_number_out_of_bounds_names_field_value_bound(
    cli: Callable[..., CliResult], tmp_path: Path, before: str, after: str, expected: str
) -> None:
    assert before in EXAMPLE
    path = tmp_path / "profile.yaml"
    path.write_text(EXAMPLE.replace(before, after, 1))
    line = _one_line(cli(["config", "validate", str(path)]))
    assert expected in line


def test_risk_limits_set_huge_lots_refused(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "profile.yaml"
    path.write_text(EXAMPLE.replace("runs/sim", str(tmp_path / "sim")))
    result = cli(
        ["risk", "limits", "--profile", str(path), "--set", f"max_order_lots={10**26}",
         "--reason", "typo"]
    )  # fmt: skip
    assert result.code == 2
    assert "less than or equal to 1000000" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("command", [["probe"], ["reconcile"]])
@pytest.mark.parametrize("value", ["-5", "nan", "inf", "0", "1e9"])
def test_timeout_not_finite_or_out_of_bounds_refused(
    cli: Callable[..., CliResult], command: list[str], value: str
) -> None:
    line = _one_line(cli([*command, "--profile", str(REPO / "examples" / "sim.yaml"), f"--timeout={value}"]))  # fmt: skip  # noqa: E501
    assert line.startswith(f"bastion: error: --timeout {float(value)!r}: expected a finite number")
    assert "> 0 and <= 3600 s" in line


@pytest.mark.parametrize("value", ["-1", "61"])
def test_data_roll_early_out_of_bounds_refused(cli: Callable[..., CliResult], value: str) -> None:
    line = _one_line(cli(["data", "roll-calendar", "SP500", f"--roll-early={value}"]))
    assert f"--roll-early {value}: expected a finite number >= 0 and <= 60 business days" in line
