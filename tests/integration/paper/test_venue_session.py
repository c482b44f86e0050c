"""Invariants of a session against the paper venue process: nothing is sent before
recovery and reconciliation are clean; targets are reached through the stack and the
risk engine; afterwards Bastion's positions equal the venue's and reconciliation is
clean; a restart resumes from the journal without resending; an unknown risk level
opens nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bastion.config import Profile, parse_profile
from bastion.ops.paper import VenueSession, targets_for
from bastion.store import SqliteStore
from bastion.store.targets import TargetStore
from bastion.testing.paper_process import PaperVenueProcess
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO, run_cli
from tests.tables import facts_of, rows_of


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(tmp_path / "venue.db")
    yield process
    process.stop()


def _profile(tmp_path: Path, port: int) -> Profile:
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"]["port"] = port
    raw["store"] = {"path": str(tmp_path / "paper" / "journal.db")}
    raw["records_dir"] = str(tmp_path / "paper" / "records")
    raw.pop("pool", None)
    return parse_profile(raw, "test")


def _session(profile: Profile, level: str | None = "base") -> VenueSession:
    contracts = dict(DEFAULT_CONTRACTS)
    return VenueSession(
        profile,
        fix_venue_for(profile, contracts, "engine"),
        contracts,
        risk_level=level,
        risk_level_source="test",
        reconcile_every=dt.timedelta(seconds=1),
    )


def _targets(lots: int):  # type: ignore[no-untyped-def]
    return targets_for("paper_test", {"SP500": lots}, dt.datetime.now(dt.UTC))


def test_venue_session_reaches_targets_and_agrees_with_venue(
    tmp_path: Path, venue: PaperVenueProcess
) -> None:
    profile = _profile(tmp_path, venue.port)
    result = _session(profile).run(_targets(3), seconds=20)
    assert result.targets_met, result.problems
    assert result.reconcile_clean, result.breaks
    assert result.positions == {"SP500/202406": 3}
    assert result.venue_positions == {"SP500/202406": 3}
    assert result.send_order_calls >= 1
    assert result.fills >= 1
    lines = [json.loads(line) for line in result.log.read_text().splitlines()]
    created = [x for x in lines if x["event"] == "instrument_order.created"]
    fills = [x for x in lines if x["event"] == "fill"]
    assert created
    assert fills
    assert {f["correlation_id"] for f in fills} <= {c["correlation_id"] for c in created}
    assert created[0]["correlation_id"].startswith("paper_test/SP500@")
    assert any(x["event"] == "reconciliation" and x["clean"] for x in lines)
    assert "PAPER-000001" not in result.log.read_text()

    again = _session(profile).run(_targets(-2), seconds=20)  # a restart on the same journal
    assert again.restarts >= 1
    assert again.targets_met, again.problems
    assert again.positions == {"SP500/202406": -2}
    assert again.venue_positions == {"SP500/202406": -2}
    assert again.reconcile_clean


def test_venue_session_unknown_risk_level_opens_nothing(
    tmp_path: Path, venue: PaperVenueProcess
) -> None:
    profile = _profile(tmp_path, venue.port)
    result = _session(profile, level=None).run(_targets(2), seconds=3)
    assert result.send_order_calls == 0
    assert not result.targets_met
    assert any("risk level" in p for p in result.problems), result.problems


def test_venue_session_no_venue_says_so_sends_nothing(tmp_path: Path) -> None:
    profile = _profile(tmp_path, 1)  # nothing listens on port 1
    result = _session(profile).run(_targets(2), seconds=1.5)
    assert result.send_order_calls == 0
    assert not result.reconcile_clean
    assert result.unknown == ["venue not connected"]


def test_reconcile_cli_shows_target_vs_actual_from_the_target_store(
    tmp_path: Path, venue: PaperVenueProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = _profile(tmp_path, venue.port)
    assert _session(profile).run(_targets(1), seconds=20).targets_met
    path = tmp_path / "paper.yaml"
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"]["port"] = venue.port
    raw["store"] = {"path": str(profile.store.path)}
    raw.pop("pool", None)
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    clean = run_cli(["reconcile", "--profile", str(path)])
    assert clean.code == 0, clean.out + clean.err
    assert "reconciliation: CLEAN" in clean.out
    store = SqliteStore(profile.store.path)
    TargetStore(store).write(_targets(4)[0])  # the strategy now wants more than it holds
    store.close()
    moved = run_cli(["reconcile", "--profile", str(path)])
    assert moved.code == 3  # a break: a verdict of NO
    [row] = rows_of(moved.out, "Breaks")
    assert row[:2] == ["target_vs_actual", "SP500"]
    assert row[3:5] == ["+1", "+4"]
    assert facts_of(moved.out, "Reconciliation")["breaks"] == "1"
