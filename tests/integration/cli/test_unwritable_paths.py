"""Invariant: every ``bastion`` sub-command, given output paths it cannot write (under a
regular file; in a read-only folder), answers with an exit code of the table and never
lets a traceback reach the user: an error is one line on stderr (issue 16, item 9).

The official profile keeps its journal, records and data where they cannot be written;
each command also gets its own output options pointed there. The list of commands is
the CLI's own (``build_command``): a command added without an entry in ``ARGS`` fails
the test that compares them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from typer.core import TyperGroup

from bastion.cli import app
from bastion.cli.polish import build_command
from tests.conftest import CliResult
from tests.integration.cli.test_environment_errors import BASTION, without_override

Cli = Callable[..., CliResult]
CSV = (
    "timestamp,open,high,low,close,volume,contract\n"
    "2024-04-29T14:30:00Z,5000.00,5001.00,4999.00,5000.50,10,SP500/202406\n"
)
CHINA_YEAR = """\
calendar: CN_FUTURES
year: 2027
source: test copy
closed: [2027-01-01 New Year's Day, 2027-02-08 Spring Festival]
makeup_workdays: [2027-02-20]
"""

ARGS: dict[str, list[str]] = {
    "init": ["{out}/desk"],
    "after-close": ["--date", "2024-04-30", "--timeout", "1"],
    "probe": ["--timeout", "1"],
    "shadow": ["--date", "2024-04-30"],
    "smoke-order": ["--contract", "SP500/202406", "--mode", "dry-run", "--timeout", "1"],
    "flatten": ["--graceful", "--reason", "test", "--timeout", "1"],
    "kill": ["--reason", "test", "--timeout", "0.5", "--wait", "0.5"],
    "session": ["--end", "2024-02-02"],
    "backtest": ["--end", "2024-02-02", "--report", "{out}/backtest.html"],
    "reconcile": ["--timeout", "1"],
    "recover": ["--instrument", "SP500", "--adopt", "--reason", "test", "--timeout", "1"],
    "journal": [],
    "watchdog": ["--once"],
    "config validate": [],
    "config show": [],
    "config schema": [],
    "data import": ["{csv}", "--data-dir", "{out}/data"],
    "data import-pysystemtrade": ["{empty}", "--data-dir", "{out}/data"],
    "data calendar import": ["{china}", "--data-dir", "{out}/data"],
    "data calendar show": ["--data-dir", "{out}/data"],
    "data fx import": ["{rates}", "--base", "USD", "--data-dir", "{out}/data"],
    "data fx show": [],
    "data check": ["--now", "2024-04-30T21:00Z"],
    "data update": [],
    "data roll-calendar": ["SP500"],
    "data adjusted": ["SP500", "--csv", "{out}/adjusted.csv"],
    "data show": ["SP500"],
    "data sample": ["--data-dir", "{out}/data"],
    "risk halt": ["--scope", "account", "--reason", "test"],
    "risk reduce": ["--scope", "account", "--reason", "test"],
    "risk resume": ["--scope", "account", "--reason", "test"],
    "risk limits": ["--set", "max_order_lots=5", "--reason", "test"],
    "risk status": [],
    "gate dry-run": [],
    "report daily": [],
    "report status": ["--out", "{out}/reports"],
    "report reconcile": ["--out", "{out}/reports"],
    "report trades": ["--out", "{out}/reports"],
    "report pnl": ["--out", "{out}/reports"],
    "report risk": ["--out", "{out}/reports"],
    "venue serve": ["--state", "{out}/venue.db", "--port", "0", "--max-seconds", "1"],
    "venue digest": ["--state", "{out}/venue.db"],
    "alert test": [],
    "alert all-clear": ["--dry-run"],
    "store check": [],
    "store backup": ["--to", "{out}/backup.db"],
    "store restore": ["{out}/backup.db", "--yes"],
}


def _leaves(group: TyperGroup, prefix: tuple[str, ...] = ()) -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found += _leaves(command, path) if isinstance(command, TyperGroup) else [" ".join(path)]
    return found


def test_every_command_has_unwritable_arguments() -> None:
    assert sorted(_leaves(build_command(app))) == sorted(ARGS)


def _profile(root: Path, out: Path) -> None:
    raw = {
        "name": "blocked",
        "environment": "sim",
        "official": True,
        "strategy_line": "ema_trend",
        "capital": 1000000,
        "account": "SIM-000001",
        "instruments": ["SP500"],
        "store": {"path": f"{out}/sim/journal.db"},
        "data": {"dir": f"{out}/data", "sample": True, "drop_dir": f"{out}/drop"},
        "records_dir": f"{out}/records",
        "pool": str(root / "pools"),
    }
    (root / "profiles").mkdir()
    (root / "profiles" / "blocked.yaml").write_text(yaml.safe_dump(raw))


def _args(command: str, root: Path, out: Path) -> list[str]:
    values = {
        "out": str(out),
        "csv": str(root / "bars.csv"),
        "empty": str(root / "empty"),
        "china": str(root / "china-2027.yaml"),
        "rates": str(root / "rates.csv"),
    }
    return [*command.split(), *(a.format(**values) for a in ARGS[command])]


def _check(command: str, code: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err, f"{command}:\n{err}"
    assert code in {0, 1, 2, 3}, f"{command}: exit {code}\n{err}"
    if code in {1, 2}:
        lines = err.strip().splitlines()
        assert len(lines) == 1, f"{command}:\n{err}"
        assert lines[0].startswith("bastion: error: "), f"{command}:\n{err}"


@pytest.fixture
def root(in_tmp: Path) -> Path:
    import shutil

    from tests.conftest import REPO

    shutil.copytree(REPO / "examples" / "pools", in_tmp / "pools")
    (in_tmp / "bars.csv").write_text(CSV)
    (in_tmp / "empty").mkdir()
    (in_tmp / "china-2027.yaml").write_text(CHINA_YEAR)
    (in_tmp / "rates.csv").write_text("currency,rate,date,source\nCNY,0.1385,2024-04-30,test\n")
    return in_tmp


@pytest.mark.parametrize("command", sorted(ARGS))
def test_command_under_a_file_no_traceback(cli: Cli, root: Path, command: str) -> None:
    """Every output path lies under a regular file: nothing can be created there."""
    blocker = root / "blocker"
    blocker.write_text("a file where a folder belongs")
    _profile(root, blocker)
    result = cli(_args(command, root, blocker))
    _check(command, result.code, result.out, result.err)
    assert blocker.read_text() == "a file where a folder belongs"


@pytest.fixture
def read_only(root: Path, sample_data: Path) -> Iterator[Path]:
    """A read-only folder holding readable data, a drop file, and nothing else."""
    import shutil

    folder = root / "ro"
    shutil.copytree(sample_data, folder / "data")
    (folder / "drop").mkdir()
    (folder / "drop" / "bars.csv").write_text(CSV)
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
    for path in modes:
        path.chmod(0o555)
    try:
        yield folder
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(ARGS))
def test_command_read_only_folder_no_traceback(root: Path, read_only: Path, command: str) -> None:
    """Every output path lies in a read-only folder (the child cannot override it)."""
    _profile(root, read_only)
    before = sorted(str(p) for p in read_only.rglob("*"))
    done = subprocess.run(
        [*BASTION, *_args(command, root, read_only)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        preexec_fn=without_override,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    _check(command, done.returncode, done.stdout, done.stderr)
    assert sorted(str(p) for p in read_only.rglob("*")) == before  # nothing written
