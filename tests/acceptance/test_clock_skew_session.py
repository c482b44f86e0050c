"""Invariant: ``bastion session`` against the paper venue process whose clock is off by
more than the profile's limit sends nothing, ends with a NO (exit 3) and says why (the
venue's clock), never "targets met" or "done"; its alerts reach the profile's webhook.
The venue's clock is set by the test with the venue's wire control, before the session
starts, so the halt holds from the first pass (no timing is asserted)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.domain.records import BrokerOrderCreated
from bastion.marketdata.sample import write_sample
from bastion.store import SqliteStore
from bastion.testing.paper_process import PaperVenueProcess
from bastion.testing.webhook_receiver import WebhookReceiver
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]

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
  contracts: [SP500/202406]
records_dir: runs/paper/records
pool: examples/pools
risk:
  expiry_guard_days: 0   # the paper venue's SP500/202406 trades on past its 2024 expiry
alerts:
  targets: [{{name: receiver, url: "{url}"}}]
  min_severity: info
"""


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def venue(in_tmp: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(in_tmp / "venue.db", control=True, max_seconds=180)
    yield process
    process.stop()


def test_session_on_a_skewed_venue_sends_nothing_and_says_why(
    cli: Cli,
    in_tmp: Path,
    venue: PaperVenueProcess,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    write_sample(in_tmp / "bastion-data")
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "paper.yaml").write_text(
        PROFILE.format(port=venue.port, url=receiver.url())
    )
    monkeypatch.setenv("BASTION_PROFILES_DIR", str(in_tmp / "profiles"))
    assert cli(["probe"]).code == 0
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    assert "gate: executable" in cli(["gate", "dry-run"]).out
    operator = FixVenue(
        FixConfig(port=venue.port, sender_comp_id="BASTION", heartbeat_seconds=30.0),
        dict(DEFAULT_CONTRACTS),
    )
    assert operator.connect(), operator.last_disconnect_reason
    try:
        assert operator.control("clock", offset=-40)  # the venue's clock runs 40 s behind
        done = cli(["session", "--profile", "profiles/paper.yaml", "--seconds", "6"])
    finally:
        operator.disconnect()
    assert done.code == 3, done.out + done.err
    assert "the venue's clock is too far from this machine's" in done.out
    assert "fix its time (NTP)" in done.out
    assert "done for today" not in done.out
    with SqliteStore(in_tmp / "runs" / "paper" / "journal.db") as store:
        created = [e for e in store.entries() if isinstance(e.record, BrokerOrderCreated)]
        assert not created, "an order was sent while the venue's clock was off"
        assert not any(store.book.positions.contract.values())
    got = receiver.wait_for(lambda rs: any(r.line("kind") == "clock_skew" for r in rs))
    skew = next(r for r in got if r.line("kind") == "clock_skew")
    assert skew.line("severity") == "critical"
    assert "limit 5 s" in skew.title
