"""Reconciliation compares three views and reports four kinds of break (R7.1, R7.2).

Invariants: equal views are clean; each kind of difference gives exactly its kind of
break; an unknown broker view is never clean and never read as flat; only the position
and fill kinds lock; the result is sorted and depends only on the views.
"""

from __future__ import annotations

from bastion.domain.enums import Side
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, InstrumentId, StrategyId
from bastion.recon.breaks import BreakKind, FillFact, Views, reconcile

ES = InstrumentId("ES")
C = ContractId("ES/202606")
S = StrategyId("ema")


def _fact(qty: int = 1) -> FillFact:
    return FillFact(C, Side.of(qty), abs(qty), ClientOrderId("C1-1.1"))


def _views(**kw: object) -> Views:
    base: dict[str, object] = {
        "targets": {(S, ES): (2, 2)},
        "strategy_positions": {(S, ES): 2},
        "contract_positions": {C: 2},
        "broker_positions": {C: 2},
        "bastion_fills": {ExecId("E1"): _fact(2)},
        "broker_fills": {ExecId("E1"): _fact(2)},
    }
    base.update(kw)
    return Views(**base)  # type: ignore[arg-type]


def test_reconcile_equal_views_are_clean() -> None:
    report = reconcile(_views())
    assert report.clean
    assert report.breaks == ()


def test_reconcile_target_outside_buffer_reports_target_break_without_lock() -> None:
    report = reconcile(_views(targets={(S, ES): (5, 5)}))
    assert [b.kind for b in report.breaks] == [BreakKind.TARGET_VS_ACTUAL]
    assert report.breaks[0].ours == 2
    assert report.breaks[0].theirs == 5
    assert not report.locked_instruments


def test_reconcile_target_inside_buffer_or_working_is_clean() -> None:
    assert reconcile(_views(targets={(S, ES): (5, 5)}, working={(S, ES): 3})).clean
    assert reconcile(_views(targets={(S, ES): (3, 3)}, target_buffer=1)).clean
    assert reconcile(_views(targets={(S, ES): (1, 4)})).clean


def test_reconcile_strategy_sum_differs_reports_strategy_vs_contract() -> None:
    report = reconcile(_views(strategy_positions={(S, ES): 1}, targets={}))
    assert [b.kind for b in report.breaks] == [BreakKind.STRATEGY_VS_CONTRACT]
    assert report.locked_instruments == {ES}


def test_reconcile_broker_flat_reports_contract_vs_broker_and_locks() -> None:
    report = reconcile(_views(broker_positions={}, broker_fills={ExecId("E1"): _fact(2)}))
    kinds = [b.kind for b in report.breaks]
    assert kinds == [BreakKind.CONTRACT_VS_BROKER]
    assert report.breaks[0].theirs == 0
    assert "flat" in report.breaks[0].detail
    assert report.locked_instruments == {ES}


def test_reconcile_broker_fill_missing_in_bastion_reports_fill_break() -> None:
    broker = {ExecId("E1"): _fact(2), ExecId("M9"): _fact(-1)}
    report = reconcile(_views(broker_fills=broker))
    fills = report.by_kind(BreakKind.FILLS_VS_BROKER)
    assert [b.key for b in fills] == ["M9"]
    assert fills[0].theirs == -1


def test_reconcile_bastion_fill_unknown_to_broker_reports_fill_break() -> None:
    report = reconcile(_views(broker_fills={}))
    assert [b.key for b in report.by_kind(BreakKind.FILLS_VS_BROKER)] == ["E1"]


def test_reconcile_adopted_broker_fill_is_not_a_break() -> None:
    broker = {ExecId("E1"): _fact(2), ExecId("M9"): _fact(-1)}
    report = reconcile(_views(broker_fills=broker, adopted_exec_ids=frozenset({ExecId("M9")})))
    assert not report.by_kind(BreakKind.FILLS_VS_BROKER)


def test_reconcile_unknown_broker_view_is_never_clean() -> None:
    report = reconcile(_views(broker_positions=None, broker_fills=None))
    assert not report.clean
    assert report.unknown == ("broker positions", "broker fills")
    assert report.breaks == ()


def test_reconcile_same_views_give_same_sorted_breaks() -> None:
    views = _views(broker_positions={C: -1}, strategy_positions={}, broker_fills={})
    first, second = reconcile(views), reconcile(views)
    assert first == second
    assert list(first.breaks) == sorted(first.breaks)
    assert len(first.breaks) == 4
