"""Invariant: a silent engine never goes unnoticed, and when asked, it leaves nothing
working at the venue. An engine process (holding the engine lock, beating) is killed
with SIGKILL while two orders it placed rest at the paper venue process (FIX, loopback):

- with the watchdog's own clock injected, a check at the last heartbeat plus half the
  configured timeout already calls it dead (the lock is free), journals it, alerts, and
  cancels every working order through its own venue session, journaling each cancel;
  the venue then lists no working order, and a second check alerts nothing new; while
  the engine was alive but silent for the whole timeout, it alerted without cancelling;
- ``bastion watchdog`` as its own process does the same on the wall clock: the alerts
  arrive at the loopback receiver and the venue lists no working order afterwards.

No assertion is on elapsed time: the waits are generous safety nets on real signals.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bastion.clock import WallClock
from bastion.config import Profile, load_profile
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ContractId, StrategyId
from bastion.domain.order_state import OrderState
from bastion.domain.records import Note
from bastion.oms.manager import OrderManager
from bastion.ops.alerts import open_notifier
from bastion.ops.heartbeat import heartbeat_path, read_heartbeat
from bastion.ops.watchdog import Verdict, Watchdog
from bastion.store.sqlite import SqliteStore, StoreMode
from bastion.testing.fake_engine import FakeEngineProcess
from bastion.testing.oms_driver import OmsDriver
from bastion.testing.paper_process import PaperVenueProcess
from bastion.testing.venue_stubs import make_order
from bastion.testing.webhook_receiver import Received, WebhookReceiver
from bastion.venues.registry import open_venue
from tests.conftest import REPO

SP = ContractId("SP500/202406")
TIMEOUT = 4.0


class ManualClock:
    def __init__(self, now: dt.datetime) -> None:
        self.at = now

    def now(self) -> dt.datetime:
        return self.at


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    v = PaperVenueProcess(tmp_path / "venue.db", max_seconds=300)
    yield v
    v.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def _profile(tmp_path: Path, port: int, url: str) -> tuple[Path, Profile]:
    journal = tmp_path / "runs" / "paper" / "journal.db"
    journal.parent.mkdir(parents=True)
    text = (
        (REPO / "examples" / "paper.yaml")
        .read_text()
        .replace("runs/paper/journal.db", str(journal))
        .replace("port: 9878", f"port: {port}")
        .replace("runs/paper/records", str(tmp_path / "records"))
        .replace("pool: examples/pools", f"pool: {REPO / 'examples' / 'pools'}")
    )
    text += (
        "alerts:\n"
        "  min_severity: info\n"
        f"  targets: [{{name: receiver, url: '{url}'}}]\n"
        "  watchdog:\n"
        f"    timeout_seconds: {TIMEOUT}\n"
        "    poll_seconds: 0.2\n"
        "    cancel_working_orders: true\n"
        "    cancel_timeout_seconds: 20\n"
    )
    path = tmp_path / "paper.yaml"
    path.write_text(text)
    return path, load_profile(path)


def _open_ids(profile: Profile) -> list[str] | None:
    check = open_venue(profile, "reconcile", WallClock(), timeout=10)
    try:
        assert check.connect()
        listed = check.open_orders()
        return None if listed.value is None else sorted(r.client_order_id for r in listed.value)
    finally:
        check.disconnect()


def _engine_places_resting_orders(profile: Profile) -> list[str]:
    """What the engine did before it died: two resting orders, journaled first."""
    clock = WallClock()
    fix = open_venue(profile, "engine", clock, timeout=10)
    store = SqliteStore(profile.store.path, mode=StoreMode.LIVE)
    try:
        assert fix.connect()
        driver = OmsDriver(fix, OrderManager(store), clock)
        ids = []
        for side, ticks in ((Side.BUY, 100), (Side.SELL, 10_000_000)):
            order = replace(
                make_order(side, 1, OrderType.LIMIT, limit_ticks=ticks, contract_id=SP),
                strategy_id=StrategyId("ema"),
            )
            driver.send(order)
            ids.append(order.client_order_id)
        deadline = time.monotonic() + 30
        while len(fix.open_orders().value or ()) < 2:
            assert time.monotonic() < deadline, "the venue never listed both orders"
            driver.pump()
        driver.pump()
        return sorted(ids)
    finally:
        fix.disconnect()
        store.close()


def test_watchdog_check_dead_engine_alerts_within_timeout_and_cancels(
    tmp_path: Path, venue: PaperVenueProcess, receiver: WebhookReceiver
) -> None:
    _, profile = _profile(tmp_path, venue.port, receiver.url("json"))
    placed = _engine_places_resting_orders(profile)
    assert _open_ids(profile) == placed
    engine = FakeEngineProcess(profile.store.path, profile.name)
    notifier = open_notifier(profile)
    try:
        beat, why = read_heartbeat(heartbeat_path(profile.store.path))
        assert beat is not None, why
        clock = ManualClock(beat.time + dt.timedelta(seconds=1))
        watchdog = Watchdog(profile, notifier, clock=clock)
        assert watchdog.check().assessment.verdict is Verdict.RUNNING
        # Alive but silent for the whole timeout (the clock says so): alert, no cancel.
        clock.at = beat.time + dt.timedelta(seconds=3600)
        silent = watchdog.check()
        assert silent.assessment.verdict is Verdict.SILENT
        assert silent.alerted == ["heartbeat_stopped"]
        assert silent.cancel is None
        assert _open_ids(profile) == placed

        engine.kill()
        beat, _ = read_heartbeat(heartbeat_path(profile.store.path))
        assert beat is not None
        clock.at = beat.time + dt.timedelta(seconds=TIMEOUT / 2)  # within the timeout
        dead = watchdog.check()
        assert dead.assessment.verdict is Verdict.DEAD, dead.assessment.reason
        assert dead.alerted == ["heartbeat_stopped", "watchdog_cancel"]
        assert dead.cancel is not None
        assert dead.cancel.confirmed, dead.cancel.detail
        assert sorted(dead.cancel.requested) == placed
        assert _open_ids(profile) == []
        again = watchdog.check()
        assert again.alerted == []
        assert again.cancel is None

        got = receiver.wait_for(
            lambda rs: (
                _kinds_of(rs).count("heartbeat_stopped") == 2 and "watchdog_cancel" in _kinds_of(rs)
            )
        )
        stopped = [r for r in got if r.line("kind") == "heartbeat_stopped"]
        assert all(r.line("severity") == "critical" for r in stopped)
        assert "is gone" in stopped[-1].title
        cancel = next(r for r in got if r.line("kind") == "watchdog_cancel")
        assert "2 working orders canceled" in cancel.title
    finally:
        engine.kill()
        notifier.close(10)

    with SqliteStore(profile.store.path, mode=StoreMode.LIVE) as store:
        notes = [e.record.kind for e in store.entries() if isinstance(e.record, Note)]
        assert notes.count("watchdog.heartbeat_stopped") == 1  # the silent one could not be
        assert notes.count("watchdog.cancel.result") == 1
        for coid in placed:  # each cancel request journaled before it went
            order = store.book.broker_order(coid)  # type: ignore[arg-type]
            assert order is not None
            assert order.state is OrderState.CANCEL_PENDING


def _kinds_of(received: list[Received]) -> list[str]:
    return [r.line("kind") or "" for r in received]


def test_watchdog_process_sigkilled_engine_alerts_and_leaves_no_working_orders(
    tmp_path: Path, venue: PaperVenueProcess, receiver: WebhookReceiver
) -> None:
    path, profile = _profile(tmp_path, venue.port, receiver.url("json"))
    placed = _engine_places_resting_orders(profile)
    engine = FakeEngineProcess(profile.store.path, profile.name)
    watchdog = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bastion.cli import main; main()",
            "watchdog",
            "--profile",
            str(path),
            "--max-seconds",
            "240",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert _open_ids(profile) == placed
        engine.kill()
        receiver.wait_for(
            lambda rs: {"heartbeat_stopped", "watchdog_cancel"} <= set(_kinds_of(rs)), timeout=120
        )
        assert _open_ids(profile) == []
    finally:
        engine.kill()
        if watchdog.poll() is None:
            watchdog.send_signal(signal.SIGTERM)
        out, err = watchdog.communicate(timeout=60)
    assert watchdog.returncode == 0, err
    assert "watchdog: dead" in out
    assert "cancel confirmed" in out
    assert "watchdog: stopped" in out
    assert profile.account not in out + err
