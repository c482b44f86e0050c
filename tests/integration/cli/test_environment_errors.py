"""Invariant: when the environment fails (a read-only store, a path through a file, a
folder where a file belongs, a full disk) a command says so in one line naming the path
and the problem, exits 1, and leaves nothing half-written: the journal stays whole and
no temporary file is left; ``config validate`` finds an unusable path before anything
runs (issue 16, item 2).

Read-only folders are made with permission bits and the command runs in a child that
cannot override them (root drops CAP_DAC_OVERRIDE and kin from its bounding set before
exec), so the refusal is the kernel's. The full disk is a real limit: the child's
RLIMIT_FSIZE, with SIGXFSZ ignored so a write past it fails with EFBIG.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]
BASTION = [sys.executable, "-c", "from bastion.cli import main; main()"]
PR_CAPBSET_DROP = 24


def without_override() -> None:
    """In the child before exec: root loses the right to write past permission bits."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2, 3):  # DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return apply


def run_child(
    args: list[str], cwd: Path, preexec: Callable[[], None] = without_override
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BASTION, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        preexec_fn=preexec,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("bastion: error: "), stderr
    return lines[0]


@pytest.fixture
def workdir(in_tmp: Path, sample_data: Path) -> Path:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    shutil.copytree(sample_data, in_tmp / "bastion-data")
    return in_tmp


@pytest.fixture
def read_only(workdir: Path) -> Iterator[Path]:
    """``runs/`` made read-only (mode 0555) with the sim store's folder inside it."""
    runs = workdir / "runs"
    (runs / "sim").mkdir(parents=True)
    runs.chmod(0o555)
    (runs / "sim").chmod(0o555)
    try:
        yield runs
    finally:
        (runs / "sim").chmod(0o755)
        runs.chmod(0o755)


def test_config_validate_read_only_store_one_line_exit_1(workdir: Path, read_only: Path) -> None:
    """The observation: 'config validate' said valid, then 'session' gave a traceback."""
    done = run_child(["config", "validate", "-p", "examples/sim.yaml"], workdir)
    assert done.returncode == 1, done.stdout + done.stderr
    line = one_line(done.stderr)
    assert line.startswith(
        "bastion: error: profile examples/sim.yaml: store.path runs/sim/journal.db: cannot be"
        " created: runs/sim is not writable"
    ), line


def test_session_read_only_store_one_line_exit_1(workdir: Path, read_only: Path) -> None:
    done = run_child(["session", "-p", "examples/sim.yaml", "--end", "2024-02-02"], workdir)
    assert done.returncode == 1, done.stdout + done.stderr
    line = one_line(done.stderr)
    assert "runs/sim" in line
    assert not list(read_only.rglob("*.db"))


def test_config_validate_path_through_a_file_one_line(cli: Cli, workdir: Path) -> None:
    (workdir / "runs").write_text("a file where a folder belongs")
    result = cli(["config", "validate", "-p", "examples/sim.yaml"])
    assert result.code == 1
    assert one_line(result.err) == (
        "bastion: error: profile examples/sim.yaml: store.path runs/sim/journal.db: cannot be"
        " created: runs is a file, not a folder (and 1 more)"
    )


def test_config_validate_store_is_a_folder_one_line(cli: Cli, workdir: Path) -> None:
    (workdir / "runs" / "sim" / "journal.db").mkdir(parents=True)
    result = cli(["config", "validate", "-p", "examples/sim.yaml"])
    assert result.code == 1
    assert "store.path runs/sim/journal.db: is a folder, expected a file" in one_line(result.err)


def test_config_validate_missing_pool_and_drop_folder(cli: Cli, workdir: Path) -> None:
    raw = yaml.safe_load((workdir / "examples" / "sim.yaml").read_text())
    raw["pool"] = "nowhere"
    raw["data"] = {"drop_dir": "no-drop"}
    (workdir / "examples" / "broken.yaml").write_text(yaml.safe_dump(raw))
    result = cli(["config", "validate", "-p", "examples/broken.yaml"])
    assert result.code == 1
    assert "pool nowhere: does not exist (and 1 more)" in one_line(result.err)


@pytest.mark.parametrize("where", ["folder", "read-only"])
def test_backtest_report_unusable_path_one_line_before_running(
    workdir: Path, read_only: Path, where: str
) -> None:
    target = read_only / "report.html" if where == "read-only" else workdir / "examples"
    done = run_child(
        ["backtest", "-p", "examples/sim.yaml", "--end", "2024-02-02", "--report", str(target)],
        workdir,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    line = one_line(done.stderr)
    assert line.startswith(f"bastion: error: --report {target}: ")
    assert line.endswith("nothing was run")


def test_venue_serve_state_is_a_folder_one_line(cli: Cli, in_tmp: Path) -> None:
    result = cli(["venue", "serve", "--state", str(in_tmp), "--port", "0"])
    assert result.code == 1
    assert one_line(result.err) == f"bastion: error: --state {in_tmp}: is a folder, expected a file"


def _damaged_state(path: Path) -> None:
    """A real venue state of several pages with random bytes written over its middle."""
    from bastion.venues.paper.state import PaperState

    state = PaperState(path)
    with state.transaction():
        for i in range(400):
            state.db.execute(
                "INSERT INTO inputs (at_us, client, kind, payload) VALUES (?, ?, ?, ?)",
                (i, "BASTION", "order", "x" * 200),
            )
    state.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    state.close()
    data = bytearray(path.read_bytes())
    assert len(data) > 16384
    data[8192:16384] = random.Random(7).randbytes(8192)
    path.write_bytes(bytes(data))


def _journal(path: Path) -> None:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript("CREATE TABLE schema_version (v INTEGER); CREATE TABLE journal (x);")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("zero_bytes", "is a zero-byte file, not a venue state"),
        ("random", "is not a paper venue state (not an SQLite database)"),
        ("damaged", "is damaged (SQLite quick_check"),
        ("journal", "is not a paper venue state (an SQLite database with tables journal"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "digest"])
def test_venue_state_damaged_or_foreign_refused_one_line_file_untouched(
    cli: Cli, in_tmp: Path, kind: str, expected: str, command: str
) -> None:
    state = in_tmp / "venue.db"
    if kind == "zero_bytes":
        state.write_bytes(b"")
    elif kind == "random":
        state.write_bytes(random.Random(8).randbytes(8192))
    elif kind == "damaged":
        _damaged_state(state)
    else:
        _journal(state)
    before = state.read_bytes()
    args = ["--port", "0", "--max-seconds", "1"] if command == "serve" else []
    result = cli(["venue", command, "--state", str(state), *args])
    assert result.code == 1
    line = one_line(result.err)
    assert f"venue state {state}: {expected}" in line
    assert "nothing was changed" in line
    assert state.read_bytes() == before
    assert sorted(p.name for p in in_tmp.iterdir()) == ["venue.db"]


def test_report_out_read_only_one_line_nothing_left(
    cli: Cli, workdir: Path, read_only: Path
) -> None:
    out = workdir / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        done = run_child(["report", "risk", "-p", "examples/sim.yaml", "--out", str(out)], workdir)
    finally:
        out.chmod(0o755)
    assert done.returncode == 1, done.stdout + done.stderr
    line = one_line(done.stderr)
    assert str(out) in line
    assert list(out.iterdir()) == []  # no temporary file left behind


def test_sim_session_full_disk_one_line_journal_whole(cli: Cli, workdir: Path) -> None:
    """A real limit: the child may not write any file past 300 kB, so the journal's
    writes fail part way through the session."""
    done = run_child(
        ["session", "-p", "examples/sim.yaml"], workdir, preexec=limit_file_size(300_000)
    )
    assert done.returncode == 1, done.stdout + done.stderr
    line = one_line(done.stderr)
    assert line.startswith("bastion: error: journal runs/sim/journal.db: cannot be written (")
    assert "the write was rolled back, every record committed before it is kept" in line
    check = cli(["store", "check", "runs/sim/journal.db"])
    assert check.code == 0, check.err
    assert "a whole Bastion journal (integrity_check ok" in check.out
    assert not [p for p in (workdir / "runs").rglob("*") if ".tmp" in p.name]
