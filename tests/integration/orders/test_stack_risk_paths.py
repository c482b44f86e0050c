"""Invariant: with the real risk engine behind the stack, no order path reaches the venue
around it: when the account is HALTED, automatic, manual and roll orders are all denied
and the venue's send counter stays at 0; once resumed, they go."""

from __future__ import annotations

from decimal import Decimal

from bastion.config import RiskConfig
from bastion.domain.ids import StrategyId
from bastion.domain.targets import Target
from bastion.orders.rolls import RollStatus
from bastion.risk.engine import RiskEngine
from bastion.risk.persist import MemoryRiskStore
from bastion.risk.states import Scope, StateEvent
from bastion.testing.stack import ES, ES_H, ES_M, ES_SPEC, StackKit, make_stack_kit

TREND = StrategyId("trend")


def _kit() -> tuple[StackKit, RiskEngine]:
    kit = make_stack_kit()
    engine = RiskEngine(
        RiskConfig(max_order_lots=10, max_position_lots=20),
        {ES: ES_SPEC},
        ledger=kit.stack.oms,
        store=MemoryRiskStore(),
        clock=kit.clock,
        market=kit.market,
    )
    engine.set_risk_level("base", "test")
    engine.on_account(Decimal(10_000_000), Decimal(0))
    kit.gateway.risk = engine
    return kit, engine


def _target(lots: int) -> Target:
    return Target(strategy_id=TREND, instrument_id=ES, low=lots, high=lots)


def test_stack_halted_account_denies_every_path() -> None:
    kit, engine = _kit()
    kit.stack.step([_target(2)])  # allowed while ACTIVE: a position to roll later
    sent = kit.venue.counters.send_order_calls
    assert sent == 1
    engine.operator(Scope.account(), StateEvent.OPERATOR_HALT, "test halt")
    kit.stack.step([_target(5)])  # automatic
    kit.stack.manual_order(TREND, ES, 1, "operator adds")  # manual
    kit.stack.step()
    assert kit.venue.counters.send_order_calls == sent
    denied = [p for p in kit.stack.problems if "denied by risk (trading_state)" in p]
    assert len(denied) == 2, kit.stack.problems  # one each: a refused intent is held back
    assert "buy 3" in denied[0]
    assert "buy 1" in denied[1]
    assert kit.stack.oms.book.positions.contract_position(ES_H) == 2


def test_stack_halted_account_denies_a_roll() -> None:
    kit, engine = _kit()
    kit.stack.step([_target(2)])
    engine.operator(Scope.account(), StateEvent.OPERATOR_HALT, "test halt")
    kit.schedule.next_contracts[ES] = ES_M
    kit.schedule.statuses[ES] = RollStatus.FORCE_LEG  # roll
    kit.stack.step()
    assert kit.venue.counters.send_order_calls == 1
    denied = [p for p in kit.stack.problems if "denied by risk (trading_state)" in p]
    assert denied, kit.stack.problems
    assert all(p.startswith("R") for p in denied), kit.stack.problems
    assert kit.stack.oms.book.positions.contract_position(ES_H) == 2


def test_stack_resumed_account_orders_go_again() -> None:
    kit, engine = _kit()
    engine.operator(Scope.account(), StateEvent.OPERATOR_HALT, "test halt")
    kit.stack.step([_target(3)])
    assert kit.venue.counters.send_order_calls == 0
    engine.operator(Scope.account(), StateEvent.OPERATOR_RESUME, "checked, resuming")
    kit.stack.end_of_day()  # the denied family is closed; the target is offered again
    kit.stack.step([_target(3)])
    assert kit.stack.oms.book.positions.strategy_position(TREND, ES) == 3
