"""Invariant (issue 12, "done when"): the kill switch acts wherever an engine runs.

With a session running against the paper venue process in its own process, ``bastion
kill`` from a second process (this one) is applied by that session: the venue is flat
before the session ends, the session reports HALTED (never "targets met" or "done"),
``bastion risk resume`` is refused while the kill is pending and accepted after it, and
a reconciliation is then clean with no lock (the kill's fills belong to the strategy
that held the position, and the interrupted plan's targets are flat). The same holds
for ``bastion flatten --immediate`` from a second process (the account stays HALTED, as
``risk status`` shows, and the strategy table equals the contract table); ``risk halt``,
``risk resume`` and ``risk limits --set`` from a second process reach the running
session too."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.marketdata.sample import write_sample
from bastion.store import SqliteStore
from bastion.testing.paper_process import PaperVenueProcess
from tests.conftest import REPO, CliResult
from tests.tables import facts_of, rows_of

Cli = Callable[..., CliResult]
SECRET = {"BASTION_PAPER_PASSWORD": "paper-pass-kill"}

PROFILE = """\
name: paper-official
environment: paper
official: true
strategy_line: ema_trend
capital: 1000000
currency: USD
account: DU7654321
instruments: [SP500]
store:
  path: runs/paper/journal.db
venue:
  kind: fix
  host: 127.0.0.1
  port: {port}
  password_env: BASTION_PAPER_PASSWORD
  contracts: [SP500/202406]
records_dir: runs/paper/records
pool: examples/pools
risk:
  expiry_guard_days: 0   # the paper venue's SP500/202406 trades on past its 2024 expiry
"""


@pytest.fixture
def paper_day(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    write_sample(in_tmp / "bastion-data")
    venue = PaperVenueProcess(in_tmp / "venue.db", max_seconds=180)
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "paper.yaml").write_text(PROFILE.format(port=venue.port))
    monkeypatch.setenv("BASTION_PROFILES_DIR", str(in_tmp / "profiles"))
    try:
        yield in_tmp
    finally:
        venue.stop()


def _position(journal: Path) -> int:
    if not journal.exists():
        return 0
    with SqliteStore(journal) as store:
        return sum(store.book.positions.contract.values())


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _start_session(root: Path, seconds: int) -> subprocess.Popen[str]:
    env = {**os.environ, **SECRET}
    return subprocess.Popen(
        [sys.executable, "-c", "from bastion.cli import main; main()", "session",
         "--profile", "profiles/paper.yaml", "--stay", "--seconds", str(seconds)],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _plan_approved(cli: Cli) -> None:
    """The operator's evening: probe, shadow, and a gate that approves the plan."""
    assert cli(["probe"], env=SECRET).code == 0
    assert cli(["shadow", "--date", "2024-04-30"], env=SECRET).code == 0
    assert "gate: executable" in cli(["gate", "dry-run"], env=SECRET).out


def test_kill_from_another_process_flattens_the_running_session(cli: Cli, paper_day: Path) -> None:
    _plan_approved(cli)
    session = _start_session(paper_day, 25)
    try:
        journal = paper_day / "runs" / "paper" / "journal.db"
        # Wall time is only a bound here (never the oracle): the plan's +2 is held.
        assert _wait(lambda: _position(journal) == 2, 20), "the session never reached +2"
        killed = cli(["kill", "--profile", "profiles/paper.yaml", "--reason", "drill", "--wait",
                      "20"], env=SECRET)  # fmt: skip
        if killed.code != 0:
            session.kill()
            out, err = session.communicate(timeout=30)
            pytest.fail(f"kill: {killed.out}{killed.err}\nsession: {out}\n{err}")
        assert "run by the running engine" in killed.out
        assert "KILL SWITCH: flat confirmed" in killed.out
        out, err = session.communicate(timeout=60)
    finally:
        if session.poll() is None:
            session.kill()
    assert session.returncode == 3, err  # HALTED after the kill: a NO for the operator
    assert "HALTED" in out
    assert not re.search(r"^targets met\s+yes\s*$", out, re.MULTILINE)
    assert "done for today" not in out
    assert "KILL SWITCH: flat confirmed" in out
    assert _position(journal) == 0
    resumed = cli(
        ["risk", "resume", "--profile", "profiles/paper.yaml", "--scope", "account",
         "--reason", "checked after the drill"]
    )  # fmt: skip
    assert resumed.code == 0, resumed.err
    clean = cli(["reconcile", "--profile", "profiles/paper.yaml"], env=SECRET)
    assert clean.code == 0, clean.out + clean.err
    assert "reconciliation: CLEAN" in clean.out
    assert rows_of(clean.out, "Locked instruments") == []


def test_risk_resume_refused_while_a_kill_is_pending(cli: Cli, paper_day: Path) -> None:
    from bastion.clock import WallClock
    from bastion.config import load_profile
    from bastion.risk.board import StateBoard
    from bastion.risk.kill_request import request_kill

    profile = load_profile(paper_day / "profiles" / "paper.yaml")
    profile.store.path.parent.mkdir(parents=True)
    clock = WallClock()
    with SqliteStore(profile.store.path, clock=clock) as store:
        request_kill(store, StateBoard(store, clock), clock, "pending", "test")
    resumed = cli(
        ["risk", "resume", "--profile", "profiles/paper.yaml", "--scope", "account",
         "--reason", "too early"]
    )  # fmt: skip
    assert resumed.code == 2
    assert "a kill is pending" in resumed.err
    assert "HALTED" in cli(["risk", "status", "--profile", "profiles/paper.yaml"]).out


def _iterations(journal: Path) -> int:
    from bastion.ops.heartbeat import heartbeat_path, read_heartbeat

    beat, _ = read_heartbeat(heartbeat_path(journal))
    return 0 if beat is None else beat.iteration


def test_halt_and_resume_from_another_process_reach_the_running_session(
    cli: Cli, paper_day: Path
) -> None:
    """Issue 12, item 2: with the account halted from this process, the running session
    (its own process) sends nothing while it keeps looping; `bastion risk resume` from
    this process reaches it, and it then trades the approved plan to the end."""
    _plan_approved(cli)
    halted = cli(["risk", "halt", "-p", "profiles/paper.yaml", "--scope", "account",
                  "--reason", "hold until checked"])  # fmt: skip
    assert halted.code == 0, halted.err
    journal = paper_day / "runs" / "paper" / "journal.db"
    session = _start_session(paper_day, 40)
    try:
        # Wall time only bounds the waits; the oracle is what the journal holds.
        assert _wait(lambda: _iterations(journal) > 20, 30), "the session never looped"
        assert _position(journal) == 0  # halted: it loops, and sends nothing
        resumed = cli(["risk", "resume", "-p", "profiles/paper.yaml", "--scope", "account",
                       "--reason", "checked"])  # fmt: skip
        assert resumed.code == 0, resumed.err
        assert _wait(lambda: _position(journal) == 2, 30), "the resume never reached it"
        out, err = session.communicate(timeout=90)
    finally:
        if session.poll() is None:
            session.kill()
            session.communicate(timeout=30)
    assert session.returncode == 0, out + err
    assert facts_of(out, "Bastion session against the venue: what happened")["targets met"] == "yes"


def test_immediate_flatten_from_another_process_flattens_the_running_session(
    cli: Cli, paper_day: Path
) -> None:
    """``bastion flatten --immediate`` goes through the same request as the kill: the
    running session applies it, the venue ends flat, the account is HALTED and ``risk
    status`` says so, and the strategy table equals the contract table (no break)."""
    _plan_approved(cli)
    journal = paper_day / "runs" / "paper" / "journal.db"
    session = _start_session(paper_day, 30)
    try:
        assert _wait(lambda: _position(journal) == 2, 20), "the session never reached +2"
        flat = cli(["flatten", "--immediate", "--profile", "profiles/paper.yaml",
                    "--reason", "flatten drill"], env=SECRET)  # fmt: skip
        if flat.code != 0:
            session.kill()
            out, err = session.communicate(timeout=30)
            pytest.fail(f"flatten: {flat.out}{flat.err}\nsession: {out}\n{err}")
        assert "kill switch run by the running engine" in flat.out, flat.out
        assert "KILL SWITCH: flat confirmed" in flat.out
        out, err = session.communicate(timeout=60)
    finally:
        if session.poll() is None:
            session.kill()
            session.communicate(timeout=30)
    assert session.returncode == 3, out + err  # HALTED after the flatten
    assert "HALTED" in out
    assert facts_of(out, "Bastion session against the venue: what happened")["targets met"] != "yes"
    with SqliteStore(journal) as store:
        positions = store.book.positions
        assert all(q == 0 for q in positions.contract.values()), positions.contract
        assert all(q == 0 for q in positions.strategy.values()), positions.strategy
    status = cli(["risk", "status", "--profile", "profiles/paper.yaml"])
    states = {row[0]: row[1] for row in rows_of(status.out, "Trading states")}
    assert states.get("account") == "HALTED", status.out
    probe = cli(["probe"], env=SECRET)
    assert "position snapshot: confirmed_flat" in probe.out, probe.out
    clean = cli(["reconcile", "--profile", "profiles/paper.yaml"], env=SECRET)
    assert "reconciliation: CLEAN" in clean.out, clean.out + clean.err
    assert rows_of(clean.out, "Locked instruments") == []


def test_risk_limits_set_from_another_process_reach_the_running_session(
    cli: Cli, paper_day: Path
) -> None:
    """``bastion risk limits --set`` from this process is applied by the session running
    in its own process: with the daily trade limit lowered to 1 lot while it waits
    halted, it trades 1 lot of the plan's +2 after the resume, and no more."""
    _plan_approved(cli)
    halted = cli(["risk", "halt", "-p", "profiles/paper.yaml", "--scope", "account",
                  "--reason", "hold until the limit is set"])  # fmt: skip
    assert halted.code == 0, halted.err
    journal = paper_day / "runs" / "paper" / "journal.db"
    session = _start_session(paper_day, 30)
    try:
        assert _wait(lambda: _iterations(journal) > 20, 30), "the session never looped"
        lowered = cli(["risk", "limits", "-p", "profiles/paper.yaml", "--set",
                       "max_traded_lots_per_day=1", "--reason", "one lot today"])  # fmt: skip
        assert lowered.code == 0, lowered.err
        assert "max_traded_lots_per_day: unset -> 1 (journaled)" in lowered.out
        resumed = cli(["risk", "resume", "-p", "profiles/paper.yaml", "--scope", "account",
                       "--reason", "limit set"])  # fmt: skip
        assert resumed.code == 0, resumed.err
        assert _wait(lambda: _position(journal) == 1, 30), "the resume never reached it"
        out, err = session.communicate(timeout=90)
    finally:
        if session.poll() is None:
            session.kill()
            session.communicate(timeout=30)
    assert _position(journal) == 1, out  # the limit held to the session's end
    summary = facts_of(out, "Bastion session against the venue: what happened")
    assert summary["targets met"].startswith("NO")
    assert summary["positions (venue)"] == "SP500/202406 +1"
    # Positions and fills agree: the target is unmet because of the limit, not a break.
    assert summary["reconciliation"] == "targets not met only (positions and fills agree)"
    assert "next step: targets not met: the daily trade limit stopped the orders" in out
    assert "resolve the breaks" not in out
    assert session.returncode == 3, out + err
