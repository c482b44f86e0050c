"""A trade made behind Bastion's back is a break that locks the instrument until a
balance trade (or the R7.5 procedure) clears it (R7.2-R7.5, R4.6).

Invariants: the manual trade shows as a position break and a fill break; the instrument
is locked and the locking gate refuses new orders; a balance trade carrying the broker's
execution id, with an audit note, clears both breaks and the lock; the recovery
procedure cancels, adopts, optionally restores with a correcting order, and unlocks
only after a clean confirmation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import InstrumentId, StrategyId
from bastion.domain.records import Note
from bastion.engine.send import OrderGateway
from bastion.oms.manager import OrderManager
from bastion.recon import (
    BreakKind,
    LockBook,
    LockingGate,
    Reconciler,
    balance_trade,
)
from bastion.recon.procedure import RecoveryProcedure
from bastion.reports.recon_tables import breaks_table, locks_table
from bastion.reports.tables import text_of
from bastion.risk.port import PassThroughRisk
from bastion.store.sqlite import SqliteStore, StoreMode
from bastion.testing.oms_driver import OmsDriver
from bastion.testing.venue_stubs import CONTRACT, make_order, make_sim_venue, quote
from bastion.venues.port import QueryView
from tests.tables import rows_of

ES = InstrumentId("ES")
BID, ASK = 16000, 16001


def _world(tmp_path: Path):  # type: ignore[no-untyped-def]
    venue, clock = make_sim_venue()
    venue.on_quote(quote(BID, ASK, at=clock.now()))
    store = SqliteStore(tmp_path / "journal.db", mode=StoreMode.LIVE, clock=clock)
    oms = OrderManager(store)
    rec = Reconciler(oms, LockBook(store), clock, journal=store)
    driver = OmsDriver(venue, oms, clock)
    driver.send(replace(make_order(Side.BUY, 2), strategy_id=StrategyId("ema")))
    driver.pump()
    return venue, clock, store, oms, rec


def test_manual_trade_break_locks_and_balance_trade_clears(tmp_path: Path) -> None:
    venue, clock, store, oms, rec = _world(tmp_path)
    report, _ = rec.run(venue)
    assert report.clean
    venue.submit(make_order(Side.SELL, 1, client_order_id="HAND-1"))  # by hand, at the broker
    report, changes = rec.run(venue)
    kinds = {b.kind for b in report.breaks}
    assert kinds == {BreakKind.CONTRACT_VS_BROKER, BreakKind.FILLS_VS_BROKER}
    assert [c.instrument_id for c in changes if c.locked] == [ES]
    gate = LockingGate(PassThroughRisk(), rec.locks)
    from bastion.risk.port import OrderPath, OrderRequest
    from bastion.testing.oms_driver import created_record

    request = OrderRequest(
        order=created_record(make_order(Side.BUY, 1)), path=OrderPath.AUTOMATIC, instrument_id=ES
    )
    assert not gate.check(request).allowed
    text = text_of([breaks_table(report.breaks), locks_table(rec.locks.locks())])
    breaks = rows_of(text, "Breaks")
    assert "contract_vs_broker" in {row[0] for row in breaks}
    assert any("HAND-1" in cell for row in breaks for cell in row)
    assert [row[:2] for row in rows_of(text, "Locked instruments")] == [["ES", "reconciliation"]]
    fill = next(f for f in venue.fills if f.client_order_id == "HAND-1")
    balance_trade(
        oms,
        clock.now(),
        CONTRACT,
        -1,
        price_ticks=fill.price_ticks,
        note="operator sold 1 by hand at the broker; ticket 42",
        exec_id=fill.exec_id,
    )
    report, changes = rec.run(venue)
    assert report.clean, [b.line() for b in report.breaks]
    assert [c.locked for c in changes] == [False]
    assert gate.check(request).allowed
    notes = [e.record for e in store.entries() if isinstance(e.record, Note)]
    assert any(n.kind == "balance_trade" and "ticket 42" in n.text for n in notes)
    store.close()


def _wait(venue, clock):  # type: ignore[no-untyped-def]
    def step() -> None:
        clock.advance(dt.timedelta(seconds=1))
        venue.advance()

    return step


def _procedure(rec, venue, clock, oms):  # type: ignore[no-untyped-def]
    """The procedure as the engine wires it: the one send path, events through a pump."""
    driver = OmsDriver(venue, oms, clock)
    return RecoveryProcedure(
        rec,
        QueryView(venue),
        OrderGateway(oms, venue, PassThroughRisk(), clock),
        driver.pump,
        _wait(venue, clock),
    )


def test_recovery_procedure_adopts_then_restores_and_unlocks(tmp_path: Path) -> None:
    venue, clock, store, oms, rec = _world(tmp_path)
    driver = OmsDriver(venue, oms, clock)
    driver.send(
        replace(
            make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 9),
            strategy_id=StrategyId("ema"),
        )
    )
    driver.pump()
    venue.submit(make_order(Side.SELL, 2, client_order_id="HAND-2"))
    report, _ = rec.run(venue)
    assert rec.locks.is_locked(ES)
    assert not report.clean
    procedure = _procedure(rec, venue, clock, oms)
    result = procedure.run({ES}, "manual sell found at the broker", restore=True)
    assert result.steps[0].startswith("1. no working orders")
    # The manual sell already reached the book as a foreign fill (held as unattributed);
    # restoring trades that away with one correcting order.
    assert len(result.corrections) == 1
    assert result.clean, result.steps
    assert not rec.locks.is_locked(ES)
    assert oms.book.positions.contract_position(CONTRACT) == 2
    assert oms.book.positions.strategy == {(StrategyId("ema"), ES): 2}
    assert venue.positions().value[CONTRACT].net == 2  # type: ignore[index]
    store.close()


def test_recovery_procedure_unknown_snapshot_stays_locked(tmp_path: Path) -> None:
    venue, clock, store, oms, rec = _world(tmp_path)
    venue.submit(make_order(Side.SELL, 1, client_order_id="HAND-3"))
    rec.run(venue)
    venue.disconnect()
    result = _procedure(rec, venue, clock, oms).run({ES}, "x")
    assert not result.clean
    assert "unknown" in result.steps[-1]
    assert rec.locks.is_locked(ES)
    store.close()


def test_recovery_procedure_adopt_gives_the_unattributed_position_to_manual(
    tmp_path: Path,
) -> None:
    venue, clock, store, oms, rec = _world(tmp_path)
    venue.submit(make_order(Side.SELL, 1, client_order_id="HAND-4"))
    OmsDriver(venue, oms, clock).pump()  # the fill arrives: a foreign fill, unattributed
    rec.locks.lock(ES, "anomaly", "foreign fill HAND-4")
    result = _procedure(rec, venue, clock, oms).run({ES}, "desk sold 1 by hand; ticket 9")
    assert result.clean, result.steps
    assert not rec.locks.is_locked(ES)
    assert oms.book.positions.strategy == {
        (StrategyId("ema"), ES): 2,
        (StrategyId("manual"), ES): -1,
    }
    assert oms.book.positions.contract_position(CONTRACT) == 1
    store.close()
