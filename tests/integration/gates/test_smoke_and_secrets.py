"""Invariant: a smoke order is sent only in a test environment with BOTH the enabling
variable and the exact phrase, goes through the gates and the risk engine, and
reports its counts, id, status, volume and residual position (R8.5, R8.6); no secret
value from the environment and no unmasked account id appears in anything the day's
commands write or print (R1.3, R8.7)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bastion.ops.records import RunRecord, redactor_for, write_record
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
PHRASE = "I_UNDERSTAND_THIS_SENDS_TEST_ORDERS"
SMOKE = ["smoke-order", "--contract", "SP500/202406", "--side", "buy"]


@pytest.fixture
def wall_day(day: Path) -> Path:
    """The day's folder with the sim profile's expiry guard off: a smoke order runs on
    the wall clock, and the sample's SP500/202406 expired on 2024-06-21 (the guard
    would refuse it, rightly: tests/integration/risk/test_expiry_guard.py)."""
    profile = day / "examples" / "sim.yaml"
    raw = yaml.safe_load(profile.read_text())
    raw.setdefault("risk", {})["expiry_guard_days"] = 0
    profile.write_text(yaml.safe_dump(raw))
    return day


def _one_line_error(result: CliResult) -> str:
    assert result.code == 2, result.out + result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


@pytest.mark.parametrize(
    ("extra", "env", "expected"),
    [
        (["--confirm-submit", PHRASE], {}, "set BASTION_SMOKE_ORDER_ENABLED=1"),
        ([], {"BASTION_SMOKE_ORDER_ENABLED": "1"}, "needs the exact phrase"),
        (["--confirm-submit", "yes"], {"BASTION_SMOKE_ORDER_ENABLED": "1"}, "does not match"),
        (
            ["--confirm-submit", PHRASE],
            {"BASTION_SMOKE_ORDER_ENABLED": "true"},
            "set BASTION_SMOKE",
        ),
    ],
)
def test_smoke_submit_without_both_guards_refused(
    cli: Cli, day: Path, extra: list[str], env: dict[str, str], expected: str
) -> None:
    result = cli([*SMOKE, "--mode", "submit-cancel", *extra], env=env)
    assert expected in _one_line_error(result)
    assert not Path("runs/sim/journal.db").exists()  # refused before anything opened


def test_smoke_in_live_environment_refused(cli: Cli, day: Path) -> None:
    raw = yaml.safe_load((day / "examples" / "paper.yaml").read_text())
    raw.update(name="live-x", environment="live", store={"path": "runs/live/journal.db"})
    Path("live.yaml").write_text(yaml.safe_dump(raw))
    for mode in ("dry-run", "submit-cancel"):
        result = cli(
            [*SMOKE, "--profile", "live.yaml", "--mode", mode, "--confirm-submit", PHRASE],
            env={"BASTION_SMOKE_ORDER_ENABLED": "1"},
        )
        assert "test environments only; profile live-x is live" in _one_line_error(result)


def test_smoke_bad_mode_side_contract_one_line(cli: Cli, day: Path) -> None:
    assert "expected dry-run or submit-cancel" in _one_line_error(cli([*SMOKE, "--mode", "go"]))
    bad_side = ["smoke-order", "--contract", "SP500/202406", "--side", "up"]
    assert "expected buy or sell" in _one_line_error(cli(bad_side))
    nope = ["smoke-order", "--contract", "NOPE/1"]
    assert "is not listed by the venue" in _one_line_error(cli(nope))


def test_smoke_dry_run_sends_nothing_submit_cancel_reports(cli: Cli, wall_day: Path) -> None:
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    dry = cli([*SMOKE, "--mode", "dry-run"])
    assert dry.code == 0, dry.out + dry.err
    assert "send_order_calls: 0; cancel_order_calls: 0" in dry.out
    assert "final status: not sent (dry run)" in dry.out
    sent = cli(
        [*SMOKE, "--mode", "submit-cancel", "--confirm-submit", PHRASE],
        env={"BASTION_SMOKE_ORDER_ENABLED": "1"},
    )
    assert sent.code == 0, sent.out + sent.err
    for line in (
        "send_order_calls: 1; cancel_order_calls: 1",
        "venue order id: sim-1",
        "final status: canceled",
        "traded volume: 0",
        "residual position: +0",
        "reconciliation after: clean",
    ):
        assert line in sent.out
    records = sorted(Path("runs/sim/records").glob("*/smoke-order-*.json"))
    last = json.loads(records[-1].read_text())
    assert last["api_counts"] == {"send_order_calls": 1, "cancel_order_calls": 1}
    assert last["details"]["final_status"] == "canceled"


def _submit(cli: Cli, *extra: str) -> CliResult:
    return cli(
        [*SMOKE, "--mode", "submit-cancel", "--confirm-submit", PHRASE, *extra],
        env={"BASTION_SMOKE_ORDER_ENABLED": "1"},
    )


def test_smoke_submit_without_dry_run_refused_names_dry_run(cli: Cli, day: Path) -> None:
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    line = _one_line_error(_submit(cli))
    assert "submit-cancel needs a dry run of buy 1 SP500/202406" in line
    assert (
        "run 'bastion smoke-order --contract SP500/202406 --side buy --mode dry-run' first" in line
    )
    assert "(no dry run recorded)" in line
    assert not Path("runs/sim/journal.db").exists()  # refused before anything opened


def test_smoke_submit_after_dry_run_of_other_side_refused(cli: Cli, wall_day: Path) -> None:
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    other = ["smoke-order", "--contract", "SP500/202406", "--side", "sell", "--mode", "dry-run"]
    assert cli(other).code == 0
    line = _one_line_error(_submit(cli))
    assert "(the last dry run was sell 1 SP500/202406)" in line


def test_smoke_submit_after_stale_dry_run_refused(cli: Cli, wall_day: Path) -> None:
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    assert cli([*SMOKE, "--mode", "dry-run"]).code == 0
    state = Path("runs/sim/records/state/smoke-dry-run.json")
    record = json.loads(state.read_text())
    taken = dt.datetime.fromisoformat(record["snapshot_at"]) - dt.timedelta(seconds=301)
    record["snapshot_at"] = taken.isoformat()  # the profile's limit is 300 s
    state.write_text(json.dumps(record))
    line = _one_line_error(_submit(cli))
    assert "whose broker snapshot is at most 300 s old" in line
    assert "s old)" in line


def test_smoke_submit_sends_at_dry_run_price(cli: Cli, wall_day: Path) -> None:
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    dry = cli([*SMOKE, "--mode", "dry-run", "--offset-ticks", "7"])
    assert dry.code == 0, dry.out + dry.err
    price = json.loads(Path("runs/sim/records/state/smoke-dry-run.json").read_text())["limit_ticks"]
    sent = _submit(cli, "--offset-ticks", "2")  # ignored: the dry run's price goes
    assert sent.code == 0, sent.out + sent.err
    # Issue 20: the operator reads the price in price units (SP500's tick is 0.25).
    shown = f"{price * Decimal('0.25'):,.2f}"
    assert f"order: buy 1 SP500/202406 limit {shown}," in sent.out
    assert f"limit {shown} (passive)" in dry.out
    assert f"{price} ticks" not in sent.out + dry.out


def test_records_redact_secret_values_and_accounts(tmp_path: Path) -> None:
    from bastion.config import load_profile
    from tests.conftest import REPO

    profile = load_profile(REPO / "examples" / "sim.yaml")
    env = {"BASTION_SIM_API_TOKEN": "tok-1234567890", "HOME": "/root"}
    record = RunRecord(
        kind="gate",
        profile="p",
        role="official",
        environment="sim",
        command="bastion gate dry-run",
        notes=["leaked tok-1234567890 for account SIM-000001"],
    )
    paths = write_record(record, tmp_path, redactor_for(profile, env), account=profile.account)
    for path in paths:
        text = path.read_text()
        assert "tok-1234567890" not in text
        assert "SIM-000001" not in text
        assert "***" in text


def test_day_outputs_contain_no_secret_from_environment(cli: Cli, day: Path) -> None:
    secrets = {
        "BASTION_SIM_PASSWORD": "pw-Zx9!secret",
        "BASTION_SIM_AUTH_CODE": "auth-77310ab",
        "BROKER_API_KEY": "key-5f5f5f5f",
    }
    outputs = ""
    for args in (
        ["probe"],
        ["shadow", "--date", "2024-04-30"],
        ["gate", "dry-run"],
        [*SMOKE, "--mode", "dry-run"],
        ["report", "daily"],
    ):
        result = cli(args, env=secrets)
        outputs += result.out + result.err
    written = [
        p for p in Path("runs").rglob("*") if p.is_file() and p.suffix in {".json", ".md", ".html"}
    ]
    assert len(written) >= 10
    for path in written:
        outputs += path.read_text(encoding="utf-8")
    for value in [*secrets.values(), "SIM-000001"]:
        assert value not in outputs


def test_smoke_submit_that_trades_lists_its_trade_rows(cli: Cli, wall_day: Path) -> None:
    """R8.5: a smoke order that trades reports its trade rows (execution id, side, volume,
    price in price units) beside the traded volume and the residual position."""
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    assert cli([*SMOKE, "--mode", "dry-run"]).code == 0
    state = Path("runs/sim/records/state/smoke-dry-run.json")
    record = json.loads(state.read_text())
    record["limit_ticks"] += 40  # through the ask: the order trades at once
    state.write_text(json.dumps(record))
    sent = _submit(cli)
    assert sent.code == 0, sent.out + sent.err
    assert "traded volume: 1" in sent.out
    trades = [line for line in sent.out.splitlines() if line.strip().startswith("trade ")]
    assert len(trades) == 1, sent.out
    assert ": buy 1 at " in trades[0]
    assert "residual position: +1" in sent.out
    records = sorted(Path("runs/sim/records").glob("*/smoke-order-*.json"))
    rows = json.loads(records[-1].read_text())["details"]["trades"]
    assert [(r["side"], r["volume"]) for r in rows] == [("buy", "1")]
    assert "." in rows[0]["price"]  # a price, not a tick count
