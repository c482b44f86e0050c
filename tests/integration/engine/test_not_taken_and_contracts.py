"""Invariants of the one send path and of contract choice:

- an order the venue did not take is never marked submitted: the kill switch's and the
  smoke order's orders go through the send path, which applies the refusal as a reject
  with its reason (the first wave's kill switch and smoke order marked such orders
  submitted);
- a session trades the contract its plan names, not the first one listed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import yaml

from bastion.backtest.build import BACKTEST_RISK
from bastion.clock import SimClock, WallClock
from bastion.config import parse_profile
from bastion.domain.enums import Side
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.order_state import OrderState
from bastion.domain.records import BrokerOrderCreated, BrokerOrderSubmitted
from bastion.engine.kernel import EngineConfig, build_engine
from bastion.gates.smoke import run_smoke
from bastion.marketdata.specs import SpecRegistry
from bastion.ops.paper import VenueSession, choose_contracts, targets_for
from bastion.orders.rolls import FixedSchedule
from bastion.store import StoreMode
from bastion.testing.stack import ES, ES_H, ES_SPEC
from bastion.testing.venue_stubs import quote
from bastion.venues.modes import ReadOnlyVenue
from bastion.venues.sim import SimVenue, SimVenueConfig
from tests.conftest import REPO

START = dt.datetime(2024, 3, 1, 14, tzinfo=dt.UTC)


def _engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    clock = SimClock(START)
    sim = SimVenue({ES_H: ES_SPEC}, clock, SimVenueConfig(initial_cash=Decimal(10**9)))
    sim.connect()
    sim.on_quote(quote(20000, 20001, at=START, contract_id=ES_H))
    config = EngineConfig(
        risk=BACKTEST_RISK,
        specs={ES: ES_SPEC},
        schedule=FixedSchedule(contracts={ES: ES_H}),
        store_path=tmp_path / "sim" / "journal.db",
        durability=StoreMode.LIVE,
        risk_level=("base", "test"),
    )
    engine = build_engine(config, sim, clock)
    return engine, sim, clock


def _submitted(engine, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    created = {
        e.record.client_order_id
        for e in engine.store.entries()
        if isinstance(e.record, BrokerOrderCreated) and e.record.client_order_id.startswith(prefix)
    }
    return [
        e.record.client_order_id
        for e in engine.store.entries()
        if isinstance(e.record, BrokerOrderSubmitted) and e.record.client_order_id in created
    ]


def test_kill_switch_order_not_taken_is_rejected_never_submitted(tmp_path: Path) -> None:
    engine, sim, clock = _engine(tmp_path)
    engine.iterate([])
    engine.stack.step(targets_for("s", {"ES": 2}, START))  # a position to flatten
    for _ in range(5):
        clock.advance(dt.timedelta(seconds=1))
        engine.iterate(trade=False)
    assert engine.oms.book.positions.contract_position(ES_H) == 2
    # From now on the venue refuses every order call (a read-only wrapper in the door).
    engine.gateway._venue = ReadOnlyVenue(sim, clock)
    engine.risk.request_kill("test: venue refuses", "test")
    for _ in range(40):
        clock.advance(dt.timedelta(seconds=1))
        engine.iterate(trade=False)
        if engine.kill_reports:
            break
    report = engine.kill_reports[-1]
    assert not report.flat_confirmed
    kill_orders = [
        o
        for cid, o in engine.oms.book.history.items()
        if cid.startswith("KILL") and hasattr(o, "state")
    ]
    assert kill_orders, "the kill switch sent no order"
    assert all(o.state is OrderState.REJECTED for o in kill_orders)  # type: ignore[union-attr]
    assert all("read_only" in (o.reject_reason or "") for o in kill_orders)  # type: ignore[union-attr]
    assert _submitted(engine, "KILL") == []
    engine.close()


def test_smoke_order_not_taken_is_rejected_never_submitted(tmp_path: Path) -> None:
    engine, sim, clock = _engine(tmp_path)
    engine.gateway._venue = ReadOnlyVenue(sim, clock)
    report = run_smoke(engine, ContractId("ES/202403"), Side.BUY, "submit-cancel", 5, 1.0)
    assert not report.sent
    assert report.final_status == "rejected"
    assert _submitted(engine, "SMOKE") == []
    assert sim.counters.send_order_calls == 0
    engine.close()


def test_choose_contracts_plan_names_the_contract_not_the_first_listed() -> None:
    spec = SpecRegistry.bundled()["SP500"].contract
    listed = {ContractId("SP500/202406"): spec, ContractId("SP500/202409"): spec}
    chosen, problems = choose_contracts(
        listed, ["SP500"], {InstrumentId("SP500"): ContractId("SP500/202409")}
    )
    assert chosen == {"SP500": "SP500/202409"}
    assert problems == []
    ambiguous, why = choose_contracts(listed, ["SP500"], {})
    assert ambiguous == {}
    assert "2 contracts listed and no plan names one" in why[0]


def test_venue_session_trades_the_plans_contract(tmp_path: Path) -> None:
    spec = SpecRegistry.bundled()["SP500"].contract
    june, september = ContractId("SP500/202406"), ContractId("SP500/202409")
    clock = WallClock()
    sim = SimVenue(
        {june: spec, september: spec}, clock, SimVenueConfig(initial_cash=Decimal(10**9))
    )
    sim.connect()
    now = clock.now()
    for cid in (june, september):
        sim.on_quote(quote(21600, 21601, at=now, contract_id=cid))
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["store"] = {"path": str(tmp_path / "paper" / "journal.db")}
    raw["records_dir"] = str(tmp_path / "paper" / "records")
    raw["venue"]["contracts"] = [june, september]
    raw.pop("pool", None)
    profile = parse_profile(raw, "test")
    session = VenueSession(
        profile,
        sim,
        {june: spec, september: spec},
        clock=clock,
        risk_level="base",
        risk_level_source="test",
        named_contracts={InstrumentId("SP500"): september},
        poll_seconds=0.01,
    )
    result = session.run(targets_for("plan", {"SP500": 1}, now), seconds=10)
    assert result.positions == {september: 1}, (result.problems, result.breaks)


def test_smoke_order_the_venue_rejects_says_so_and_is_not_done(tmp_path: Path) -> None:
    """A smoke order the venue rejected is not "the path to the venue works": the report
    carries the venue's reason and the next step says to fix it (found on the fake CTP
    counter, whose account had no rate for CNY)."""
    from bastion.cli.smoke import _show
    from bastion.domain.reasons import Reason

    engine, sim, _clock = _engine(tmp_path)
    sim.faults.reject_next(Reason.INVALID_ORDER, "order field error")
    report = run_smoke(engine, ContractId("ES/202403"), Side.BUY, "submit-cancel", 5, 1.0)
    engine.close()
    assert report.final_status == "rejected"
    assert "order field error" in report.rejected
    lines: list[str] = []

    class Echo:
        def echo(self, text: str) -> None:
            lines.append(text)

    next_step = _show(Echo(), report)  # type: ignore[arg-type]
    assert "did not take the order" in next_step
    assert any("REJECTED by the venue: " in line for line in lines)
