"""Invariants of the order stack over the sim venue: every order on every path passes the
risk gate and is written ahead before the venue sees it; a denied order reaches neither
the journal's order table nor the venue; fills propagate broker -> contract ->
instrument; opposite strategy trades cross internally and the venue sees one side;
rolls leave the instrument position unchanged; end of day leaves an empty stack."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bastion.domain.ids import StrategyId
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.records import BrokerOrderCreated, Note
from bastion.domain.targets import Target
from bastion.errors import UserError
from bastion.oms import MemoryLedger
from bastion.orders.rolls import RollStatus
from bastion.risk.port import OrderPath, OrderRequest, PassThroughRisk, RiskDecision
from bastion.testing.stack import ES, ES_H, ES_M, make_stack_kit
from bastion.venues.sim import SimVenueConfig

TREND, CARRY = StrategyId("trend"), StrategyId("carry")


def _target(strategy: StrategyId, lots: int, low: int | None = None) -> Target:
    return Target(
        strategy_id=strategy,
        instrument_id=ES,
        low=lots if low is None else low,
        high=lots,
        reference_ticks=20000,
    )


class DenyAll:
    def __init__(self) -> None:
        self.requests: list[OrderRequest] = []

    def check(self, request: OrderRequest) -> RiskDecision:
        self.requests.append(request)
        return RiskDecision.deny(Reason.RISK_LIMIT, "max_order_lots", "order of 3 lots above 2")


def test_stack_target_fills_propagate_to_both_position_tables() -> None:
    kit = make_stack_kit()
    kit.stack.step([_target(TREND, 3)])
    book = kit.stack.oms.book
    assert book.positions.strategy_position(TREND, ES) == 3
    assert book.positions.contract_position(ES_H) == 3
    assert not book.instrument_orders
    assert not book.contract_orders
    assert not book.broker_orders
    broker = [o for o in book.history.values() if isinstance(o, BrokerOrder)]
    assert len(broker) == 1
    costs = broker[0].costs
    assert costs.reference_ticks == 20000
    assert costs.mid_ticks == 20000
    assert costs.side_ticks == 20000
    assert costs.offside_ticks == 20001
    assert costs.generated_time
    assert costs.submitted_time
    assert costs.filled_time


def test_stack_every_path_passes_risk_gate_and_write_ahead() -> None:
    ledger = MemoryLedger()
    gate = PassThroughRisk()
    kit = make_stack_kit(risk=gate, ledger=ledger)
    kit.stack.step([_target(TREND, 2)])  # automatic
    kit.stack.manual_order(TREND, ES, -1, "operator trims")  # manual
    kit.stack.step()
    kit.schedule.next_contracts[ES] = ES_M
    kit.schedule.statuses[ES] = RollStatus.FORCE_LEG  # roll orders
    kit.stack.step()
    paths = [r.path for r in gate.requests]
    assert OrderPath.AUTOMATIC in paths
    assert OrderPath.ROLL in paths
    assert len(gate.requests) == kit.venue.counters.send_order_calls
    written = [r for r in ledger.records if isinstance(r, BrokerOrderCreated)]
    assert {r.client_order_id for r in written} == {r.order.client_order_id for r in gate.requests}


def test_stack_risk_denial_sends_nothing_and_records_why() -> None:
    ledger = MemoryLedger()
    kit = make_stack_kit(risk=DenyAll(), ledger=ledger)
    kit.stack.step([_target(TREND, 3)])
    assert kit.venue.counters.send_order_calls == 0
    assert not [r for r in ledger.records if isinstance(r, BrokerOrderCreated)]
    notes = [r for r in ledger.records if isinstance(r, Note) and r.kind == "risk.denied"]
    assert notes
    assert "above 2" in notes[0].text
    assert any("denied by risk (max_order_lots)" in p for p in kit.stack.problems)


def test_stack_opposite_strategies_cross_internally_venue_sees_one_side() -> None:
    kit = make_stack_kit()
    kit.stack.step([_target(TREND, 5), _target(CARRY, -3)])
    book = kit.stack.oms.book
    assert book.positions.strategy_position(TREND, ES) == 5
    assert book.positions.strategy_position(CARRY, ES) == -3
    assert book.positions.contract_position(ES_H) == 2
    sent = [o for o in book.history.values() if isinstance(o, BrokerOrder)]
    assert {o.side for o in sent} == {sent[0].side}
    assert sum(o.filled for o in sent) == 2


def test_stack_buffered_target_inside_range_trades_nothing() -> None:
    kit = make_stack_kit()
    kit.stack.step([_target(TREND, 4)])
    kit.stack.step([_target(TREND, 6, low=2)])
    assert kit.venue.counters.send_order_calls == 1


def test_stack_reversed_target_cancels_working_order_before_new_side() -> None:
    kit = make_stack_kit(
        config=SimVenueConfig(initial_cash=Decimal(10**9), ack_latency=dt.timedelta(seconds=5))
    )
    kit.stack.step([_target(TREND, 3)])
    assert kit.stack.oms.book.broker_orders  # not yet acknowledged
    kit.stack.step([_target(TREND, -3)])
    assert kit.venue.counters.cancel_order_calls == 1
    sides = {o.side for o in kit.stack.oms.book.broker_orders.values()}
    assert len(sides) == 1


def test_stack_passive_then_force_roll_keeps_instrument_position() -> None:
    kit = make_stack_kit()
    stack, book = kit.stack, kit.stack.oms.book
    stack.step([_target(TREND, 3)])
    kit.schedule.next_contracts[ES] = ES_M
    kit.schedule.statuses[ES] = RollStatus.PASSIVE
    stack.step([_target(TREND, 1)])  # reducing: closes in the old contract
    assert book.positions.contract_position(ES_H) == 1
    stack.step([_target(TREND, 4)])  # increasing: opens in the new contract
    assert book.positions.contract_position(ES_M) == 3
    kit.schedule.statuses[ES] = RollStatus.FORCE  # one calendar spread moves the rest
    stack.step()
    assert book.positions.contract_position(ES_H) == 0
    assert book.positions.contract_position(ES_M) == 4
    assert book.positions.strategy_position(TREND, ES) == 4
    assert not book.contract_orders


@pytest.mark.parametrize("status", [RollStatus.FORCE, RollStatus.FORCE_LEG])
def test_stack_force_roll_moves_position_strategy_unchanged(status: RollStatus) -> None:
    kit = make_stack_kit()
    kit.stack.step([_target(TREND, -5)])
    kit.schedule.next_contracts[ES] = ES_M
    kit.schedule.statuses[ES] = status
    kit.stack.step()
    positions = kit.stack.oms.book.positions
    assert positions.contract_position(ES_H) == 0
    assert positions.contract_position(ES_M) == -5
    assert positions.strategy_position(TREND, ES) == -5


def test_stack_roll_close_status_opens_nothing() -> None:
    kit = make_stack_kit()
    kit.stack.step([_target(TREND, 2)])
    kit.schedule.next_contracts[ES] = ES_M
    kit.schedule.statuses[ES] = RollStatus.CLOSE
    kit.stack.step([_target(TREND, 5)])
    assert kit.stack.oms.book.positions.contract_position(ES_H) == 2
    assert any("not opened" in p for p in kit.stack.problems)


def test_stack_end_of_day_cancels_resting_orders_and_empties_stack() -> None:
    kit = make_stack_kit()
    kit.stack.default_algo = "best"  # a passive limit that rests
    kit.stack.step([_target(TREND, 2)])
    book = kit.stack.oms.book
    assert book.broker_orders
    assert kit.stack.end_of_day()
    assert not (book.instrument_orders)
    assert not (book.contract_orders)
    assert not (book.broker_orders)
    assert kit.venue.counters.cancel_order_calls == 1


def test_stack_best_execution_turns_aggressive_after_patience() -> None:
    kit = make_stack_kit()
    kit.stack.default_algo = "best"
    kit.stack.step([_target(TREND, 2)])
    kit.tick(6 * 60)
    kit.stack.step()  # cancels the passive child
    kit.stack.step()  # sends the aggressive one, which fills
    assert kit.stack.oms.book.positions.strategy_position(TREND, ES) == 2


def test_stack_balance_trade_moves_positions_with_audit_note() -> None:
    ledger = MemoryLedger()
    kit = make_stack_kit(ledger=ledger)
    kit.stack.balance_trade(ES_H, -2, 20010, "manual close at broker desk", strategy_id=TREND)
    positions = kit.stack.oms.book.positions
    assert positions.contract_position(ES_H) == -2
    assert positions.strategy_position(TREND, ES) == -2
    assert kit.venue.counters.send_order_calls == 0
    assert any(isinstance(r, Note) and r.kind == "balance_trade" for r in ledger.records)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.balance_trade(ES_H, 0, 1, "x"), "must not be zero"),
        (lambda s: s.balance_trade("NQ/202403", 1, 1, "x"), "unknown contract"),
        (lambda s: s.balance_trade(ES_H, 1, 1, " "), "audit note"),
        (lambda s: s.manual_order(TREND, "NOPE", 1, "x"), "unknown instrument"),
        (lambda s: s.manual_order(TREND, ES, 1, ""), "audit note"),
    ],
)
def test_stack_manual_and_balance_bad_input_refused(call: object, message: str) -> None:
    kit = make_stack_kit()
    with pytest.raises(UserError, match=message):
        call(kit.stack)  # type: ignore[operator]


def test_stack_target_for_unknown_instrument_skipped_engine_goes_on() -> None:
    kit = make_stack_kit()
    bad = Target(strategy_id=TREND, instrument_id="XX", low=1, high=1)  # type: ignore[arg-type]
    kit.stack.step([bad, _target(TREND, 1)])
    assert any("unknown instrument" in p for p in kit.stack.problems)
    assert kit.stack.oms.book.positions.strategy_position(TREND, ES) == 1


def test_stack_retryable_rejects_back_off_then_breaker_trips_and_halts_instrument() -> None:
    kit = make_stack_kit()
    tripped: list[str] = []
    kit.stack.on_trip = lambda iid, why: tripped.append(f"{iid}: {why}")
    for _ in range(50):
        kit.venue.faults.reject_next(Reason.RATE_LIMITED, "too fast")
    for _ in range(40):  # retries wait their backoff; the breaker ends the loop
        kit.stack.step([_target(TREND, 2)])
        kit.tick(60)
        kit.stack.end_of_day()
    assert tripped
    assert tripped[0].startswith("ES:")
    assert ES in kit.stack.tripped
    sent = kit.venue.counters.send_order_calls
    assert 1 < sent <= kit.stack.retries.loop_threshold
    kit.stack.step([_target(TREND, 2)])
    assert kit.venue.counters.send_order_calls == sent  # halted: nothing more goes


def test_stack_non_retryable_reject_not_retried() -> None:
    kit = make_stack_kit()
    for _ in range(5):
        kit.venue.faults.reject_next(Reason.INSUFFICIENT_MARGIN, "no margin")
    kit.stack.step([_target(TREND, 2)])
    kit.tick(600)
    kit.stack.step()
    assert kit.venue.counters.send_order_calls == 1
    assert any("insufficient_margin" in p for p in kit.stack.problems)
