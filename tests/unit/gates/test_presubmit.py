"""Invariant: the pre-submit gate re-runs the gate's checks just before every submit and
refuses (never raises) when the broker snapshot is stale, the plan's risk level forbids
an open, the pool is stale, reconciliation is not clean or a close has no matching
broker position; the kill switch's orders always reach the wrapped risk engine (R8.4)."""

from __future__ import annotations

from typing import Any

from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId
from bastion.domain.records import BrokerOrderCreated
from bastion.gates.presubmit import PreSubmitGate
from bastion.recon.breaks import Break, BreakKind, ReconReport
from bastion.risk.port import OrderPath, OrderRequest, PassThroughRisk
from tests.unit.gates.kit import NOW, broker, inputs, plan

CONTRACT = ContractId("SP500/202406")


def _request(
    side: Side = Side.BUY, path: OrderPath = OrderPath.AUTOMATIC, reduces: bool = False
) -> OrderRequest:
    order = BrokerOrderCreated(
        timestamp=NOW,
        client_order_id=ClientOrderId("c1"),
        contract_id=CONTRACT,
        side=side,
        quantity=1,
        order_type=OrderType.LIMIT,
        limit_ticks=20000,
    )
    return OrderRequest(order, path, InstrumentId("SP500"), reduces_position=reduces)


def _gate(**changes: Any) -> tuple[PreSubmitGate, PassThroughRisk]:
    inner = PassThroughRisk()
    return PreSubmitGate(inner, lambda: inputs(**changes)), inner


def test_presubmit_all_fresh_passes_to_inner_gate() -> None:
    gate, inner = _gate()
    assert gate.check(_request()).allowed
    assert len(inner.requests) == 1


def test_presubmit_stale_snapshot_refused_before_inner() -> None:
    gate, inner = _gate(broker=broker(age_seconds=400))
    decision = gate.check(_request())
    assert not decision.allowed
    assert decision.check == "presubmit.broker_snapshot"
    assert "stale" in decision.message
    assert inner.requests == []
    assert gate.denials["presubmit.broker_snapshot"] == 1


def test_presubmit_review_opening_refused_reducing_allowed() -> None:
    gate, _ = _gate(plan=plan(risk_level="review"), broker=broker({"SP500/202406": 2}))
    assert gate.check(_request()).check == "presubmit.risk_level"
    assert gate.check(_request(Side.SELL, reduces=True)).allowed


def test_presubmit_review_reconciling_order_allowed() -> None:
    gate, _ = _gate(plan=plan(risk_level="review"))
    assert gate.check(_request(path=OrderPath.RECONCILE)).allowed


def test_presubmit_stale_pool_opening_refused() -> None:
    gate, _ = _gate(plan=plan(pool={"stale": True, "why": "old"}))
    decision = gate.check(_request())
    assert decision.check == "presubmit.stale_input"
    assert "stale pool: old" in decision.message


def test_presubmit_unclean_reconciliation_refused() -> None:
    brk = Break("SP500", BreakKind.CONTRACT_VS_BROKER, "SP500/202406", 1, 0)
    gate, _ = _gate(recon=ReconReport((brk,), ()))
    assert gate.check(_request()).check == "presubmit.reconciliation"


def test_presubmit_close_without_broker_position_refused() -> None:
    gate, _ = _gate(broker=broker({}))
    decision = gate.check(_request(Side.SELL, reduces=True))
    assert decision.check == "presubmit.close_matches_broker"
    assert "broker +0" in decision.message


def test_presubmit_comparison_plan_refused() -> None:
    gate, _ = _gate(plan=plan(profile="old", role="comparison"))
    assert gate.check(_request()).check == "presubmit.route"


def test_presubmit_kill_path_goes_to_inner_even_when_stale() -> None:
    gate, inner = _gate(broker=None, plan=plan(pool={"stale": True}))
    assert gate.check(_request(Side.SELL, path=OrderPath.KILL, reduces=True)).allowed
    assert len(inner.requests) == 1


def test_presubmit_reads_fresh_inputs_each_order() -> None:
    states = [inputs(), inputs(broker=None)]
    gate = PreSubmitGate(PassThroughRisk(), lambda: states.pop(0))
    assert gate.check(_request()).allowed
    assert not gate.check(_request()).allowed
