"""Invariant: delivery cannot hurt trading. A sim session (``bastion session``) whose
alert targets include one that refuses connections and one that accepts and never
answers trades exactly as the same session with only a working target: the same exit
status, the same fills in the journal, no traceback. The failed deliveries are kept in
the outbox (the delivery journal) as pending with the error, a retry scheduled; the
working target got every alert; and once the refused target is back, the next notifier
(another process's) adopts the pending deliveries and they arrive."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bastion.config import load_profile
from bastion.domain.records import FillRecorded
from bastion.ops.alerts import open_notifier
from bastion.ops.alerts.outbox import outbox_path
from bastion.store import SqliteStore
from bastion.testing.webhook_receiver import WebhookReceiver
from tests.conftest import REPO, run_cli


class Hanging:
    """Accepts connections on loopback and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    h = Hanging()
    yield h
    h.close()


@pytest.fixture
def refused() -> Iterator[socket.socket]:
    """A loopback port that is bound but not listening: connections are refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def _session(root: Path, targets: list[dict[str, str]]) -> tuple[int, str, Path]:
    root.mkdir()
    shutil.copytree(REPO / "examples", root / "examples")
    raw = yaml.safe_load((root / "examples" / "sim.yaml").read_text())
    raw["store"] = {"path": str(root / "runs" / "sim" / "journal.db")}
    raw["records_dir"] = str(root / "runs" / "sim" / "records")
    raw["alerts"] = {
        "targets": targets,
        "min_severity": "info",
        "retry_initial_seconds": 3600,  # the retry is the next process's, after the test
    }
    raw["risk"]["daily_loss_limit"] = 1  # the first losing day trips it: alerts to send
    (root / "sim.yaml").write_text(yaml.safe_dump(raw))
    done = run_cli(["session", "--profile", str(root / "sim.yaml"), "--end", "2024-02-05"])
    assert "Traceback" not in done.out + done.err
    return done.code, done.out, root / "runs" / "sim" / "journal.db"


def _fills(journal: Path) -> list[tuple[object, ...]]:
    with SqliteStore(journal) as store:
        return [
            (r.timestamp, r.fill.client_order_id, r.fill.quantity, r.fill.price_ticks)
            for r in (e.record for e in store.entries())
            if isinstance(r, FillRecorded)
        ]


def test_sim_session_with_a_dead_and_a_hanging_target_trades_unaffected(
    tmp_path: Path, in_tmp: Path, hanging: Hanging, refused: socket.socket
) -> None:
    with WebhookReceiver() as alone:
        code0, _, journal0 = _session(tmp_path / "alone", [{"name": "ok", "url": alone.url()}])
    refused_port = int(refused.getsockname()[1])
    with WebhookReceiver() as good:
        code, out, journal = _session(
            tmp_path / "down",
            [
                {"name": "ok", "url": good.url()},
                {"name": "dead", "url": f"json://127.0.0.1:{refused_port}/alerts"},
                {"name": "hanging", "url": f"json://127.0.0.1:{hanging.port}/alerts?rto=1&cto=1"},
            ],
        )
        assert code == code0 == 3, out  # the loss limit halts both: a verdict of NO
        fills = _fills(journal)
        assert fills, "the session never traded"
        assert fills == _fills(journal0)
        got = good.wait_for(lambda rs: any(r.line("kind") == "loss_limit_breached" for r in rs))
    kinds = {r.line("kind") for r in got}
    assert {"loss_limit_breached", "trading_state_tightened"} <= kinds
    assert hanging.held, "the hanging target was never tried"

    with sqlite3.connect(outbox_path(journal)) as db:
        rows = db.execute("SELECT target, status, attempts, last_error FROM deliveries").fetchall()
    by_target: dict[str, list[tuple[str, int, str]]] = {}
    for target, status, attempts, error in rows:
        by_target.setdefault(target, []).append((status, attempts, error))
    assert {s for s, _, _ in by_target["ok"]} == {"sent"}
    for down in ("dead", "hanging"):
        assert len(by_target[down]) == len(by_target["ok"])
        for status, attempts, error in by_target[down]:
            assert status == "pending"  # a retry is scheduled
            assert attempts >= 1
            assert error

    # The refused target comes back; the next notifier adopts the dead process's pending
    # deliveries and retries them when due.
    refused.close()
    with WebhookReceiver(refused_port) as back:
        notifier = open_notifier(load_profile(tmp_path / "down" / "sim.yaml"), start=False)
        try:
            notifier.pump(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
        finally:
            notifier.close(1)
        again = back.wait_for(lambda rs: any(r.line("kind") == "loss_limit_breached" for r in rs))
    assert {r.line("kind") for r in again} == kinds
