"""Acceptance (R9.1, issue 21): the watchdog watches the real engine, not a stand-in. A
`bastion session --stay` against the paper venue process writes its heartbeat as it
runs; killed with SIGKILL, it leaves a heartbeat that says running and a free engine
lock; `bastion watchdog --once` then says dead (exit status 3), journals it and alerts
(critical) at the webhook receiver, and cancels what the engine left working. A session
that ends normally writes `stopped`, and the watchdog stays quiet."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.ops.heartbeat import heartbeat_path
from bastion.testing.webhook_receiver import WebhookReceiver
from tests.acceptance.test_kill_running_session import PROFILE, SECRET, _position, paper_day
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
__all__ = ["paper_day"]  # the fixture, shared

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _with_alerts(root: Path, url: str) -> None:
    profile = root / "profiles" / "paper.yaml"
    text = profile.read_text()
    assert PROFILE.splitlines()[0] in text
    profile.write_text(
        text
        + "alerts:\n"
        + f"  targets: [{{name: receiver, url: '{url}'}}]\n"
        + "  min_severity: info\n"
        + "  watchdog: {timeout_seconds: 2, poll_seconds: 1, cancel_working_orders: true}\n"
    )


def test_sigkilled_session_the_watchdog_says_dead_and_alerts(
    cli: Cli, paper_day: Path, receiver: WebhookReceiver
) -> None:
    _with_alerts(paper_day, receiver.url())
    assert cli(["probe"], env=SECRET).code == 0
    assert cli(["shadow", "--date", "2024-04-30"], env=SECRET).code == 0
    assert "gate: executable" in cli(["gate", "dry-run"], env=SECRET).out
    journal = paper_day / "runs" / "paper" / "journal.db"
    beat = heartbeat_path(journal)
    session = subprocess.Popen(
        [sys.executable, "-c", "from bastion.cli import main; main()", "session",
         "--profile", "profiles/paper.yaml", "--stay", "--seconds", "120"],
        cwd=paper_day, env={**os.environ, **SECRET},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Wall time only bounds the wait: the plan's +2 is held and the engine beats.
        assert _wait(lambda: _position(journal) == 2 and beat.exists(), 60), "never traded"
        running = json.loads(beat.read_text())
        assert running["state"] == "running"
        assert running["pid"] == session.pid
        quiet = cli(["watchdog", "--once", "-p", "profiles/paper.yaml"], env=SECRET)
        assert quiet.code == 0, quiet.out + quiet.err  # alive and beating
        session.send_signal(signal.SIGKILL)
        session.communicate(timeout=30)
    finally:
        if session.poll() is None:
            session.kill()
    assert json.loads(beat.read_text())["state"] == "running"  # it never said goodbye
    dead = cli(["watchdog", "--once", "-p", "profiles/paper.yaml"], env=SECRET)
    assert dead.code == 3, dead.out + dead.err
    assert "dead" in dead.out
    got = receiver.wait_for(lambda rs: any(r.line("kind") == "heartbeat_stopped" for r in rs))
    stopped = next(r for r in got if r.line("kind") == "heartbeat_stopped")
    assert stopped.line("severity") == "critical"
    assert "DU7654321" not in stopped.text


def test_a_session_that_ends_normally_says_stopped_and_the_watchdog_stays_quiet(
    cli: Cli, paper_day: Path, receiver: WebhookReceiver
) -> None:
    _with_alerts(paper_day, receiver.url())
    assert cli(["probe"], env=SECRET).code == 0
    assert cli(["shadow", "--date", "2024-04-30"], env=SECRET).code == 0
    assert "gate: executable" in cli(["gate", "dry-run"], env=SECRET).out
    done = cli(["session", "-p", "profiles/paper.yaml", "--seconds", "60"], env=SECRET)
    assert done.code == 0, done.out + done.err
    beat = heartbeat_path(paper_day / "runs" / "paper" / "journal.db")
    assert json.loads(beat.read_text())["state"] == "stopped"
    quiet = cli(["watchdog", "--once", "-p", "profiles/paper.yaml"], env=SECRET)
    assert quiet.code == 0, quiet.out + quiet.err
    assert "stopped" in quiet.out
    assert not any(r.line("kind") == "heartbeat_stopped" for r in receiver.received)


@pytest.fixture
def resting_day(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A paper day whose market stands still (the venue's feed does not move; the quote
    is the venue's own) and whose algo rests a passive limit for an hour: the session's
    orders stay working at the venue."""
    from bastion.marketdata.sample import write_sample
    from bastion.testing.paper_process import PaperVenueProcess
    from tests.conftest import REPO

    shutil.copytree(REPO / "examples", in_tmp / "examples")
    write_sample(in_tmp / "bastion-data")
    venue = PaperVenueProcess(in_tmp / "venue.db", max_seconds=180, tick_seconds=3600)
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "paper.yaml").write_text(
        PROFILE.format(port=venue.port)
        + "  stale_data_seconds: 3600   # the venue's feed stands still in this drill\n"
        + "execution:\n  default: {algo: best, patience_seconds: 3600, close_window_seconds: 0}\n"
    )
    monkeypatch.setenv("BASTION_PROFILES_DIR", str(in_tmp / "profiles"))
    try:
        yield in_tmp
    finally:
        venue.stop()


def _working_at_venue(root: Path) -> list[str] | None:
    from bastion.clock import WallClock
    from bastion.config import load_profile
    from bastion.venues.registry import open_venue

    os.environ.update(SECRET)
    check = open_venue(load_profile(root / "profiles" / "paper.yaml"), "reconcile", WallClock(),
                       timeout=10)  # fmt: skip
    try:
        if not check.connect():
            return None
        listed = check.open_orders()
        return None if listed.value is None else sorted(r.client_order_id for r in listed.value)
    finally:
        check.disconnect()


def test_sigkilled_session_with_working_orders_the_watchdog_cancels_them_all(
    cli: Cli, resting_day: Path, receiver: WebhookReceiver
) -> None:
    """``bastion session`` rests its passive limit at the venue and is killed with
    SIGKILL; ``bastion watchdog --once`` with ``cancel_working_orders`` says dead, alerts
    (heartbeat stopped, then the cancel's outcome) and the venue lists no working order;
    each cancel is journaled."""
    from bastion.domain.records import Note
    from bastion.store import SqliteStore

    _with_alerts(resting_day, receiver.url())
    assert cli(["probe"], env=SECRET).code == 0
    assert cli(["shadow", "--date", "2024-04-30"], env=SECRET).code == 0
    assert "gate: executable" in cli(["gate", "dry-run"], env=SECRET).out
    journal = resting_day / "runs" / "paper" / "journal.db"
    session = subprocess.Popen(
        [sys.executable, "-c", "from bastion.cli import main; main()", "session",
         "--profile", "profiles/paper.yaml", "--stay", "--seconds", "120"],
        cwd=resting_day, env={**os.environ, **SECRET},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Wall time only bounds the wait: the passive order is working at the venue.
        assert _wait(lambda: bool(_working_at_venue(resting_day)), 60), "nothing rested"
        assert _position(journal) == 0  # the market stands still: nothing filled
        session.send_signal(signal.SIGKILL)
        session.communicate(timeout=30)
    finally:
        if session.poll() is None:
            session.kill()
    working = _working_at_venue(resting_day)
    assert working, "the killed engine's orders should still be working"
    dead = cli(["watchdog", "--once", "-p", "profiles/paper.yaml"], env=SECRET)
    assert dead.code == 3, dead.out + dead.err
    assert "dead" in dead.out
    assert "cancel confirmed" in dead.out
    got = receiver.wait_for(
        lambda rs: {"heartbeat_stopped", "watchdog_cancel"} <= {r.line("kind") for r in rs}
    )
    outcome = next(r for r in got if r.line("kind") == "watchdog_cancel")
    assert f"{len(working)} working orders canceled; the venue lists none" in outcome.title
    assert _working_at_venue(resting_day) == []
    with SqliteStore(journal) as store:
        notes = [e.record for e in store.entries() if isinstance(e.record, Note)]
    asked = {n.data.get("client_order_id") for n in notes if n.kind == "watchdog.cancel"}
    assert asked == set(working)
    assert any(n.kind == "watchdog.cancel.result" and n.data.get("confirmed") == "true"
               for n in notes)  # fmt: skip
