"""Invariant: plans are explicit (issue 19, item 3). The gate judges the plan generated
last (a fresh shadow run after a flatten plan with a later date is the one judged) and
records it by path and SHA-256; a session executes only that plan, or the one named with
``--plan`` if the gate approved it, and refuses any other with the reason (exit 3); the
reports name the plan they read; a flatten plan claims no data completeness, data date
or reference price, and the gate does not say its data is "complete to" a day."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.gates.broker import BrokerState, save_broker_state
from bastion.gates.flatten import flatten_plan
from bastion.gates.profiles import resolve_profile
from bastion.strategy.plan import load_plan
from bastion.testing.paper_process import PaperVenueProcess
from tests.conftest import CliResult
from tests.tables import facts_of

Cli = Callable[..., CliResult]
RECORDS = Path("runs/paper/records")
PLANS = RECORDS / "plans"
SECRET = {"BASTION_PAPER_PASSWORD": "plans-pass-5c2e"}


def _snapshot(positions: dict[str, int] | None = None) -> None:
    """A fresh read-only snapshot, as 'bastion probe' leaves it (no venue needed)."""
    now = dt.datetime.now(dt.UTC).isoformat()
    save_broker_state(
        BrokerState(
            venue="paper",
            taken_at=now,
            connected=True,
            logged_in=True,
            settlement="not_applicable",
            account={"currency": "USD", "equity": "1000000", "margin_used": "0"},
            positions=positions or {},
            positions_at=now,
            fills=[],
        ),
        RECORDS / "state" / "broker-snapshot.json",
    )


def _held(positions: dict[str, int]) -> BrokerState:
    return BrokerState(
        venue="paper",
        taken_at="",
        connected=True,
        logged_in=True,
        settlement="n/a",
        positions=positions,
    )


@pytest.fixture
def desk(cli: Cli, in_tmp: Path, sample_data: Path) -> Path:
    assert cli(["init"]).code == 0
    shutil.copytree(sample_data, in_tmp / "bastion-data")
    return in_tmp


def _gate(cli: Cli, *args: str) -> CliResult:
    return cli(["gate", "dry-run", *args], env=SECRET)


def test_gate_judges_newest_plan_not_latest_date(cli: Cli, desk: Path) -> None:
    """The observation: a flatten plan dated today hid a fresh shadow run for April (the
    gate answered skip_broker_flat_for_close: the broker is flat now)."""
    _snapshot()
    profile = resolve_profile(None).profile
    flatten_plan(
        profile,
        role="official",
        broker=_held({"SP500/202406": 2}),
        now=dt.datetime.now(dt.UTC),
        reason="wind down",
        folder=PLANS,
    )
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    gate = _gate(cli)
    assert gate.code == 0, gate.out
    assert "plan judged: runs/paper/records/plans/plan-2024-04-30.json (shadow" in gate.out
    assert "skip_broker_flat_for_close" not in gate.out
    state = json.loads((RECORDS / "state" / "gate-latest.json").read_text())
    assert state["plan"] == "runs/paper/records/plans/plan-2024-04-30.json"
    assert len(state["plan_sha256"]) == 64
    assert state["data_dates"] == ["2024-04-30"]


def test_session_refuses_plans_the_gate_did_not_approve(cli: Cli, desk: Path) -> None:
    no_gate = cli(["session", "--seconds", "1"], env=SECRET)
    assert no_gate.code == 3
    assert "session refused: no gate has judged a plan" in no_gate.out
    _snapshot()
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    assert _gate(cli).code == 0
    approved = PLANS / "plan-2024-04-30.json"
    assert cli(["shadow", "--date", "2024-04-29"]).code == 0  # a newer plan, not judged
    newer = cli(["session", "--seconds", "1"], env=SECRET)
    assert newer.code == 3
    assert "plan-2024-04-29.json is newer than the plan the gate judged" in newer.out
    assert f"--plan {approved}" in newer.out
    other = cli(["session", "--plan", str(PLANS / "plan-2024-04-29.json")], env=SECRET)
    assert other.code == 3
    assert f"the gate judged {approved}, not" in other.out
    changed = json.loads(approved.read_text())
    changed["signals"][0]["target"] = 5
    approved.write_text(json.dumps(changed))
    edited = cli(["session", "--plan", str(approved)], env=SECRET)
    assert edited.code == 3
    assert "changed after the gate judged it" in edited.out
    record = json.loads(max(RECORDS.glob("20*/gate-*.json")).read_text())
    assert record["details"]["plan"] == str(approved)


def test_session_refuses_a_blocked_gates_plan(cli: Cli, desk: Path) -> None:
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    assert _gate(cli).code == 3  # no snapshot: blocked
    refused = cli(["session"], env=SECRET)
    assert refused.code == 3
    assert "'blocked: broker state missing" in refused.out
    assert "not executable" in refused.out


def test_flatten_plan_claims_no_data(cli: Cli, desk: Path) -> None:
    profile = resolve_profile(None).profile
    held = _held({"SP500/202406": 2})
    plan, path = flatten_plan(
        profile, role="official", broker=held, now=dt.datetime.now(dt.UTC), reason="x", folder=PLANS
    )
    assert plan.kind == "flatten"
    assert plan.data_complete is None
    assert plan.data_dates == []
    assert [(s.data_date, s.reference_price, s.reference_ticks) for s in plan.signals] == [
        (None, None, None)
    ]
    assert load_plan(path) == plan
    _snapshot()
    gate = _gate(cli)
    assert gate.code == 0, gate.out
    assert "gate: skip_broker_flat_for_close" in gate.out
    assert "not used: a flatten plan reads no bars" in gate.out
    assert "complete to" not in gate.out
    report = cli(["report", "daily"], env=SECRET)
    assert "no data read: a flatten plan" in report.out
    assert f"signal plan                          {path} (flatten" in report.out


def test_daily_report_names_plan_and_another_plan_is_a_no(cli: Cli, desk: Path) -> None:
    _snapshot()
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    assert _gate(cli).code == 0
    assert cli(["shadow", "--date", "2024-04-29"]).code == 0
    report = cli(["report", "daily", "--json"], env=SECRET)
    assert report.code == 3
    data = json.loads(report.out)
    assert data["plan"] == "runs/paper/records/plans/plan-2024-04-29.json"
    assert "it judged another plan" in data["headline"]
    assert data["next_step"] == (
        "run 'bastion gate dry-run' on runs/paper/records/plans/plan-2024-04-29.json"
    )


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(tmp_path / "venue.db", max_seconds=300)
    yield process
    process.stop()


@pytest.mark.slow
def test_session_with_plan_runs_the_approved_one(
    cli: Cli, in_tmp: Path, sample_data: Path, venue: PaperVenueProcess
) -> None:
    assert cli(["init", "--port", str(venue.port)]).code == 0
    shutil.copytree(sample_data, in_tmp / "bastion-data")
    assert cli(["probe"], env=SECRET).code == 0
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    assert _gate(cli).code == 0
    approved = PLANS / "plan-2024-04-30.json"
    assert cli(["shadow", "--date", "2024-04-29"]).code == 0  # newer, not judged
    done = cli(["session", "--plan", str(approved), "--seconds", "30"], env=SECRET)
    assert done.code == 0, done.out + done.err
    assert f"{approved} (shadow, target date 2024-04-30" in done.out
    assert (
        facts_of(done.out, "Bastion session against the venue: what happened")["positions (venue)"]
        == "SP500/202406 +2"
    )
    record = json.loads(max(RECORDS.glob("20*/session-*.json")).read_text())
    assert record["details"]["plan"] == str(approved)
    assert (
        record["details"]["plan_sha256"]
        == json.loads((RECORDS / "state" / "gate-latest.json").read_text())["plan_sha256"]
    )
