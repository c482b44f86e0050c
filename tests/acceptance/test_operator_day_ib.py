"""Invariant: on the bundled data, the operator's whole day runs from the CLI against
Interactive Brokers (the fake TWS on a free loopback port, reached through ib_async and
IB's wire protocol): probe -> shadow -> dry-run gate -> smoke order (dry run, then
submit-cancel) -> session -> session --watch -> reconcile -> flatten -> kill; each
command connects with its own client id, only the smoke order, the session and flatten
reach the order API, positions end as each step said, at IB too, and reconciliation
stays clean (issue 17, item 5)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.domain.ids import ContractId
from bastion.marketdata.sample import write_sample
from bastion.marketdata.specs import SpecRegistry
from bastion.testing.fake_tws import FakeTws, FakeTwsConfig, fake_contract
from tests.conftest import REPO, CliResult
from tests.tables import facts_of, rows_of

Cli = Callable[..., CliResult]
PHRASE = "I_UNDERSTAND_THIS_SENDS_TEST_ORDERS"
SP500 = ContractId("SP500/202406")


def _fake_tws(accounts: tuple[str, ...] = ("DU1234567",)) -> FakeTws:
    """A fake TWS listing the bundled SP500 spec's June 2024 contract (ES, CME)."""
    spec = SpecRegistry.bundled()["SP500"].contract
    return FakeTws(
        FakeTwsConfig(
            contracts=[fake_contract(SP500, spec, con_id=551601561, last_trade_day="21")],
            accounts=accounts,
            start_prices={SP500: 21684},
            tick_seconds=0.05,
        )
    ).start()


@pytest.fixture
def ib_day(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTws]:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    write_sample(in_tmp / "bastion-data")
    tws = _fake_tws()
    profile = (REPO / "examples" / "ib-paper.yaml").read_text()
    profile = profile.replace("port: 7497 ", f"port: {tws.port} ")
    profile = profile.replace("name: ib-paper\n", "name: ib-paper\nofficial: true\n")
    # The sample's SP500/202406 expired in 2024: the fake TWS trades it on the wall clock.
    profile = profile.replace("risk:\n", "risk:\n  expiry_guard_days: 0\n")
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "ib.yaml").write_text(profile)
    monkeypatch.setenv("BASTION_PROFILES_DIR", str(in_tmp / "profiles"))
    try:
        yield tws
    finally:
        tws.stop()


def _run(cli: Cli, args: list[str], env: dict[str, str] | None = None) -> str:
    result = cli(args, env=env)
    assert result.code == 0, f"{args}: {result.out}{result.err}"
    return result.out


@pytest.mark.slow
def test_operator_day_ib_full_day(cli: Cli, ib_day: FakeTws) -> None:
    tws = ib_day
    probe = _run(cli, ["probe"])
    assert "venue: ib (read-only)" in probe
    assert "position snapshot: confirmed_flat" in probe
    assert "contract snapshot: 1 contract(s): SP500/202406" in probe
    assert "order API calls: send 0, cancel 0" in probe
    shadow = _run(cli, ["shadow", "--date", "2024-04-30"])
    assert rows_of(shadow, "Signals")[0][:5] == ["SP500", "SP500/202406", "+0", "+2", "open"]
    gate = _run(cli, ["gate", "dry-run", "--probe"])
    assert "gate: executable" in gate
    assert "order API calls: send 0, cancel 0" in gate
    smoke_args = ["smoke-order", "--contract", "SP500/202406", "--side", "buy"]
    dry = _run(cli, [*smoke_args, "--mode", "dry-run"])
    assert "send_order_calls: 0; cancel_order_calls: 0" in dry
    smoke = _run(
        cli,
        [
            *smoke_args,
            "--mode",
            "submit-cancel",
            "--confirm-submit",
            PHRASE,
            "--offset-ticks",
            "40",
        ],
        {"BASTION_SMOKE_ORDER_ENABLED": "1"},
    )
    for line in (
        "send_order_calls: 1; cancel_order_calls: 1",
        "final status: canceled",
        "traded volume: 0",
        "residual position: +0",
        "reconciliation after: clean",
    ):
        assert line in smoke, smoke
    session = _run(cli, ["session", "--profile", "profiles/ib.yaml", "--seconds", "30"])
    summary = facts_of(session, "Bastion session against the venue: what happened")
    assert summary["targets met"] == "yes", session
    assert summary["order API calls"] == "send 1, cancel 0"
    assert summary["positions (Bastion)"] == "SP500/202406 +2"
    assert summary["positions (venue)"] == "SP500/202406 +2"
    assert summary["reconciliation"] == "clean"
    watch = _run(
        cli,
        [
            "session",
            "--profile",
            "profiles/ib.yaml",
            "--watch",
            "--cycles",
            "2",
            "--interval",
            "0.1",
        ],
    )
    assert watch.count("reconciliation=clean send=0 cancel=0") == 2, watch
    reconcile = _run(cli, ["reconcile", "--profile", "profiles/ib.yaml"])
    assert "reconciliation: CLEAN" in reconcile
    flatten = _run(
        cli,
        [
            "flatten",
            "--immediate",
            "--reason",
            "end of the IB day",
            "--profile",
            "profiles/ib.yaml",
        ],
    )
    for line in (
        "flatten: round 1: sell 2 SP500/202406",
        "KILL SWITCH: flat confirmed by a fresh venue snapshot",
        "order API calls: send 1, cancel 0",
    ):
        assert line in flatten, flatten
    assert tws.broker.positions() == []  # flat at IB too
    # The kill switch's fills are split over the strategies that held the position, so
    # Bastion's strategy table, its contract table and IB all agree afterwards.
    after = _run(cli, ["reconcile", "--profile", "profiles/ib.yaml"])
    assert "reconciliation: CLEAN" in after, after
    kill = _run(cli, ["kill", "--profile", "profiles/ib.yaml", "--reason", "drill"])
    assert "KILL SWITCH: account HALTED" in kill
    # Each command connected as its own client: the engine 10, probe 11, gate 12,
    # smoke 13, watch 14, reconcile 15, flatten 16.
    assert set(tws.connects) >= {10, 11, 12, 13, 14, 15, 16}
    assert tws.broker.received == dict.fromkeys(tws.broker.received, 1)  # nothing sent twice
    everything = "".join(p.read_text() for p in Path("runs").rglob("*.json"))
    assert "DU1234567" not in everything


def test_operator_day_ib_live_account_on_paper_profile_refused_in_one_line(
    cli: Cli, in_tmp: Path
) -> None:
    tws = _fake_tws(accounts=("U7654321",))
    try:
        profile = (REPO / "examples" / "ib-paper.yaml").read_text()
        Path("ib.yaml").write_text(profile.replace("port: 7497 ", f"port: {tws.port} "))
        result = cli(["probe", "--profile", "ib.yaml"])
    finally:
        tws.stop()
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("bastion: error: IB at 127.0.0.1:")
    assert "IB reports live account U7***321 to a paper profile" in lines[0]
    assert "will not trade through this login" in lines[0]
