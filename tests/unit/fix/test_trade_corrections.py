"""Invariant: a FIX trade cancel (ExecType H, a bust) or trade correct (G) is read as a
``TradeCorrection`` naming the execution (ExecRefID 19), never skipped: the OMS journals
it as it came, moves the contract position and ``unattributed`` by the difference from
what that execution had moved, and marks it an anomaly (the engine locks and alerts)."""

from __future__ import annotations

from bastion.domain.ids import UNATTRIBUTED, ContractId, InstrumentId
from bastion.domain.records import Note, TradeCorrected
from bastion.domain.venue_events import FillReport, TradeCorrection
from bastion.oms.manager import ApplyOutcome, OrderManager, Surprise
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.unit.fix.test_adapter_hostile import _apply, _report

ES = InstrumentId("ES")
ES_M = ContractId("ES/202606")


def test_trade_cancel_is_a_bust_naming_the_execution() -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    (event,) = _apply(venue, "8", _report(t150="H", t17="E2", t19="E1"))
    assert isinstance(event, TradeCorrection)
    assert (event.exec_id, event.exec_ref_id, event.bust, event.quantity) == ("E2", "E1", True, 0)
    assert event.client_order_id == "C1-1.1"
    assert venue.anomalies == 0


def test_trade_correct_carries_the_corrected_quantity_and_price() -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    (fill,) = _apply(venue, "8", _report(t32="3"))
    (event,) = _apply(venue, "8", _report(t150="G", t17="E2", t19="E1", t32="2", t31="4000.50"))
    assert isinstance(fill, FillReport)
    assert isinstance(event, TradeCorrection)
    assert (event.bust, event.quantity) == (False, 2)
    assert event.price_ticks == fill.fill.price_ticks + 1


def test_bust_of_a_fill_moves_contract_and_unattributed_and_tells_the_engine() -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    (fill,) = _apply(venue, "8", _report(t11="NOT-OURS", t32="3"))
    surprises: list[Surprise] = []
    oms = OrderManager(on_surprise=surprises.append)
    oms.apply(fill)  # a foreign fill: held as unattributed
    assert oms.book.positions.contract_position(ES_M) == 3
    (bust,) = _apply(venue, "8", _report(t11="NOT-OURS", t150="H", t17="E2", t19="E1"))
    result = oms.apply(bust)
    assert result.outcome is ApplyOutcome.ANOMALY
    assert oms.book.positions.contract_position(ES_M) == 0
    assert oms.book.positions.strategy_position(UNATTRIBUTED, ES) == 0
    assert [s.kind for s in surprises] == ["foreign_fill", "trade_bust"]
    records = oms.ledger.records  # type: ignore[attr-defined]
    assert any(isinstance(r, TradeCorrected) and r.exec_ref_id == "E1" for r in records)
    assert any(isinstance(r, Note) and r.data.get("kind") == "trade_bust" for r in records)
    assert oms.apply(bust).outcome is ApplyOutcome.DUPLICATE_FILL
    assert oms.book.positions.contract_position(ES_M) == 0
