"""Invariant: a trade bust or correction is a surprise that halts its instrument, never
the engine. The fact is journaled as it came (``fill.corrected``), the contract position
moves by what the venue now says (the broker is the truth for what is held) and the
reserved ``unattributed`` strategy by the same, so the strategy table still sums to the
contract table; an anomaly note marks it, the instrument locks and an alert is written,
and the other instrument trades on. A restart on that journal comes up with the same
positions and the lock. Run with the kernel's engine, the sim venue and a simulated
clock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from bastion.clock import SimClock
from bastion.domain.ids import UNATTRIBUTED, ContractId, InstrumentId, StrategyId
from bastion.domain.records import FillRecorded, Note, TradeCorrected
from bastion.domain.venue_events import TradeCorrection
from bastion.engine.engine import Engine
from bastion.engine.kernel import EngineConfig, build_engine
from bastion.marketdata.specs import SpecRegistry
from bastion.oms.manager import ApplyOutcome
from bastion.ops.paper import targets_for
from bastion.orders.rolls import FixedSchedule
from bastion.recon.locks import LockSource
from bastion.store import StoreMode
from bastion.testing.venue_stubs import quote
from bastion.venues.sim import SimVenue, SimVenueConfig
from tests.integration.engine.test_duties import BACKTEST_RISK, MONDAY

SP500, GOLD = InstrumentId("SP500"), InstrumentId("GOLD")
SP_H, GC_J = ContractId("SP500/202406"), ContractId("GOLD/202406")
SPECS = SpecRegistry.bundled()
S = StrategyId("s")


def _config(tmp_path: Path) -> EngineConfig:
    return EngineConfig(
        risk=BACKTEST_RISK,
        specs={SP500: SPECS[SP500].contract, GOLD: SPECS[GOLD].contract},
        schedule=FixedSchedule(contracts={SP500: SP_H, GOLD: GC_J}),
        store_path=tmp_path / "journal.db",
        durability=StoreMode.LIVE,
        risk_level=("base", "test"),
        account_every=dt.timedelta(0),
    )


def _world(tmp_path: Path) -> tuple[Engine, SimVenue, SimClock]:
    clock = SimClock(MONDAY)
    sim = SimVenue(
        {SP_H: SPECS[SP500].contract, GC_J: SPECS[GOLD].contract},
        clock,
        SimVenueConfig(initial_cash=Decimal(10**9)),
    )
    sim.connect()
    sim.on_quote(quote(20000, 20001, at=MONDAY, contract_id=SP_H))
    sim.on_quote(quote(20000, 20001, at=MONDAY, contract_id=GC_J))
    return build_engine(_config(tmp_path), sim, clock), sim, clock


def _passes(engine: Engine, clock: SimClock, n: int, targets: dict[str, int]) -> None:
    for _ in range(n):
        clock.advance(dt.timedelta(seconds=1))
        engine.iterate(targets_for(str(S), targets, clock.now()))


def _correct_first_fill(engine: Engine, sim: SimVenue, clock: SimClock, quantity: int) -> str:
    _passes(engine, clock, 4, {"SP500": 2, "GOLD": 1})
    assert engine.oms.book.positions.contract_position(SP_H) == 2
    sp_fill = next(f for f in sim.fills if f.contract_id == SP_H)
    sim.correct_trade(sp_fill.exec_id, quantity)
    return sp_fill.exec_id


def test_trade_bust_reverses_position_to_unattributed_locks_and_others_trade_on(
    tmp_path: Path,
) -> None:
    engine, sim, clock = _world(tmp_path)
    busted = _correct_first_fill(engine, sim, clock, 0)
    _passes(engine, clock, 4, {"SP500": 2, "GOLD": 3})  # GOLD moves on; SP500 is locked
    positions = engine.oms.book.positions
    held = sim.positions().value or {}
    assert positions.contract_position(SP_H) == 0
    assert SP_H not in held or held[SP_H].net == 0  # as the venue now holds
    assert positions.strategy_position(S, SP500) == 2  # what the strategy's orders filled
    assert positions.strategy_position(UNATTRIBUTED, SP500) == -2  # the bust, visible
    assert positions.instrument_position(SP500) == 0  # the tables still sum
    assert positions.contract_position(GC_J) == 3  # the other instrument traded on
    assert LockSource.ANOMALY in engine.locks.locks().get(SP500, {})
    assert not engine.locks.is_locked(GOLD)
    records = [e.record for e in engine.store.entries()]
    corrected = [r for r in records if isinstance(r, TradeCorrected)]
    assert [(c.exec_ref_id, c.bust) for c in corrected] == [(busted, True)]
    notes = [r for r in records if isinstance(r, Note)]
    assert any(n.kind == "anomaly" and n.data.get("kind") == "trade_bust" for n in notes)
    assert any(n.kind == "alert" and "SP500 locked" in n.text for n in notes)
    # Nothing was sent again for SP500 after the bust: the lock holds its orders.
    sp_fills = [r for r in records if isinstance(r, FillRecorded) and r.fill.contract_id == SP_H]
    assert sum(r.fill.quantity for r in sp_fills) == 2
    engine.close()

    # A restart on that journal comes up with the same tables and the lock.
    again = build_engine(_config(tmp_path), sim, clock)
    positions = again.oms.book.positions
    assert positions.strategy_position(UNATTRIBUTED, SP500) == -2
    assert positions.contract_position(SP_H) == 0
    assert again.locks.is_locked(SP500)
    again.close()


def test_trade_correction_moves_position_by_the_difference_and_repeat_is_duplicate(
    tmp_path: Path,
) -> None:
    engine, sim, clock = _world(tmp_path)
    _passes(engine, clock, 4, {"SP500": 2, "GOLD": 1})
    sp_fill = next(f for f in sim.fills if f.contract_id == SP_H)
    assert sp_fill.quantity == 2
    event = sim.correct_trade(sp_fill.exec_id, 1)
    _passes(engine, clock, 2, {"SP500": 2, "GOLD": 1})
    positions = engine.oms.book.positions
    assert positions.contract_position(SP_H) == 1
    assert positions.strategy_position(UNATTRIBUTED, SP500) == -1
    assert engine.locks.is_locked(SP500)
    again = engine.oms.apply(event)  # the venue repeats it: nothing moves twice
    assert again.outcome is ApplyOutcome.DUPLICATE_FILL
    assert engine.oms.book.positions.contract_position(SP_H) == 1
    engine.close()


def test_correction_of_an_execution_never_applied_moves_nothing_and_reconciles(
    tmp_path: Path,
) -> None:
    engine, _sim, clock = _world(tmp_path)
    _passes(engine, clock, 2, {"SP500": 0, "GOLD": 0})
    applied = engine.oms.apply(
        TradeCorrection(
            exec_id="X-1",  # type: ignore[arg-type]
            exec_ref_id="X-0",  # type: ignore[arg-type]
            bust=True,
            quantity=0,
            timestamp=clock.now(),
        )
    )
    assert applied.outcome is ApplyOutcome.ANOMALY
    assert engine.reconciler.due()  # reconciled at the next pass, not at the cadence
    assert engine.oms.book.positions.contract_position(SP_H) == 0
    engine.close()
