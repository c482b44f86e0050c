"""Invariant (R2.1, R4.5, issue 15): nothing runs into expiry or delivery unseen. In a sim
session on the bundled rolls, once a contract is within ``expiry_guard_days`` trading
days of its last trade day (or first notice day), the risk engine refuses anything that
is not reducing in it, a position still held raises an alert in the journal (kind
``alert``), and the daily report lists the positions in that window."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from bastion.backtest.session import prepare_session
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId
from bastion.domain.records import BrokerOrderCreated, Note
from bastion.reports.expiry import expiring_positions
from bastion.reports.sources import journal_records
from bastion.risk.checks import Check
from bastion.risk.port import OrderPath, OrderRequest, RiskDecision
from tests.conftest import REPO, run_cli
from tests.integration.sim_profiles import sim_profile

MARCH = ContractId("SP500/202403")
JUNE = ContractId("SP500/202406")


def test_expiry_window_reduce_only_and_alert_in_sim_session(
    tmp_path: Path, bundled_sample: Path
) -> None:
    # Hold +5 from 1 February; SP500/202403's last trade day is 15 March. A 12-day guard
    # opens with CME's trading day of 28 February (12 trading days left), at the close
    # of the 27th, before the roll (passive from 5 March, forced on 8 March).
    profile = sim_profile(
        tmp_path,
        bundled_sample,
        strategy_line="hold",
        instruments=["SP500"],
        risk={"expiry_guard_days": 12},
    )
    prepared = prepare_session(profile, end=dt.date(2024, 3, 12))
    runner = prepared.runner
    engine = runner.engine
    window_open = dt.datetime(2024, 2, 27, 22, 0, tzinfo=dt.UTC)  # 16:00 Chicago
    checked = False
    for item in prepared.bars:
        runner.on_bar(item)
        if not checked and item.bar.end >= window_open + dt.timedelta(hours=1):
            checked = True
            assert engine.oms.book.positions.contract_position(MARCH) == 5

            def check(side: Side, contract: ContractId) -> RiskDecision:
                order = BrokerOrderCreated(
                    timestamp=engine.clock.now(),
                    client_order_id=ClientOrderId(f"X-{side}-{contract}"),
                    contract_id=contract,
                    side=side,
                    quantity=1,
                    order_type=OrderType.MARKET,
                    venue=engine.gateway.venue_name,
                )
                return engine.risk.check(
                    OrderRequest(order, OrderPath.AUTOMATIC, InstrumentId("SP500"))
                )

            opening = check(Side.BUY, MARCH)
            assert opening.check == Check.EXPIRY
            assert "last trade day 2024-03-15 (guard: 12 trading days)" in opening.message
            assert "reduce-only" in opening.message
            assert check(Side.SELL, MARCH).allowed  # reducing passes
            assert check(Side.BUY, JUNE).allowed  # the next contract opens
    runner.close()
    alerts = [
        r
        for r in journal_records(profile.store.path)
        if isinstance(r, Note) and r.kind == "alert" and "SP500/202403" in r.text
    ]
    assert alerts, "a position held into the window alerts"
    first = alerts[0]
    assert first.timestamp >= window_open
    assert first.timestamp < window_open + dt.timedelta(days=1)
    assert "+5 lots still held in SP500/202403" in first.text
    assert first.data["instrument_id"] == "SP500"
    days = {prepared.runner.engine.days.account_day(a.timestamp) for a in alerts}
    assert len(days) == len(alerts)  # once per trading day
    # The roll moved it: nothing is left in March, the position is in June.
    positions = engine.oms.book.positions
    assert positions.contract_position(MARCH) == 0
    assert positions.contract_position(JUNE) == 5


def test_expiry_window_listed_in_daily_report(tmp_path: Path, bundled_sample: Path) -> None:
    profile = sim_profile(tmp_path, bundled_sample, risk={"expiry_guard_days": 5})
    rows = expiring_positions(
        profile,
        {"SP500/202403": 5, "SP500/202406": -2, "rb/202405": 3},
        dt.datetime(2024, 3, 11, 14, tzinfo=dt.UTC),
    )
    # SP500/202403: 4 trading days to 15 March; rb/202405's first notice day (6 May,
    # the first trading day of its delivery month) is far away; June is too.
    assert rows == [("SP500/202403", "+5", "last trade day", "2024-03-15", "4")]
    late = expiring_positions(profile, {"rb/202405": 3}, dt.datetime(2024, 4, 26, 3, tzinfo=dt.UTC))
    # From Friday 26 April: 29 and 30 April, then 6 May (1-5 May closed, and the make-up
    # Sunday of 28 April is no trading day): 3 trading days to the first notice day.
    assert late == [("rb/202405", "+3", "first notice day", "2024-05-06", "3")]


def test_daily_report_lists_positions_in_window(
    tmp_path: Path, bundled_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copytree(bundled_sample, tmp_path / "bastion-data")
    profile = tmp_path / "examples" / "sim.yaml"
    raw = yaml.safe_load(profile.read_text())
    raw["strategy_line"] = "hold"
    profile.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    assert run_cli(["session", "--profile", "examples/sim.yaml", "--end", "2024-02-20"]).code == 0
    report = run_cli(["report", "daily"])
    assert report.code == 3, report.err  # no signal plan yet: the answer is NO (exit 3)
    assert "Positions near expiry (within 5 trading days)" in report.out
    # On the wall clock the sample's March contract is long past its last trade day.
    line = next(x for x in report.out.splitlines() if "SP500/202403" in x and "+5" in x)
    assert "last trade day" in line
    assert "2024-03-15" in line
    assert "past" in line
