"""Invariant: docs/operator-day.md runs word for word from an empty folder against the
paper venue in its own process: ``bastion init``, the after-close command (data update,
shadow, probe, dry-run gate), a smoke order with both guards, the session (only the
approved plan), watch, reconcile, the journal, and the daily report, whose NO after the
session and YES after the next after-close agree with their next steps. Every command
exits with the status the document gives (0 unless its comment says otherwise), writes
nothing to stderr (no disconnect noise after a normal exit), and no output or file holds
the password or the account (R8, R9.1, R9.4; issue 19).

The commands are the ``bash`` blocks marked ``<!-- operator-day -->``, run one line at a
time in order; ``cd`` and ``export`` lines change the directory and environment of the
lines after them. The block marked ``<!-- operator-day:venue -->`` is the paper venue:
the test starts it as ``bastion.testing.paper_process.PaperVenueProcess`` first, on a
port the operating system picks, and hands that port to every command through
``BASTION_PAPER_PORT`` (which ``bastion init`` and ``bastion venue serve`` read), so the
document's words need no change and two test runs never share a port.

A line ending in ``&`` is a command the operator leaves running (another terminal, or
the background) while the next lines run: the test starts it, and before the next line
waits until its engine loop runs (a fresh heartbeat of the official profile's journal,
what the watchdog reads; wall time only bounds that wait). ``wait $!`` waits for it to
end, with the exit status its comment gives; its output is that command's step. The
kill switch drill runs this way: ``bastion kill`` from a second process while a session
runs leaves the venue flat before the session ends, the session reports HALTED, and
after ``bastion risk resume`` a reconciliation is clean with no lock (issue 12).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bastion.ops.heartbeat import RUNNING, heartbeat_path, read_heartbeat
from bastion.testing.paper_process import PaperVenueProcess
from tests.conftest import REPO
from tests.tables import facts_of, rows_of

DOC = REPO / "docs" / "operator-day.md"
BLOCK = re.compile(r"<!-- (operator-day(?::venue)?) -->\n```bash\n(.*?)```", re.DOTALL)
VENUE_LINE = "bastion venue serve --state runs/paper/venue.db &"

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Step:
    line: str
    code: int
    out: str
    err: str


def doc_lines() -> list[tuple[str, str]]:
    """(marker, line) of every command line of the marked blocks, in document order."""
    found = []
    for marker, body in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        found += [(marker, line.strip()) for line in body.splitlines() if line.strip()]
    return found


def _expected_status(line: str) -> tuple[str, int]:
    command, _, comment = line.partition("  #")
    match = re.search(r"exit status (\d)", comment)
    return command.strip(), int(match.group(1)) if match else 0


EQUITY = r"\d{1,3}(,\d{3})*\.\d\d USD \(capital \+ net P&L\)"
"""Equity as money: separators, two decimals, the currency."""


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(tmp_path / "venue" / "venue.db", max_seconds=900)
    try:
        yield process
    finally:
        process.stop()


@dataclass
class Background:
    """A command left running (a line ending in ``&``), its output in files."""

    line: str
    proc: subprocess.Popen[str]
    out: Path
    err: Path

    def wait(self, expected: int) -> Step:
        code = self.proc.wait(timeout=600)
        step = Step(self.line, code, self.out.read_text(), self.err.read_text())
        assert step.code == expected, (
            f"{self.line}: exit {step.code}, expected {expected}\n{step.out}{step.err}"
        )
        assert step.err == "", f"{self.line}: stderr after a normal exit:\n{step.err}"
        return step


def _engine_running(cwd: Path, before: str | None, proc: subprocess.Popen[str]) -> None:
    """Wait until a new engine run of the official profile loops (its heartbeat)."""
    path = heartbeat_path(cwd / "runs" / "paper" / "journal.db")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the background command ended before its engine ran"
        beat, _ = read_heartbeat(path)
        fresh = beat is not None and beat.incident_key != before
        if fresh and beat is not None and beat.state == RUNNING and beat.iteration > 0:
            return
        time.sleep(0.2)
    pytest.fail("the background command's engine never ran")


def _start(line: str, cwd: Path, env: dict[str, str], n: int) -> Background:
    beat, _ = read_heartbeat(heartbeat_path(cwd / "runs" / "paper" / "journal.db"))
    out, err = cwd.parent / f"background-{n}.out", cwd.parent / f"background-{n}.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            ["bash", "-c", line],  # noqa: S607 - bash from PATH, as the reader's shell
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
    job = Background(line, proc, out, err)
    try:
        _engine_running(cwd, None if beat is None else beat.incident_key, proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return job


def run_day(root: Path, venue: PaperVenueProcess) -> list[Step]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "BASTION_PAPER_PORT": str(venue.port),
        "COLUMNS": "200",
    }
    env.pop("BASTION_PROFILES_DIR", None)
    cwd = root
    steps = []
    jobs: list[Background] = []
    try:
        _run_lines(cwd, env, steps, jobs, venue)
    finally:
        for job in jobs:
            if job.proc.poll() is None:
                job.proc.kill()
                job.proc.wait()
    return steps


def _run_lines(
    cwd: Path,
    env: dict[str, str],
    steps: list[Step],
    jobs: list[Background],
    venue: PaperVenueProcess,
) -> None:
    for marker, raw in doc_lines():
        line, expected = _expected_status(raw)
        if marker == "operator-day:venue":
            assert line == VENUE_LINE, f"the venue block changed: {line!r}"
            assert venue.proc.poll() is None, "the paper venue is not running"
            continue
        if line.endswith("&"):
            jobs.append(_start(line.removesuffix("&").strip(), cwd, env, len(jobs)))
            continue
        if line == "wait $!":
            steps.append(jobs[-1].wait(expected))
            continue
        words = shlex.split(line)
        if words[0] == "cd":
            cwd = cwd / words[1]
            continue
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
            continue
        done = subprocess.run(
            ["bash", "-c", line],  # noqa: S607 - bash from PATH, as the reader's shell
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        step = Step(line, done.returncode, done.stdout, done.stderr)
        assert step.code == expected, (
            f"{line}: exit {step.code}, expected {expected}\n{step.out}{step.err}"
        )
        assert step.err == "", f"{line}: stderr after a normal exit:\n{step.err}"
        steps.append(step)


def _one(steps: list[Step], start: str, nth: int = 0) -> str:
    return [s.out for s in steps if s.line.startswith(start)][nth]


def test_operator_day_document_runs_word_for_word(tmp_path: Path, venue: PaperVenueProcess) -> None:
    root = tmp_path / "clean"
    root.mkdir()
    steps = run_day(root, venue)
    desk = root / "desk"
    made = _one(steps, "bastion init")
    for path in ("profiles/paper.yaml", "profiles/paper-compare.yaml", "profiles/sim.yaml"):
        assert path in made  # it says what it made

    first = _one(steps, "bastion after-close")
    for step in ("data update", "shadow", "probe", "dry-run gate"):
        assert step in first
    assert "position snapshot: confirmed_flat" in first
    assert "contract snapshot: 1 contract(s): SP500/202406" in first
    assert rows_of(first, "Signals")[0][:5] == ["SP500", "SP500/202406", "+0", "+2", "open"]
    assert "gate: executable" in first
    assert "buy 2 SP500/202406 (broker +0 -> target +2, opens)" in first
    assert "MAY TONIGHT'S ORDERS GO? YES: tonight's orders may go (1 order(s))" in first

    smoke = _one(steps, "BASTION_SMOKE_ORDER_ENABLED=1 bastion smoke-order")
    for line in (
        "send_order_calls: 1; cancel_order_calls: 1",
        "final status: canceled",
        "traded volume: 0",
        "residual position: +0",
        "reconciliation after: clean",
    ):
        assert line in smoke

    session = _one(steps, "bastion session --seconds")
    assert "plan-2024-04-30.json (shadow, target date 2024-04-30" in session
    assert "the plan the gate approved" in session
    summary = facts_of(session, "Bastion session against the venue: what happened")
    assert summary["targets met"] == "yes", session
    assert summary["order API calls"] == "send 1, cancel 0"
    assert summary["positions (Bastion)"] == "SP500/202406 +2"
    assert summary["positions (venue)"] == "SP500/202406 +2"
    assert summary["reconciliation"] == "clean"
    assert summary["P&L USD"].startswith("realised +0.00 USD, unrealised")
    assert re.fullmatch(EQUITY, summary["equity in USD"]), summary
    watch = _one(steps, "bastion session --watch")
    money = facts_of(watch, "P&L and equity")
    assert money["P&L USD"].startswith("realised +0.00 USD, unrealised")
    assert re.fullmatch(EQUITY, money["equity in USD"]), money
    assert _one(steps, "bastion session --watch").count("reconciliation=clean send=0 cancel=0") == 2
    assert "reconciliation: CLEAN" in _one(steps, "bastion reconcile")
    fills = _one(steps, "bastion journal --kind fill")
    assert "1 record(s)" in fills
    assert "SP500/202406" in fills

    report = _one(steps, "bastion report daily")
    assert "MAY TONIGHT'S ORDERS GO? NO" in report
    assert "a session ran after it" in report
    next_step = report.strip().splitlines()[-1]
    assert next_step.startswith("next step: re-run 'bastion probe' and 'bastion gate dry-run'")
    assert "may go" not in next_step  # the headline and the next step agree
    assert "YES: 2 send, 1 cancel" in report

    again = _one(steps, "bastion after-close", 1)
    assert "gate: executable" in again
    assert "orders the plan would send" not in again  # at target: nothing left to send
    final = _one(steps, "bastion report daily", 1)
    assert "MAY TONIGHT'S ORDERS GO? YES: tonight's orders may go (nothing to trade)" in final
    assert "positions SP500/202406 +2" in final

    # The kill switch drill: the running session applied the kill from another process.
    killed = _one(steps, "bastion kill")
    assert "run by the running engine" in killed, killed
    assert "KILL SWITCH: flat confirmed" in killed
    drilled = _one(steps, "bastion session --stay")
    assert "HALTED" in drilled, drilled
    assert "KILL SWITCH: flat confirmed" in drilled
    drill = facts_of(drilled, "Bastion session against the venue: what happened")
    assert drill["targets met"] != "yes"
    assert "done for today" not in drilled
    status = _one(steps, "bastion risk status")
    states = {row[0]: row[1:] for row in rows_of(status, "Trading states")}
    assert states["account"][0] == "HALTED", status
    assert states["account"][2] == "kill switch drill", status
    after = _one(steps, "bastion reconcile", 1)
    assert "reconciliation: CLEAN" in after, after
    assert rows_of(after, "Locked instruments") == []
    assert "position snapshot: confirmed_flat" in _one(steps, "bastion probe"), "venue not flat"

    records = desk / "runs" / "paper" / "records"
    kinds = sorted(json.loads(p.read_text())["kind"] for p in records.glob("20*/*.json"))
    assert kinds.count("after-close") == 2
    assert kinds.count("gate") == 2
    assert {"smoke-order", "session", "watch", "probe", "shadow"} <= set(kinds)
    everything = "".join(s.out + s.err for s in steps) + "".join(
        p.read_text() for p in (desk / "runs").rglob("*") if p.suffix in {".json", ".md", ".html"}
    )
    assert "paper-secret-8d1f" not in everything
    assert "PAPER-000001" not in everything

    # An hour later nobody re-probed: the gate and the report answer NO (exit status 3).
    snapshot = records / "state" / "broker-snapshot.json"
    data = json.loads(snapshot.read_text())
    data["positions_at"] = "2024-04-30T00:00:00+00:00"
    snapshot.write_text(json.dumps(data))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "BASTION_PAPER_PASSWORD": "paper-secret-8d1f",
    }
    for command, expected in (
        (["bastion", "gate", "dry-run"], "gate: blocked: broker state stale"),
        (
            ["bastion", "report", "daily"],
            "MAY TONIGHT'S ORDERS GO? NO: blocked: broker state stale",
        ),
    ):
        done = subprocess.run(
            command, cwd=desk, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 3, done.stdout + done.stderr
        assert expected in done.stdout
