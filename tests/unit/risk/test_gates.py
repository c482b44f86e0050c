"""Invariant: trading states, the signal plan's risk level and market guards stop what
they must and nothing else: HALTED stops all but the kill switch; REDUCE_ONLY and
`review` let closes through and refuse opens (review also lets reconciling orders
through); a missing or unknown level opens nothing; a guard pauses an instrument while
its condition holds and lifts by itself, journaling both."""

from __future__ import annotations

import datetime as dt

import pytest

from bastion.domain.enums import Side
from bastion.domain.reasons import Reason
from bastion.risk.checks import Check
from bastion.risk.level import RiskLevel, parse_risk_level
from bastion.risk.port import OrderPath
from bastion.risk.states import Scope, StateEvent
from tests.unit.risk.kit import CONTRACT, make_order, make_rig

ALL_PATHS = [p for p in OrderPath if p is not OrderPath.KILL]


@pytest.mark.parametrize("path", ALL_PATHS)
def test_halted_account_refuses_every_path_but_kill(path: OrderPath) -> None:
    rig = make_rig()
    rig.hold(2)
    rig.engine.operator(Scope.account(), StateEvent.OPERATOR_HALT, "desk closed")
    for order in (make_order(Side.BUY), make_order(Side.SELL)):
        decision = rig.check(order, path)
        assert decision.reason is Reason.TRADING_STATE
        assert "account is HALTED (desk closed)" in decision.message
    assert rig.check(make_order(Side.SELL, 2), OrderPath.KILL).allowed


@pytest.mark.parametrize("scope", [Scope.account(), Scope.instrument("ES"), Scope.strategy("ema")])
def test_reduce_only_scope_refuses_open_allows_close(scope: Scope) -> None:
    rig = make_rig()
    rig.hold(2, strategy="ema")
    rig.engine.operator(scope, StateEvent.OPERATOR_REDUCE, "wind down")
    opened = rig.check(make_order(Side.BUY, strategy="ema"))
    assert opened.check == Check.TRADING_STATE
    assert "only reducing orders" in opened.message
    assert rig.check(make_order(Side.SELL, 2, strategy="ema")).allowed


def test_instrument_halt_leaves_other_instruments_alone() -> None:
    rig = make_rig()
    rig.engine.operator(Scope.instrument("rb"), StateEvent.OPERATOR_HALT, "rb only")
    assert rig.check(make_order()).allowed


def test_resume_by_operator_allows_again() -> None:
    rig = make_rig()
    rig.engine.operator(Scope.account(), StateEvent.OPERATOR_HALT, "pause")
    assert not rig.check(make_order()).allowed
    rig.engine.operator(Scope.account(), StateEvent.OPERATOR_RESUME, "checked, fine")
    assert rig.check(make_order()).allowed


def test_state_change_from_another_process_applies_after_refresh() -> None:
    rig = make_rig()
    other = make_rig(store=rig.store)  # the CLI, in another process, on the same store
    other.engine.operator(Scope.account(), StateEvent.OPERATOR_HALT, "from the CLI")
    rig.clock.advance(dt.timedelta(seconds=1))
    assert rig.check(make_order()).reason is Reason.TRADING_STATE


def test_review_level_refuses_open_allows_close() -> None:
    rig = make_rig(level="review")
    rig.hold(3)
    opened = rig.check(make_order(Side.BUY))
    assert opened.check == Check.RISK_LEVEL
    assert "review allows only closing" in opened.message
    assert rig.check(make_order(Side.SELL, 3)).allowed


def test_review_level_allows_reconciling_open() -> None:
    rig = make_rig(level="review")
    assert rig.check(make_order(Side.BUY), OrderPath.RECONCILE).allowed
    assert not rig.check(make_order(Side.BUY), OrderPath.MANUAL).allowed


@pytest.mark.parametrize("level", [None, "", "aggressive", "BASE?"])
def test_missing_or_unknown_level_opens_nothing(level: str | None) -> None:
    rig = make_rig(level=None)
    if level is not None:
        rig.engine.set_risk_level(level, "plan")
    rig.hold(1)
    for path in (OrderPath.AUTOMATIC, OrderPath.RECONCILE, OrderPath.MANUAL):
        decision = rig.check(make_order(Side.BUY), path)
        assert decision.check == Check.RISK_LEVEL
        assert "missing or unknown" in decision.message
    assert rig.check(make_order(Side.SELL, 1)).allowed


@pytest.mark.parametrize(
    ("text", "level"),
    [("base", RiskLevel.BASE), (" Review ", RiskLevel.REVIEW), (None, RiskLevel.UNKNOWN)],
)
def test_parse_risk_level_known_and_unknown(text: str | None, level: RiskLevel) -> None:
    assert parse_risk_level(text) is level


def test_stale_guard_boundary_and_resume_journaled() -> None:
    rig = make_rig(stale_data_seconds=30)
    rig.clock.advance(dt.timedelta(seconds=30))
    assert rig.check(make_order()).allowed
    rig.clock.advance(dt.timedelta(seconds=1))
    stale = rig.check(make_order())
    assert stale.check == Check.MARKET_GUARD
    assert "no tick for 31 s" in stale.message
    rig.market.update(CONTRACT, last_tick_at=rig.clock.now())
    assert rig.check(make_order()).allowed
    kinds = [n.text for n in rig.store.notes("risk.guard")]
    assert len(kinds) == 2
    assert "paused" in kinds[0]
    assert "cleared" in kinds[1]


def test_stale_guard_ignored_out_of_session() -> None:
    rig = make_rig(stale_data_seconds=30)
    rig.market.closed.add(CONTRACT)
    rig.clock.advance(dt.timedelta(hours=2))
    assert rig.check(make_order()).allowed


def test_halt_guard_pauses_until_cleared() -> None:
    rig = make_rig()
    rig.market.update(CONTRACT, halted=True)
    halted = rig.check(make_order())
    assert halted.reason is Reason.HALTED
    assert "circuit breaker" in halted.message
    rig.market.update(CONTRACT, halted=False)
    assert rig.check(make_order()).allowed


def test_spread_guard_boundary() -> None:
    rig = make_rig(max_spread_ticks=2)
    assert rig.check(make_order()).allowed  # spread 2
    rig.market.update(CONTRACT, ask_ticks=16002)
    wide = rig.check(make_order())
    assert wide.check == Check.MARKET_GUARD
    assert "spread is 3 ticks" in wide.message


def test_guard_on_no_market_data_refuses() -> None:
    rig = make_rig()
    rig.market.quotes.clear()
    assert rig.check(make_order()).check == Check.MARKET_GUARD
