"""Invariant: on the bundled data with the paper venue in its own process, the operator's
whole day runs from the CLI in a clean folder: probe -> shadow -> dry-run gate -> smoke
order (with both guards) -> session (executes the plan through the pre-submit gate) ->
session --watch -> reconcile -> daily report; only the smoke order and the session reach
the order API; positions end as the plan said, at the venue too; reconciliation stays
clean; the daily report says whether tonight's orders may go, and
a stale snapshot turns that answer into NO with the reason (R8, issue 8 "done when")."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.marketdata.sample import write_sample
from bastion.testing.paper_process import PaperVenueProcess
from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]
PHRASE = "I_UNDERSTAND_THIS_SENDS_TEST_ORDERS"

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
    venue = PaperVenueProcess(in_tmp / "venue.db")
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "paper.yaml").write_text(PROFILE.format(port=venue.port))
    monkeypatch.setenv("BASTION_PROFILES_DIR", str(in_tmp / "profiles"))
    try:
        yield in_tmp
    finally:
        venue.stop()


def _run(cli: Cli, args: list[str], env: dict[str, str] | None = None) -> str:
    result = cli(args, env=env)
    assert result.code == 0, f"{args}: {result.out}{result.err}"
    return result.out


def test_operator_day_paper_venue_full_day(cli: Cli, paper_day: Path) -> None:
    secret = {"BASTION_PAPER_PASSWORD": "paper-pass-8d1f"}
    probe = _run(cli, ["probe"], secret)
    assert "position snapshot: confirmed_flat" in probe
    # The profile's own contracts, never the paper venue's defaults (issue: one engine).
    assert "contract snapshot: 1 contract(s): SP500/202406" in probe
    shadow = _run(cli, ["shadow", "--date", "2024-04-30"], secret)
    assert "SP500    SP500/202406   +0 -> +2 (open)" in shadow
    gate = _run(cli, ["gate", "dry-run"], secret)
    assert "gate: executable" in gate
    assert "order API calls: send 0, cancel 0" in gate
    dry = _run(
        cli,
        [
            "smoke-order",
            "--contract",
            "SP500/202406",
            "--side",
            "buy",
            "--mode",
            "dry-run",
            "--offset-ticks",
            "40",
        ],
        secret,
    )
    assert "final status: not sent (dry run)" in dry
    smoke = _run(
        cli,
        [
            "smoke-order",
            "--contract",
            "SP500/202406",
            "--side",
            "buy",
            "--mode",
            "submit-cancel",
            "--confirm-submit",
            PHRASE,
            "--offset-ticks",
            "40",
        ],
        {**secret, "BASTION_SMOKE_ORDER_ENABLED": "1"},
    )
    for line in (
        "send_order_calls: 1; cancel_order_calls: 1",
        "venue order id: paper-",
        "final status: canceled",
        "traded volume: 0",
        "residual position: +0",
        "reconciliation after: clean",
    ):
        assert line in smoke
    session = _run(cli, ["session", "--profile", "profiles/paper.yaml", "--seconds", "30"], secret)
    for line in (
        "targets met            │ yes",
        "orders / fills         │ 2 / 1",  # the journal also holds the canceled smoke order
        "order API calls        │ send 1, cancel 0",
        "positions (Bastion)    │ SP500/202406 +2",
        "positions (venue)      │ SP500/202406 +2",
        "reconciliation         │ clean",
    ):
        assert line in session, session
    watch = _run(
        cli,
        [
            "session",
            "--profile",
            "profiles/paper.yaml",
            "--watch",
            "--cycles",
            "2",
            "--interval",
            "0.1",
        ],
        secret,
    )
    assert watch.count("reconciliation=clean send=0 cancel=0") == 2
    reconcile = _run(cli, ["reconcile", "--profile", "profiles/paper.yaml"], secret)
    assert "reconciliation: CLEAN" in reconcile
    report = _run(cli, ["report", "daily"], secret)
    # The session acted on the gate's orders: the old "executable" no longer answers.
    assert "MAY TONIGHT'S ORDERS GO? NO" in report
    assert "a session ran after it" in report
    assert "YES: 2 send, 1 cancel" in report
    _run(cli, ["probe"], secret)
    regate = _run(cli, ["gate", "dry-run"], secret)
    assert "gate: executable" in regate
    assert "orders the plan would send" not in regate  # at target: nothing left to send
    report = _run(cli, ["report", "daily"], secret)
    assert "MAY TONIGHT'S ORDERS GO? YES: tonight's orders may go (nothing to trade)" in report
    assert "positions SP500/202406 +2" in report
    records = Path("runs/paper/records")
    kinds = sorted(json.loads(p.read_text())["kind"] for p in records.glob("20*/*.json"))
    assert kinds == [
        "gate",
        "gate",
        "probe",
        "probe",
        "session",
        "shadow",
        "smoke-order",
        "smoke-order",
        "watch",
    ]
    everything = report + "".join(
        p.read_text() for p in Path("runs").rglob("*") if p.suffix in {".json", ".md", ".html"}
    )
    assert "paper-pass-8d1f" not in everything
    assert "DU7654321" not in everything
    # An hour later nobody re-probed: the report's answer turns to NO, with the reason.
    snapshot = records / "state" / "broker-snapshot.json"
    data = json.loads(snapshot.read_text())
    data["positions_at"] = "2024-04-30T00:00:00+00:00"
    snapshot.write_text(json.dumps(data))
    stale = cli(["gate", "dry-run"], env=secret)
    assert stale.code == 1
    assert "gate: blocked: broker state stale" in stale.out
    assert "MAY TONIGHT'S ORDERS GO? NO: blocked: broker state stale" in _run(
        cli, ["report", "daily"], secret
    )
