"""Invariant: loss limits act on realized + unrealized equity at their boundary, with
their configured action, and a restart never resets them: the day's, the week's and
the peak's starting equity are persisted the moment they are set."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bastion.risk.states import Scope, StateEvent, TradingState
from tests.unit.risk.kit import make_order, make_rig

START = Decimal(1_000_000)


def _state(rig: object) -> TradingState:
    return rig.engine.board.state(Scope.account())  # type: ignore[attr-defined]


def test_daily_loss_just_inside_then_at_limit_halts() -> None:
    rig = make_rig(daily_loss_limit=Decimal(10_000))
    rig.engine.on_account(START)
    assert rig.engine.on_account(Decimal(990_001)).breaches == []
    assert _state(rig) is TradingState.ACTIVE
    found = rig.engine.on_account(Decimal(990_000)).breaches
    assert [b.limit for b in found] == ["daily_loss_limit"]
    assert _state(rig) is TradingState.HALTED
    assert "daily_loss_limit breached" in rig.engine.board.status(Scope.account()).reason
    assert not rig.check(make_order()).allowed


def test_daily_loss_after_restart_not_reset() -> None:
    rig = make_rig(daily_loss_limit=Decimal(10_000))
    rig.engine.on_account(START)
    rig.engine.on_account(Decimal(995_000))
    restarted = make_rig(store=rig.store, daily_loss_limit=Decimal(10_000))
    restarted.clock.advance(dt.timedelta(hours=2))
    restarted.engine.on_account(Decimal(995_000))  # first figure after the restart
    assert restarted.engine.loss.status().day_start == START
    found = restarted.engine.on_account(Decimal(990_000)).breaches
    assert [b.limit for b in found] == ["daily_loss_limit"]
    assert _state(restarted) is TradingState.HALTED


def test_daily_loss_new_day_starts_from_its_first_equity() -> None:
    rig = make_rig(daily_loss_limit=Decimal(10_000))
    rig.engine.on_account(START)
    rig.clock.advance(dt.timedelta(days=1))
    rig.engine.on_account(Decimal(985_000))
    assert rig.engine.loss.status().day_start == Decimal(985_000)
    assert _state(rig) is TradingState.ACTIVE


def test_weekly_loss_spans_days_of_the_week() -> None:
    rig = make_rig(weekly_loss_limit=Decimal(20_000))  # T0 is a Monday
    rig.engine.on_account(START)
    rig.clock.advance(dt.timedelta(days=1))
    rig.engine.on_account(Decimal(985_000))
    rig.clock.advance(dt.timedelta(days=1))
    assert rig.engine.on_account(Decimal(980_001)).breaches == []
    assert [b.limit for b in rig.engine.on_account(Decimal(980_000)).breaches] == [
        "weekly_loss_limit"
    ]


def test_drawdown_measured_from_persisted_peak() -> None:
    rig = make_rig(max_drawdown=Decimal(50_000), max_drawdown_action="reduce")
    rig.engine.on_account(START)
    rig.engine.on_account(Decimal(1_100_000))
    restarted = make_rig(
        store=rig.store, max_drawdown=Decimal(50_000), max_drawdown_action="reduce"
    )
    assert restarted.engine.on_account(Decimal(1_050_001)).breaches == []
    assert restarted.engine.on_account(Decimal(1_050_000)).breaches[0].limit == "max_drawdown"
    assert _state(restarted) is TradingState.REDUCE_ONLY


def test_kill_action_requests_kill_once_and_halts() -> None:
    rig = make_rig(daily_loss_limit=Decimal(10_000), daily_loss_action="kill")
    rig.engine.on_account(START)
    rig.engine.on_account(Decimal(980_000))
    assert _state(rig) is TradingState.HALTED
    pending = rig.engine.pending_kill()
    assert pending is not None
    assert "daily_loss_limit" in pending["reason"]
    rig.engine.clear_kill("flat confirmed")
    rig.engine.on_account(Decimal(979_000))
    assert rig.engine.pending_kill() is None  # fires once per period


def test_resume_without_raising_limit_halts_again() -> None:
    rig = make_rig(daily_loss_limit=Decimal(10_000))
    rig.engine.on_account(START)
    rig.engine.on_account(Decimal(985_000))
    rig.engine.operator(Scope.account(), StateEvent.OPERATOR_RESUME, "looked at it")
    rig.engine.on_account(Decimal(985_000))
    assert _state(rig) is TradingState.HALTED


def test_repeated_breach_updates_do_not_spam_the_journal() -> None:
    rig = make_rig(daily_loss_limit=Decimal(10_000))
    rig.engine.on_account(START)
    for equity in (985_000, 984_000, 983_000):
        rig.engine.on_account(Decimal(equity))
    assert len(rig.store.notes("risk.state")) == 1


@pytest.mark.parametrize("limit", ["daily_loss_limit", "weekly_loss_limit", "max_drawdown"])
def test_loss_limit_unset_never_breaches(limit: str) -> None:
    rig = make_rig()
    rig.engine.on_account(START)
    assert rig.engine.on_account(Decimal(1)).breaches == []
    assert getattr(rig.engine.limits, limit) is None
