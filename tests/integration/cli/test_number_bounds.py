"""Invariant: every number in a profile and on the command line is finite and inside its
documented bound; anything else is refused before anything runs, in one line naming
the field (or option), the value and the bound, with exit status 2 (R1.4, issue 16)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.cli import app
from bastion.cli.polish import build_command
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


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["session", "-p", "examples/sim.yaml", "--watch", "--interval", "nan"], "--interval nan: expected a finite number >= 0 and <= 86400 s"),  # noqa: E501
        (["session", "-p", "examples/sim.yaml", "--watch", "--interval", "inf"], "--interval inf: expected a finite number"),  # noqa: E501
        (["session", "-p", "examples/sim.yaml", "--seconds", "inf"], "--seconds inf: expected a finite number >= 1 and <= 604800 s"),  # noqa: E501
        (["venue", "serve", "--state", "v.db", "--tick-seconds", "nan"], "--tick-seconds nan: expected a finite number > 0 and <= 3600 s"),  # noqa: E501
        (["venue", "serve", "--state", "v.db", "--tick-seconds", "inf"], "--tick-seconds inf: expected a finite number"),  # noqa: E501
        (["venue", "serve", "--state", "v.db", "--max-seconds", "nan"], "--max-seconds nan: expected a finite number > 0 and <= 604800 s"),  # noqa: E501
        (["venue", "serve", "--state", "v.db", "--heartbeat", "nan"], "--heartbeat nan: expected a finite number >= 1 and <= 300 s"),  # noqa: E501
        (["venue", "serve", "--state", "v.db", "--heartbeat", "0.5"], "--heartbeat 0.5: expected a finite number >= 1"),  # noqa: E501
    ],
)  # fmt: skip
def test_session_and_venue_numbers_out_of_bounds_refused_before_running(
    cli: Callable[..., CliResult], in_tmp: Path, argv: list[str], expected: str
) -> None:
    argv = [str(REPO / a) if a.startswith("examples/") else a for a in argv]
    assert expected in _one_line(cli(argv))
    assert not (in_tmp / "v.db").exists()


NEGATIVE_ALLOWED = {
    ("venue serve", "--seed"): "any integer seeds the prices",
    ("venue digest", "--seed"): "any integer seeds the prices",
    ("smoke-order", "--offset-ticks"): "an order may be placed through the touch",
}


def _numeric_options() -> list[tuple[str, str, str]]:
    """Every (command, option, int|float) of the CLI, from the CLI itself."""
    found = []

    def walk(group: object, prefix: tuple[str, ...]) -> None:
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            path = (*prefix, name)
            if hasattr(command, "commands"):
                walk(command, path)
                continue
            for param in command.params:
                kind = param.bare_type()
                if kind in {"int", "float"} and param.param_type_name == "option":
                    found.append((" ".join(path), param.opts[0], kind))

    walk(build_command(app), ())
    return found


NUMERIC_OPTIONS = _numeric_options()


def test_numeric_options_found_in_the_cli() -> None:
    found = {(command, option) for command, option, _ in NUMERIC_OPTIONS}
    assert {("venue serve", "--tick-seconds"), ("session", "--interval")} <= found
    assert len(found) >= 20


CASES = [
    (command, option, kind, value)
    for command, option, kind in NUMERIC_OPTIONS
    for value in ("nan", "inf", "-inf", "-1")
    if value != "-1" or (command, option) not in NEGATIVE_ALLOWED
]


@pytest.mark.parametrize(
    ("command", "option", "kind", "value"), CASES, ids=[f"{c} {o}={v}" for c, o, _, v in CASES]
)
def test_every_numeric_option_not_finite_or_negative_refused_no_traceback(  # noqa: PLR0917
    cli: Callable[..., CliResult], in_tmp: Path, command: str, option: str, kind: str, value: str
) -> None:
    result = cli([*command.split(), f"{option}={value}"])
    line = _one_line(result)  # an int option's nan too: one line, not click's usage panel
    if value == "-1" and "Missing" in line:
        return  # a well-formed number: the command's own required option is named first
    assert option in line
    assert value in line
    if kind == "int" and value != "-1":
        assert f"{option} '{value}': input should be a valid integer" in line
    assert not any(in_tmp.iterdir()), "a refused command wrote nothing"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["session", "--cycles", "nan"], "bastion: error: session --cycles 'nan': input should be a valid integer"),  # noqa: E501
        (["session", "--interval=abc"], "bastion: error: session --interval 'abc': input should be a valid number"),  # noqa: E501
        (["session", "--nope"], "bastion: error: session: No such option: --nope"),
        (["recover"], "bastion: error: recover: Missing option '--instrument'"),
        (["store", "restore"], "bastion: error: store restore: Missing argument 'BACKUP'"),
        (["no-such-command"], "bastion: error: No such command 'no-such-command'"),
    ],
)  # fmt: skip
def test_argument_parsing_error_one_line_names_option_value_expected(
    cli: Callable[..., CliResult], in_tmp: Path, argv: list[str], expected: str
) -> None:
    """Click's own parsing errors (a value of the wrong type, an unknown option, a
    missing one) are one line with exit status 2, not its multi-line usage panel."""
    line = _one_line(cli(argv))
    assert line.startswith(expected), line
    assert "--help" in line
    assert not any(in_tmp.iterdir())
