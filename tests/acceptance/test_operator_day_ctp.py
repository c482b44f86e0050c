"""Invariant: on a CTP profile the operator's whole day runs from the CLI against the fake
CTP counter (reached through the registry as ``front: fake://day``, answering through
the adapter's real Spi with real structs): probe (every R8.1 item: market login, trading
authentication, trading login, settlement confirmation, account, positions, contracts,
with ages) -> shadow -> dry-run gate -> smoke order (dry-run, then submit-cancel) ->
session (executes the plan) -> reconcile -> flatten -> kill; read-only and dry-run steps
never reach the order API; positions at the counter end as each step says; run records
are in Chinese (``lang: zh``) and hold no secret and no raw account id (issue 18)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.clock import WallClock
from bastion.domain.ids import ContractId
from bastion.gates.smoke_guards import DEFAULT_GUARD, smoke_guard
from bastion.marketdata.sample import write_sample
from bastion.marketdata.specs import SpecRegistry
from bastion.testing.fake_ctp import (
    FakeCtpCounter,
    register_fake_front,
    unregister_fake_front,
)
from tests.conftest import REPO, CliResult
from tests.ctp_binding import require_ctp_binding
from tests.tables import facts_of, rows_of

require_ctp_binding()  # before any test imports the binding (it may abort)

Cli = Callable[..., CliResult]
GUARD = smoke_guard("ctp")  # CTP operators' own flag and phrase
CONTRACT = ContractId("rb/202410")
SECRETS = {
    "BASTION_SIMNOW_CTP_USER": "038811",
    "BASTION_SIMNOW_CTP_PASSWORD": "simnow-pass-7c2e",
    "BASTION_SIMNOW_CTP_AUTH_CODE": "0000000000000000",
}
PROFILE = """\
name: ctp-day
environment: paper
official: true
strategy_line: ema_trend
capital: 1000000
currency: CNY
account: SIMNOW-038811
instruments: [rb]
store:
  path: runs/paper/journal.db
venue:
  kind: ctp
  ctp_environment: simnow
  front: fake://day
  md_front: fake://day
  broker_id: "9999"
  app_id: simnow_client_test
  user_env: BASTION_SIMNOW_CTP_USER
  password_env: BASTION_SIMNOW_CTP_PASSWORD
  auth_code_env: BASTION_SIMNOW_CTP_AUTH_CODE
  contracts: [rb/202410]
risk:
  max_order_lots: 10
  max_position_lots: 20
  price_tolerance_ticks: 200
  expiry_guard_days: 0   # the sample's rb/202410 expired in 2024; the fake counter trades it
records_dir: runs/paper/records
pool: examples/pools
lang: zh
"""


@pytest.fixture
def ctp_day(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCtpCounter]:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    write_sample(in_tmp / "bastion-data")
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "ctp.yaml").write_text(PROFILE)
    monkeypatch.setenv("BASTION_PROFILES_DIR", str(in_tmp / "profiles"))
    counter = FakeCtpCounter(
        {CONTRACT: SpecRegistry.bundled()["rb"]},
        WallClock(),
        user_id=SECRETS["BASTION_SIMNOW_CTP_USER"],
        password=SECRETS["BASTION_SIMNOW_CTP_PASSWORD"],
        app_id="simnow_client_test",
        auth_code=SECRETS["BASTION_SIMNOW_CTP_AUTH_CODE"],
    )
    register_fake_front("day", counter)
    try:
        yield counter
    finally:
        unregister_fake_front("day")


def _run(cli: Cli, args: list[str], env: dict[str, str] | None = None) -> str:
    result = cli(args, env={**SECRETS, **(env or {})})
    assert result.code == 0, f"{args}: {result.out}{result.err}"
    return result.out


def test_operator_day_ctp_fake_counter_full_day(cli: Cli, ctp_day: FakeCtpCounter) -> None:
    counter = ctp_day
    counter.set_quote(CONTRACT, 3958, 3959, bid_size=50, ask_size=50)
    probe = _run(cli, ["probe"])
    for line in (
        "connected: yes; logged in: yes",
        "settlement: confirmed",
        "market_login: ok",
        "trading_authentication: ok",
        "trading_login: ok",
        "settlement_confirmation: ok",
        "contracts: ok",
        "rb2410 SHFE tick 1 x10 (match the specs)",
        "account snapshot: equity 1,000,000.00 CNY",
        "position snapshot: confirmed_flat (none)",
        "contract snapshot: 1 contract(s): rb/202410",
        "order API calls: send 0, cancel 0",
    ):
        assert line in probe, probe
    assert probe.count(" s ago") >= 5  # every login step has its age
    shadow = _run(cli, ["shadow", "--date", "2024-04-30"])
    assert [r[1:5] for r in rows_of(shadow, "Signals")] == [["rb/202410", "+0", "+4", "open"]]
    gate = _run(cli, ["gate", "dry-run"])
    assert "gate: executable" in gate
    assert "buy 4 rb/202410" in gate
    assert "order API calls: send 0, cancel 0" in gate
    smoke_args = ["smoke-order", "--contract", "rb/202410", "--side", "buy", "--offset-ticks", "20"]
    dry = _run(cli, [*smoke_args, "--mode", "dry-run"])
    assert "send_order_calls: 0; cancel_order_calls: 0" in dry
    assert "final status: not sent (dry run)" in dry
    # On a CTP profile the smoke gate asks for CTP operators' own pair, and Bastion's
    # default pair is refused in one line.
    refused = cli(
        [*smoke_args, "--mode", "submit-cancel", "--confirm-submit", DEFAULT_GUARD.phrase],
        env={DEFAULT_GUARD.flag: "1"},
    )
    assert refused.code == 2
    assert "CTP_SMOKE_ORDER_ENABLED=1" in refused.err
    smoke = _run(
        cli,
        [*smoke_args, "--mode", "submit-cancel", "--confirm-submit", GUARD.phrase],
        {GUARD.flag: "1"},
    )
    for line in (
        "send_order_calls: 1; cancel_order_calls: 1",
        "venue order id: SHFE:           1",  # OrderSysID byte for byte, padding kept
        "final status: canceled",
        "traded volume: 0",
        "residual position: +0",
        "reconciliation after: clean",
    ):
        assert line in smoke, smoke
    assert counter.requests["insert_order"] == 1
    assert counter.requests["order_action"] == 1
    session = _run(cli, ["session", "--profile", "profiles/ctp.yaml", "--seconds", "20"])
    summary = facts_of(session, "Bastion session against the venue: what happened")
    assert summary["targets met"] == "yes", session
    assert summary["order API calls"] == "send 1, cancel 0"
    assert summary["positions (Bastion)"] == "rb/202410 +4"
    assert summary["positions (venue)"] == "rb/202410 +4"
    assert summary["reconciliation"] == "clean"
    assert counter.books[CONTRACT]["long_today"] == 4
    reconcile = _run(cli, ["reconcile", "--profile", "profiles/ctp.yaml"])
    assert "venue fake://day: connected" in reconcile
    assert "reconciliation: CLEAN" in reconcile
    flatten = _run(cli, ["flatten", "--immediate", "--reason", "end of the rehearsal"])
    assert "fresh venue snapshot shows no position" in flatten
    assert "sell 4 rb/202410" in flatten
    # Closing today's SHFE position takes CloseToday: the counter would refuse Close.
    assert [o.offset for o in counter.orders.values()][-1] == "3"
    assert counter.books[CONTRACT] == {
        "long_today": 0,
        "long_yesterday": 0,
        "short_today": 0,
        "short_yesterday": 0,
    }
    kill = _run(cli, ["kill", "--profile", "profiles/ctp.yaml", "--reason", "rehearsal"])
    assert "KILL SWITCH: account HALTED and kill requested" in kill
    again = _run(cli, ["probe"])
    assert "position snapshot: confirmed_flat" in again
    assert "order API calls: send 0, cancel 0" in again
    records = Path("runs/paper/records")
    kinds = sorted(json.loads(p.read_text())["kind"] for p in records.glob("20*/*.json"))
    assert kinds == [
        "flatten",
        "gate",
        "probe",
        "probe",
        "session",
        "shadow",
        "smoke-order",
        "smoke-order",
    ]
    for path in records.glob("20*/*.md"):
        assert "# Bastion 运行记录：" in path.read_text(encoding="utf-8"), path
    probe_record = next(records.glob("20*/probe-*.md")).read_text(encoding="utf-8")
    assert "登录步骤：行情登录 成功，交易认证 成功，交易登录 成功，结算单确认 成功" in probe_record
    everything = "".join(
        p.read_text(encoding="utf-8")
        for p in Path("runs").rglob("*")
        if p.suffix in {".json", ".jsonl", ".md"}
    )
    assert SECRETS["BASTION_SIMNOW_CTP_PASSWORD"] not in everything
    assert SECRETS["BASTION_SIMNOW_CTP_USER"] not in everything
    assert "SIMNOW-038811" not in everything
