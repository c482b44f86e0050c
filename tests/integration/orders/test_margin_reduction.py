"""Invariant: risk-reducing orders (the margin monitor's) reduce the instrument toward
zero, never past it, split over the strategies that hold it, through the ordinary path,
so the strategy and contract tables stay equal."""

from __future__ import annotations

from decimal import Decimal

from bastion.config import RiskConfig
from bastion.domain.ids import StrategyId
from bastion.domain.targets import Target
from bastion.risk.engine import RiskEngine
from bastion.risk.persist import MemoryRiskStore
from bastion.testing.stack import ES, ES_H, ES_SPEC, make_stack_kit

A, B = StrategyId("a"), StrategyId("b")


def test_margin_monitor_reductions_split_over_holders_and_sent() -> None:
    kit = make_stack_kit()
    kit.stack.step(
        [
            Target(strategy_id=A, instrument_id=ES, low=6, high=6),
            Target(strategy_id=B, instrument_id=ES, low=3, high=3),
        ]
    )
    risk = RiskEngine(
        RiskConfig(max_order_lots=20, max_position_lots=50),
        {ES: ES_SPEC},
        ledger=kit.stack.oms,
        store=MemoryRiskStore(),
        clock=kit.clock,
        market=kit.market,
    )
    risk.set_risk_level("base", "test")
    kit.gateway.risk = risk
    # 9 lots x 5,000 x 50 x 5 % = 112,500 of margin; equity 120,000: 94 % > 90 %.
    check = risk.on_account(Decimal(120_000))
    assert check.reductions
    for reduction in check.reductions:
        kit.stack.reduce_instrument(ES, reduction.quantity, reduction.reason)
    kit.stack.step()
    positions = kit.stack.oms.book.positions
    held = positions.contract_position(ES_H)
    assert 0 < held < 9
    assert positions.strategy_position(A, ES) + positions.strategy_position(B, ES) == held
    assert positions.strategy_position(A, ES) >= positions.strategy_position(B, ES)
    margin = ES_SPEC.margin(20000, held)
    assert margin <= Decimal(120_000) * Decimal("0.7") + ES_SPEC.margin(20000, 1)


def test_reduce_instrument_never_past_flat() -> None:
    kit = make_stack_kit()
    kit.stack.step([Target(strategy_id=A, instrument_id=ES, low=2, high=2)])
    kit.stack.reduce_instrument(ES, 10, "margin")
    kit.stack.step()
    assert kit.stack.oms.book.positions.contract_position(ES_H) == 0
    assert kit.stack.reduce_instrument(ES, 1, "margin") == []
