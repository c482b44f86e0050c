"""Invariant: each operator command of the day (probe, shadow, gate dry-run, smoke-order,
report daily) runs from a clean folder, never calls an order API unless told to in a
test environment with both guards, leaves a dated run record, and refuses every stop
condition with a line that says why (R8, R1.1, R1.3, R3.3, R3.4)."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.conftest import CliResult
from tests.tables import facts_of, rows_of

Cli = Callable[..., CliResult]


def _ok(result: CliResult) -> str:
    assert result.code == 0, result.out + result.err
    return result.out


def _blocked(result: CliResult) -> str:
    assert result.code == 3, result.out + result.err  # a verdict of NO (bastion.cli.exits)
    line = next(x for x in result.out.splitlines() if x.startswith("gate: "))
    return line.removeprefix("gate: ")


def _one_line_error(result: CliResult) -> str:
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def _records(folder: Path, kind: str) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob(f"*/{kind}-*.json"))]


RECORDS = Path("runs/sim/records")
PLAN = RECORDS / "plans" / "plan-2024-04-30.json"
SNAPSHOT = RECORDS / "state" / "broker-snapshot.json"


def test_day_sim_profile_probe_shadow_gate_report_executable(cli: Cli, day: Path) -> None:
    probe = _ok(cli(["probe"]))
    assert "position snapshot: confirmed_flat" in probe
    assert "order API calls: send 0, cancel 0" in probe
    shadow = _ok(cli(["shadow", "--date", "2024-04-30"]))
    facts = facts_of(shadow, "Shadow run")
    assert facts["target date"].startswith("2024-04-30 ")
    assert facts["pool"].startswith("2024-04 ")
    [sp500, rb] = rows_of(shadow, "Signals")
    assert sp500 == ["SP500", "SP500/202406", "+0", "+2", "open", "+0.95", "5,421.00"]
    assert rb == ["rb", "rb/202410", "+0", "+4", "open", "+0.95", "3,958"]
    gate = _ok(cli(["gate", "dry-run"]))
    assert "gate: executable" in gate
    checks = {row[0]: row[1] for row in rows_of(gate, "Checks")}
    assert set(checks) >= {"route", "broker_snapshot", "risk_level", "reconciliation"}
    assert set(checks.values()) == {"yes"}
    assert "buy 2 SP500/202406 (broker +0 -> target +2, opens)" in gate
    assert "order API calls: send 0, cancel 0" in gate
    report = _ok(cli(["report", "daily"]))
    assert "MAY TONIGHT'S ORDERS GO? YES: tonight's orders may go (2 order(s))" in report
    assert "NO order API call today" in report
    page = next((day / RECORDS / "reports").glob("daily-*.html")).read_text()
    assert "May tonight's orders go? YES" in html.unescape(page)
    record = _records(day / RECORDS, "gate")[0]
    assert record["gate_result"] == "executable"
    assert record["target_date"] == "2024-04-30"
    assert record["pool_period"] == "2024-04"
    assert record["risk_level"] == "base"
    assert record["api_counts"] == {"send_order_calls": 0, "cancel_order_calls": 0}
    assert record["command"] == "bastion gate dry-run"
    assert record["account"] == "SI*****001"
    assert "SIM-000001" not in json.dumps(record)
    assert [s["instrument"] for s in record["signals"]] == ["SP500", "rb"]  # type: ignore[index]
    assert record["broker_state"]["position_state"] == "confirmed_flat"  # type: ignore[index]
    assert record["next_step"].startswith("orders may go")  # type: ignore[union-attr]
    assert any(str(f).endswith(".md") for f in record["output_files"])  # type: ignore[union-attr]
    for kind in ("probe", "shadow"):
        assert len(_records(day / RECORDS, kind)) == 1


def test_gate_without_probe_blocked_broker_state_missing(cli: Cli, day: Path) -> None:
    _ok(cli(["shadow", "--date", "2024-04-30"]))
    line = _blocked(cli(["gate", "dry-run"]))
    assert line == "blocked: broker state missing: no snapshot; run 'bastion probe'"


def test_gate_old_snapshot_blocked_broker_state_stale(cli: Cli, day: Path) -> None:
    _ok(cli(["probe"]))
    _ok(cli(["shadow", "--date", "2024-04-30"]))
    snap = json.loads(SNAPSHOT.read_text())
    snap["positions_at"] = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=600)).isoformat()
    SNAPSHOT.write_text(json.dumps(snap))
    line = _blocked(cli(["gate", "dry-run"]))
    assert line.startswith("blocked: broker state stale: snapshot is 600 s old (limit 300 s)")
    report = cli(["report", "daily"])
    assert report.code == 3, report.out + report.err  # a NO is exit status 3
    assert "MAY TONIGHT'S ORDERS GO? NO: blocked: broker state stale" in report.out


def test_gate_fresh_probe_flag_takes_snapshot_itself(cli: Cli, day: Path) -> None:
    _ok(cli(["shadow", "--date", "2024-04-30"]))
    assert "gate: executable" in _ok(cli(["gate", "dry-run", "--probe"]))


def test_gate_review_level_opening_blocked(cli: Cli, day: Path) -> None:
    _ok(cli(["probe"]))
    _ok(cli(["shadow", "--date", "2024-04-30", "--risk-level", "review"]))
    line = _blocked(cli(["gate", "dry-run"]))
    assert line.startswith("blocked: review allows no new opens, but the plan would: buy 2")


def test_gate_close_while_broker_flat_skipped(cli: Cli, day: Path) -> None:
    _ok(cli(["probe"]))
    _ok(cli(["shadow", "--date", "2024-04-30"]))
    plan = json.loads(PLAN.read_text())
    for signal in plan["signals"]:
        signal.update(previous=2, target=0, action="close")
    PLAN.write_text(json.dumps(plan))
    out = _ok(cli(["gate", "dry-run"]))
    assert "gate: skip_broker_flat_for_close" in out
    assert "skipped close: SP500: the plan closes +2 -> +0, but the broker is flat" in out
    assert "orders the plan would send" not in out


def test_shadow_past_pool_period_stale_input_gate_blocked(cli: Cli, day: Path) -> None:
    _ok(cli(["probe"]))
    stale = cli(["shadow", "--date", "2024-05-02"])
    assert stale.code == 3, stale.out + stale.err  # stale input is a verdict of NO
    shadow = stale.out
    assert "STALE INPUT: stale pool: pool period 2024-04 ended 2024-04-30" in shadow
    line = _blocked(cli(["gate", "dry-run"]))
    assert line.startswith("blocked: stale pool: pool period 2024-04 ended 2024-04-30")
    daily = next((day / RECORDS / "reports").glob("daily-*.md")).read_text()
    assert "STALE INPUT" in daily
    record = _records(day / RECORDS, "shadow")[0]
    assert record["stale_inputs"]


def test_gate_comparison_plan_unnamed_blocked(cli: Cli, day: Path) -> None:
    raw = yaml.safe_load((day / "examples" / "sim.yaml").read_text())
    raw.update(name="old-line", official=False, capital=2000000)
    (day / "examples" / "old.yaml").write_text(yaml.safe_dump(raw))
    out = _ok(cli(["shadow", "--profile", "old-line", "--date", "2024-04-30"]))
    assert "COMPARISON run" in out
    _ok(cli(["probe"]))
    line = _blocked(cli(["gate", "dry-run", "--plan", str(PLAN)]))
    assert "made by profile 'old-line' (comparison), not 'sim-default'" in line
    named = cli(["gate", "dry-run", "--profile", "examples/old.yaml"])
    assert "COMPARISON run" in named.out


def test_shadow_future_or_bad_date_one_line(cli: Cli, day: Path) -> None:
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    line = _one_line_error(cli(["shadow", "--date", tomorrow]))
    assert "is not a completed trading day yet" in line
    assert "today is never assumed complete" in line
    assert "expected YYYY-MM-DD" in _one_line_error(cli(["shadow", "--date", "30/04/2024"]))
    assert "expected base or review" in _one_line_error(
        cli(["shadow", "--date", "2024-04-30", "--risk-level", "high"])
    )


def test_gate_bad_plan_file_one_line(cli: Cli, day: Path) -> None:
    Path("bad.json").write_text("[]")
    assert "expected a JSON object" in _one_line_error(
        cli(["gate", "dry-run", "--plan", "bad.json"])
    )


def test_secret_on_command_line_refused_points_to_env(cli: Cli, day: Path) -> None:
    for command in (["probe"], ["gate", "dry-run"], ["shadow"], ["report", "daily"]):
        result = cli([*command, "--password", "hunter2-secret"])
        line = _one_line_error(result)
        assert "never taken on the command line" in line
        assert "environment variable" in line
        assert "hunter2-secret" not in result.out + result.err


def test_no_official_profile_one_line(cli: Cli, in_tmp: Path) -> None:
    line = _one_line_error(cli(["probe"]))
    assert "no official profile in profiles" in line
