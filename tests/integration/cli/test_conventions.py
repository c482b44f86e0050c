"""Invariant: every ``bastion`` command keeps the CLI's conventions (issue 19, item 6):
``-h`` and ``--help`` work and show clean help (no ``<bool>`` placeholders, no
``{path}`` usage, no RST markup, no requirement ids); every command that takes a
profile takes it as ``--profile/-p`` and defaults to the official profile, except that
commands which send orders never default to a live profile; every command that reports
takes ``--json`` and prints JSON; shell completion answers; the README documents no
argument a command does not take."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.core import TyperGroup, TyperOption

from bastion.cli import app
from bastion.cli.polish import build_command
from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]


def _leaves(
    group: TyperGroup, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], object]]:
    found: list[tuple[tuple[str, ...], object]] = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        if isinstance(command, TyperGroup):
            found.append((path, command))
            found += _leaves(command, path)
        else:
            found.append((path, command))
    return found


COMMANDS = _leaves(build_command(app))
PATHS = [" ".join(path) for path, _ in COMMANDS]

REPORTING = {
    "init",
    "after-close",
    "probe",
    "shadow",
    "smoke-order",
    "flatten",
    "kill",
    "session",
    "backtest",
    "reconcile",
    "recover",
    "journal",
    "config validate",
    "data check",
    "data update",
    "risk limits",
    "risk status",
    "gate dry-run",
    "report daily",
    "report status",
    "report reconcile",
    "report trades",
    "report pnl",
    "report risk",
    "store check",
    "watchdog",
    "alert test",
    "alert all-clear",
    "data show",
    "data calendar show",
    "data fx show",
    "venue digest",
}
"""Commands whose output is a report, a verdict or a record: each takes --json."""


def _options(command: object) -> dict[str, TyperOption]:
    return {
        name: p
        for p in getattr(command, "params", [])
        if isinstance(p, TyperOption)
        for name in p.opts
    }


@pytest.mark.parametrize("path", ["", *PATHS])
def test_command_dash_h_and_help_clean(cli: Cli, path: str) -> None:
    words = path.split()
    short, long = cli([*words, "-h"]), cli([*words, "--help"])
    assert short.code == 0, short.err
    assert short.out == long.out
    text = short.out
    assert "<bool>" not in text
    assert not re.search(r"\{\w+\}", text), text
    assert "``" not in text
    assert not re.search(r"\bR\d+(\.\d+)?\b", text), text
    assert "Usage: bastion" in text


def test_every_profile_option_is_dash_p() -> None:
    taking = [path for path, command in COMMANDS if "--profile" in _options(command)]
    assert len(taking) > 25
    for path, command in COMMANDS:
        options = _options(command)
        if "--profile" in options:
            assert "-p" in options["--profile"].opts, path
            assert not options["--profile"].required, f"{path}: --profile is required"


def test_every_reporting_command_takes_json() -> None:
    by_path = {" ".join(path): command for path, command in COMMANDS}
    for path in sorted(REPORTING):
        assert "--json" in _options(by_path[path]), path


@pytest.fixture
def examples(in_tmp: Path, sample_data: Path) -> Path:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    shutil.copytree(sample_data, in_tmp / "bastion-data")
    return in_tmp


def test_profile_defaults_to_official(cli: Cli, examples: Path) -> None:
    for args in (["risk", "status"], ["risk", "limits"], ["config", "validate"]):
        result = cli(args)
        assert result.code == 0, (args, result.err)
        assert "sim-default" in result.out or "examples/sim.yaml" in result.out, args


@pytest.mark.parametrize(
    "args",
    [
        ["probe"],
        ["shadow", "--date", "2024-04-30"],
        ["gate", "dry-run"],
        ["report", "daily"],
        ["report", "status"],
        ["report", "reconcile"],
        ["report", "risk"],
        ["risk", "status"],
        ["risk", "limits"],
        ["config", "validate"],
        ["data", "check", "--now", "2024-04-30T21:00Z"],
        ["data", "show", "SP500"],
        ["data", "calendar", "show"],
        ["data", "fx", "show", "-p", "examples/sim.yaml"],
        ["alert", "all-clear", "--day", "2024-02-02", "--dry-run"],
        ["journal"],
    ],
)
def test_json_output_is_json(cli: Cli, examples: Path, args: list[str]) -> None:
    if args[0] in {"journal", "alert"}:
        assert cli(["session", "--end", "2024-02-02"]).code == 0
    result = cli([*args, "--json"])
    assert result.code in {0, 3}, result.err
    assert result.out.strip(), args
    if args == ["journal"]:
        assert all(json.loads(line)["seq"] for line in result.out.splitlines())
        return
    document = json.loads(result.out)
    assert isinstance(document, dict)
    if "exit_code" in document:
        assert document["exit_code"] == result.code


LIVE = """\
name: live-main
environment: live
official: true
strategy_line: ema_trend
capital: 1000000
account: U1234567
instruments: [SP500]
store: {path: runs/live/journal.db}
venue: {kind: fix, host: 127.0.0.1, port: 9, contracts: [SP500/202406]}
records_dir: runs/live/records
pool: pools
"""


@pytest.mark.parametrize(
    "args",
    [
        ["session", "--seconds", "1"],
        ["flatten", "--graceful", "--reason", "test"],
        ["kill", "--reason", "test", "--timeout", "0.2", "--wait", "0.2"],
    ],
)
def test_order_commands_never_default_to_live(cli: Cli, in_tmp: Path, args: list[str]) -> None:
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "live.yaml").write_text(LIVE)
    (in_tmp / "pools").mkdir()
    result = cli(args)
    assert result.code == 2, result.out + result.err
    assert "never default to a live profile" in result.err
    assert "--profile profiles/live.yaml" in result.err
    named = cli([*args, "-p", "profiles/live.yaml"])
    assert "never default to a live profile" not in named.err  # named: the guard lets it by
    assert "Traceback" not in named.err


def test_order_commands_default_to_a_paper_official(cli: Cli, in_tmp: Path) -> None:
    raw = yaml.safe_load(LIVE)
    raw.update(environment="paper", account="DU1234567")
    raw["store"]["path"] = "runs/paper/journal.db"
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "paper.yaml").write_text(yaml.safe_dump(raw))
    result = cli(["session", "--seconds", "1"])
    assert "never default to a live profile" not in result.err
    assert result.code == 3  # runs the official paper profile: no approved plan yet


def test_shell_completion_completes_commands(cli: Cli) -> None:
    result = cli(
        [],
        env={"_BASTION_COMPLETE": "complete_bash", "COMP_WORDS": "bastion ga", "COMP_CWORD": "1"},
    )
    assert "gate" in result.out.split()
    # The script a user installs (what ``--show-completion bash`` prints), asked for
    # the way the shell asks, so no shell detection from the process tree is involved.
    script = cli([], env={"_BASTION_COMPLETE": "source_bash"})
    assert script.code == 0
    assert "_bastion_completion" in script.out
    assert "_BASTION_COMPLETE=complete_bash" in script.out


def test_readme_commands_take_the_arguments_shown() -> None:
    """The README's inline commands name only sub-commands that exist, with arguments
    they take (the observation: 'config schema PROFILE', and schema takes none)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    spans = re.findall(r"`(bastion [^`]+)`", readme)
    assert spans
    by_path = {" ".join(path): command for path, command in COMMANDS}
    for span in spans:
        words = shlex.split(span)[1:]
        path = next((" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in by_path), None)
        assert path is not None, f"README: {span!r} names no command"
        rest = words[len(path.split()) :]
        command = by_path[path]
        takes_argument = any(not isinstance(p, TyperOption) for p in getattr(command, "params", []))
        positional = [w for w in rest if not w.startswith("-")]
        options = [w.split("=")[0] for w in rest if w.startswith("-")]
        for option in options:
            assert option in _options(command), f"README: {span!r}: {path} has no {option}"
        if positional and not takes_argument:
            values = {  # the values of the options given
                rest[i + 1] for i, w in enumerate(rest[:-1]) if w in _options(command)
            }
            assert set(positional) <= values, f"README: {span!r}: {path} takes no argument"
