"""Invariant (R6.7): the spread breaker is on by default; a spread of exactly the limit
passes and one tick wider pauses; after a wide spread, new orders wait
``spread_hold_seconds`` (30 s) of normal spreads, counted from the first normal look,
and a per-instrument limit overrides the global one (issue 15)."""

from __future__ import annotations

import datetime as dt

from bastion.config import RiskConfig
from bastion.risk.checks import Check
from tests.unit.risk.kit import CONTRACT, MID, make_order, make_rig

SECOND = dt.timedelta(seconds=1)


def _spread(rig, ticks: int) -> None:  # type: ignore[no-untyped-def]
    rig.market.update(
        CONTRACT,
        bid_ticks=MID - ticks // 2,
        ask_ticks=MID - ticks // 2 + ticks,
        last_tick_at=rig.clock.now(),
    )


def test_spread_breaker_on_by_default() -> None:
    assert RiskConfig().max_spread_ticks == 10
    assert RiskConfig().spread_hold_seconds == 30.0


def test_spread_breaker_default_boundary_and_hold_boundary() -> None:
    rig = make_rig()
    _spread(rig, 10)
    assert rig.check(make_order(limit=None)).allowed
    _spread(rig, 11)
    wide = rig.check(make_order(limit=None))
    assert wide.check == Check.MARKET_GUARD
    assert "spread is 11 ticks, wider than 10" in wide.message
    rig.clock.advance(5 * SECOND)
    _spread(rig, 2)  # normal again: the hold starts at this first normal look
    held = rig.check(make_order(limit=None))
    assert held.check == Check.MARKET_GUARD
    assert "wait 30 s after a wide spread" in held.message
    rig.clock.advance(30 * SECOND - dt.timedelta(microseconds=1))
    assert rig.check(make_order(limit=None)).check == Check.MARKET_GUARD
    rig.clock.advance(dt.timedelta(microseconds=1))
    assert rig.check(make_order(limit=None)).allowed


def test_spread_widening_again_restarts_hold() -> None:
    rig = make_rig(spread_hold_seconds=10)
    _spread(rig, 12)
    assert not rig.check(make_order(limit=None)).allowed
    _spread(rig, 2)
    assert not rig.check(make_order(limit=None)).allowed
    rig.clock.advance(9 * SECOND)
    _spread(rig, 20)  # one narrow quote in a widening market does not reopen it
    assert not rig.check(make_order(limit=None)).allowed
    _spread(rig, 2)
    assert not rig.check(make_order(limit=None)).allowed  # the hold restarts here
    rig.clock.advance(9 * SECOND)
    assert not rig.check(make_order(limit=None)).allowed
    rig.clock.advance(SECOND)
    assert rig.check(make_order(limit=None)).allowed


def test_spread_breaker_per_instrument_overrides_boundary() -> None:
    rig = make_rig(max_spread_ticks=10, instrument_spread_ticks={"ES": 4}, spread_hold_seconds=0)
    _spread(rig, 4)
    assert rig.check(make_order(limit=None)).allowed
    _spread(rig, 5)
    assert "wider than 4" in rig.check(make_order(limit=None)).message


def test_spread_breaker_off_when_unset() -> None:
    rig = make_rig(max_spread_ticks=None)
    _spread(rig, 500)
    assert rig.check(make_order(limit=None)).allowed
