"""Invariant: the gate's decision is exactly one of executable, skip_broker_flat_for_close
or blocked, and every stop condition blocks with a reason that names it (R8.3, R3.3,
R3.4, R1.1, R7.4): missing or stale broker state, review risk opening, unknown risk
level, stale pool, incomplete data, a comparison plan in an executable route, a halted
account, an unclean reconciliation; a close while the broker is flat is skipped."""

from __future__ import annotations

import datetime as dt

import pytest

from bastion.gates.checks import GateStatus, evaluate
from bastion.recon.breaks import Break, BreakKind, ReconReport
from bastion.risk.states import TradingState
from tests.unit.gates.kit import broker, inputs, plan, signal


def test_gate_all_checks_pass_executable_with_orders() -> None:
    result = evaluate(inputs())
    assert result.line() == "executable"
    assert [o.line() for o in result.orders] == [
        "buy 2 SP500/202406 (broker +0 -> target +2, opens)"
    ]
    assert all(c.ok for c in result.checks)
    assert result.counters == {"send_order_calls": 0, "cancel_order_calls": 0}


def test_gate_broker_state_missing_blocked() -> None:
    result = evaluate(inputs(broker=None))
    assert result.status is GateStatus.BLOCKED
    assert result.line().startswith("blocked: broker state missing")
    assert result.orders == []


def test_gate_broker_positions_unknown_blocked_never_flat() -> None:
    unknown = broker()
    unknown.positions = None
    unknown.positions_reason = "query timed out"
    result = evaluate(inputs(broker=unknown))
    assert "broker positions unknown (query timed out)" in result.line()


def test_gate_broker_snapshot_older_than_limit_blocked_as_stale() -> None:
    result = evaluate(inputs(broker=broker(age_seconds=301)))
    assert result.line().startswith("blocked: broker state stale: snapshot is 301 s old")
    assert evaluate(inputs(broker=broker(age_seconds=299))).status is GateStatus.EXECUTABLE


def test_gate_custom_max_age_applies() -> None:
    result = evaluate(inputs(broker=broker(age_seconds=61), max_age=dt.timedelta(seconds=60)))
    assert "limit 60 s" in result.reason


def test_gate_review_level_opening_blocked() -> None:
    result = evaluate(inputs(plan=plan(risk_level="review")))
    assert result.line().startswith("blocked: review allows no new opens")
    assert "buy 2 SP500/202406" in result.reason


def test_gate_review_level_reducing_executable() -> None:
    reduce = plan(signal(previous=4, target=1), risk_level="review")
    result = evaluate(inputs(plan=reduce, broker=broker({"SP500/202406": 4})))
    assert result.line() == "executable"
    assert result.orders[0].line() == "sell 3 SP500/202406 (broker +4 -> target +1, reduces)"


@pytest.mark.parametrize("level", ["missing", "", "BASE!", "aggressive"])
def test_gate_unknown_risk_level_blocked(level: str) -> None:
    result = evaluate(inputs(plan=plan(risk_level=level)))
    assert "is missing or unknown" in result.line()


def test_gate_close_while_broker_flat_skipped_nothing_sent() -> None:
    close = plan(signal(previous=2, target=0))
    result = evaluate(inputs(plan=close, broker=broker({})))
    assert result.line() == "skip_broker_flat_for_close"
    assert result.orders == []
    assert "the broker is flat; nothing to close" in result.skipped_closes[0]


def test_gate_close_with_broker_on_other_side_blocked() -> None:
    close = plan(signal(previous=2, target=0))
    result = evaluate(inputs(plan=close, broker=broker({"SP500/202406": -1})))
    assert "the plan closes a +2 position but the broker holds -1" in result.line()


def test_gate_close_and_open_mixed_executable_and_close_noted() -> None:
    mixed = plan(signal("SP500", previous=2, target=0), signal("rb", previous=0, target=1))
    result = evaluate(inputs(plan=mixed))
    assert result.line() == "executable"
    assert [o.contract for o in result.orders] == ["rb/202406"]
    assert len(result.skipped_closes) == 1


def test_gate_stale_pool_blocked() -> None:
    stale = plan(pool={"stale": True, "why": "pool period 2024-03 ended 2024-03-31"})
    result = evaluate(inputs(plan=stale))
    assert result.line() == "blocked: stale pool: pool period 2024-03 ended 2024-03-31"


def test_gate_incomplete_data_blocked() -> None:
    bad = plan(data_complete=False, data_problems=("SP500: last daily bar is 2024-04-29",))
    assert "incomplete data: SP500: last daily bar" in evaluate(inputs(plan=bad)).line()


def test_gate_unusable_checked_data_blocked() -> None:
    result = evaluate(inputs(data_usable={"SP500/202406": False}))
    assert "SP500/202406 not usable" in result.line()


def test_gate_comparison_plan_in_official_route_blocked() -> None:
    other = plan(profile="old-line", role="comparison", strategy_line="vol_target")
    result = evaluate(inputs(plan=other))
    assert "made by profile 'old-line' (comparison), not 'official'" in result.line()


def test_gate_comparison_profile_not_named_blocked() -> None:
    mine = plan(profile="official", role="comparison")
    assert "comparison profile and was not named" in evaluate(inputs(plan=mine)).line()


def test_gate_plan_capital_differs_from_official_blocked() -> None:
    result = evaluate(inputs(plan=plan(capital="2000000")))
    assert "do not match the official profile" in result.line()


def test_gate_halted_account_blocked() -> None:
    result = evaluate(inputs(account_state=TradingState.HALTED, account_state_reason="loss"))
    assert result.line() == "blocked: the account is HALTED (loss)"


def test_gate_reduce_only_account_opening_blocked() -> None:
    result = evaluate(inputs(account_state=TradingState.REDUCE_ONLY))
    assert "REDUCE_ONLY and the plan would open" in result.line()


def test_gate_kill_pending_blocked() -> None:
    assert "kill request is pending" in evaluate(inputs(kill_pending=True)).line()


def test_gate_locked_instrument_blocked() -> None:
    result = evaluate(inputs(locks={"SP500": {"reconciliation": "contract_vs_broker"}}))
    assert "SP500 is locked" in result.line()


def test_gate_reconciliation_break_blocked() -> None:
    brk = Break("SP500", BreakKind.CONTRACT_VS_BROKER, "SP500/202406", 2, 0, "the broker is flat")
    result = evaluate(inputs(recon=ReconReport((brk,), ())))
    assert result.line().startswith("blocked: not clean: contract_vs_broker")


def test_gate_reconciliation_unknown_blocked() -> None:
    assert "could not run" in evaluate(inputs(recon=None)).line()


def test_gate_no_plan_blocked() -> None:
    assert evaluate(inputs(plan=None)).line() == (
        "blocked: no signal plan; run 'bastion shadow' first"
    )


def test_gate_at_target_executable_nothing_to_send() -> None:
    result = evaluate(inputs(broker=broker({"SP500/202406": 2})))
    assert result.line() == "executable"
    assert result.orders == []
    assert result.next_step().startswith("nothing to trade")


def test_gate_first_failure_is_reason_and_all_are_listed() -> None:
    result = evaluate(inputs(broker=None, plan=plan(risk_level="review", data_complete=False)))
    failed = [c.name for c in result.checks if not c.ok]
    assert failed[0] == "broker_snapshot"
    assert "data" in failed
    assert result.reason.startswith("broker state missing")
