"""Invariant: a gate or the after-close routine that says NO reaches a person (issue 21,
Deliver 2): ``bastion gate dry-run`` blocked and ``bastion after-close`` stopped at a
step each deliver a ``gate_no`` alert with the reason to the profile's targets, though no
engine runs; the answer is journaled as a ``gate`` note where the profile's journal
exists (and no journal is made where none exists), and a YES alerts nobody."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from bastion.domain.records import Note
from bastion.store.sqlite import SqliteStore
from bastion.testing.webhook_receiver import Received, WebhookReceiver
from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]
JOURNAL = Path("runs/sim/journal.db")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def desk(in_tmp: Path, bundled_sample: Path, receiver: WebhookReceiver) -> Path:
    shutil.copytree(bundled_sample, in_tmp / "bastion-data")
    shutil.copytree(REPO / "examples" / "pools", in_tmp / "pools")
    raw = yaml.safe_load((REPO / "examples" / "sim.yaml").read_text())
    raw.update(instruments=["SP500"], pool="pools")
    raw["data"] = {"dir": "bastion-data", "sample": False}
    raw["alerts"] = {
        "targets": [{"name": "receiver", "url": receiver.url()}],
        "min_severity": "info",
    }
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "sim.yaml").write_text(yaml.safe_dump(raw))
    return in_tmp


def _gate_no(received: list[Received]) -> list[Received]:
    return [r for r in received if r.line("kind") == "gate_no"]


def _gate_notes() -> list[Note]:
    with SqliteStore(JOURNAL) as store:
        return [
            e.record
            for e in store.entries()
            if isinstance(e.record, Note) and e.record.kind == "gate"
        ]


def test_gate_dry_run_blocked_alerts_the_reason_without_making_a_journal(
    cli: Cli, desk: Path, receiver: WebhookReceiver
) -> None:
    assert cli(["shadow", "--date", "2024-04-29"]).code == 0
    blocked = cli(["gate", "dry-run"])  # no broker snapshot: blocked
    assert blocked.code == 3, blocked.out + blocked.err
    assert blocked.err == ""
    assert "alert gate_no to receiver: sent" in blocked.out
    got = _gate_no(receiver.wait_for(lambda rs: bool(_gate_no(rs))))
    assert len(got) == 1
    assert "gate dry-run says NO: broker state missing" in got[0].title
    assert got[0].line("profile") == "sim-default"
    assert got[0].line("severity") == "warning"
    assert not JOURNAL.exists()  # a gate makes no journal where none was


def test_after_close_stopped_alerts_and_journals_then_a_yes_alerts_nobody(
    cli: Cli, desk: Path, receiver: WebhookReceiver
) -> None:
    JOURNAL.parent.mkdir(parents=True)
    SqliteStore(JOURNAL).close()  # the profile's journal exists (an engine ran before)

    stale = cli(["after-close", "--date", "2024-05-01"])  # past the sample's last bar
    assert stale.code == 3, stale.out + stale.err
    assert "after-close: stopped at step 2 (shadow), exit status 3" in stale.out
    got = _gate_no(receiver.wait_for(lambda rs: bool(_gate_no(rs))))
    assert len(got) == 1
    assert "after-close says NO: stale input" in got[0].title
    assert "stale pool: pool period 2024-04 ended 2024-04-30" in got[0].message
    notes = _gate_notes()
    assert [n.data["passed"] for n in notes] == ["false"]
    assert notes[0].data["result"] == "stopped at step 2 (shadow), exit status 3"
    with SqliteStore(JOURNAL) as store:
        seq = store.last_seq
    assert got[0].line("correlation") == f"journal-{seq}"  # the journaled note's

    yes = cli(["after-close", "--date", "2024-04-29"])
    assert yes.code == 0, yes.out + yes.err
    assert [n.data["passed"] for n in _gate_notes()] == ["false", "true"]
    assert len(_gate_no(receiver.received)) == 1  # a YES alerts nobody
