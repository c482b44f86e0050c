"""Invariant: risk-reducing orders (the margin monitor's) reduce the instrument toward
zero, never past it, split over the strategies that hold it, through the ordinary path,
so the strategy and contract tables stay equal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bastion.config import RiskConfig
from bastion.domain.enums import Side
from bastion.domain.ids import StrategyId
from bastion.domain.targets import Target
from bastion.risk.engine import RiskEngine
from bastion.risk.persist import MemoryRiskStore
from bastion.testing.stack import ES, ES_H, ES_SPEC, make_stack_kit
from bastion.venues.sim import SimVenueConfig

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


def test_reduction_counts_an_order_marked_lost_as_still_reducing() -> None:
    """An order marked LOST (not yet confirmed gone) may still fill: a margin reduction
    sized while it is out takes off only what the position holds beyond it."""
    kit = make_stack_kit(
        config=SimVenueConfig(
            initial_cash=Decimal(10**9),
            provisional_ids=False,
            fill_latency=dt.timedelta(hours=1),
        )
    )
    kit.stack.step([Target(strategy_id=A, instrument_id=ES, low=4, high=4)])
    kit.tick(3700)
    kit.stack.step()
    book = kit.stack.oms.book
    assert book.positions.contract_position(ES_H) == 4
    kit.stack.reduce_instrument(ES, 2, "margin")
    kit.stack.step()
    (first,) = [o for o in book.broker_orders.values() if o.side is Side.SELL]
    kit.stack.oms.mark_lost(first.client_order_id, kit.clock.now(), "no record at the venue")
    # What a reduce-only child may still send (the stack's cap on every such order): the
    # lost sell of 2 may still fill, so only 2 of the 4 held are left to take off.
    assert kit.stack._reducible(ES_H, Side.SELL) == 2
    kit.tick(3700)
    kit.stack.step()
    assert book.positions.contract_position(ES_H) >= 0
