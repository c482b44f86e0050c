"""Invariant: every pre-trade check refuses exactly at its boundary (just inside passes,
just outside is refused), with a typed reason, the check's name and a sentence saying
what was refused; checks count existing positions and working orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bastion.domain.enums import OffsetFlag, OrderType, Side
from bastion.domain.reasons import Reason
from bastion.risk.checks import Check
from bastion.risk.engine import RiskEngine
from bastion.risk.port import OrderPath
from bastion.venues.port import RateLimits
from tests.unit.risk.kit import CONTRACT, ES, MID, SPEC, make_order, make_rig


def _denied(decision: object, check: Check, reason: Reason) -> str:
    assert not decision.allowed, decision  # type: ignore[attr-defined]
    assert decision.check == check, decision  # type: ignore[attr-defined]
    assert decision.reason is reason, decision  # type: ignore[attr-defined]
    message = decision.message  # type: ignore[attr-defined]
    assert str(CONTRACT) in message
    return str(message)


def test_order_size_at_max_allowed_one_more_refused() -> None:
    rig = make_rig(max_order_lots=10)
    assert rig.check(make_order(quantity=10)).allowed
    message = _denied(rig.check(make_order(quantity=11)), Check.ORDER_SIZE, Reason.RISK_LIMIT)
    assert "maximum order size of 10" in message


def test_position_limit_counts_position_and_working_orders() -> None:
    rig = make_rig(max_position_lots=5)
    rig.hold(3)
    rig.working(make_order(quantity=1))
    assert rig.check(make_order(quantity=1)).allowed  # 3 + 1 working + 1 = 5
    message = _denied(rig.check(make_order(quantity=2)), Check.POSITION, Reason.POSITION_LIMIT)
    assert "could reach 6 lots" in message


def test_position_limit_short_side_boundary() -> None:
    rig = make_rig(max_position_lots=5)
    rig.hold(-4)
    assert rig.check(make_order(Side.SELL, 1)).allowed
    _denied(rig.check(make_order(Side.SELL, 2)), Check.POSITION, Reason.POSITION_LIMIT)


def test_position_limit_per_instrument_override_applies() -> None:
    rig = make_rig(max_position_lots=20, instrument_position_lots={"ES": 2})
    assert rig.check(make_order(quantity=2)).allowed
    _denied(rig.check(make_order(quantity=3)), Check.POSITION, Reason.POSITION_LIMIT)


def test_position_limit_lowered_below_position_still_allows_reducing() -> None:
    rig = make_rig(max_position_lots=5)
    rig.hold(8)
    assert rig.check(make_order(Side.SELL, 2)).allowed
    _denied(rig.check(make_order(Side.BUY, 1)), Check.POSITION, Reason.POSITION_LIMIT)


def test_strategy_position_limit_boundary() -> None:
    rig = make_rig(max_strategy_position_lots=3)
    rig.hold(2, strategy="ema")
    assert rig.check(make_order(quantity=1, strategy="ema")).allowed
    message = _denied(
        rig.check(make_order(quantity=2, strategy="ema")),
        Check.STRATEGY_POSITION,
        Reason.POSITION_LIMIT,
    )
    assert "strategy ema" in message
    assert rig.check(make_order(quantity=2, strategy="other")).allowed


def test_notional_at_max_allowed_above_refused() -> None:
    rig = make_rig(max_notional=Decimal(400_000))  # 2 lots at 4000.00 x 50
    assert rig.check(make_order(quantity=2)).allowed
    message = _denied(rig.check(make_order(quantity=3)), Check.NOTIONAL, Reason.RISK_LIMIT)
    assert "600000" in message


def test_notional_market_order_without_price_refused() -> None:
    rig = make_rig()
    rig.market.update(CONTRACT, bid_ticks=None, ask_ticks=None, last_ticks=None)
    message = _denied(rig.check(make_order(limit=None)), Check.NOTIONAL, Reason.RISK_LIMIT)
    assert "no price" in message


@pytest.mark.parametrize("sign", [1, -1])
def test_price_distance_ticks_boundary(sign: int) -> None:
    rig = make_rig(price_tolerance_ticks=50)
    assert rig.check(make_order(limit=MID + sign * 50)).allowed
    message = _denied(
        rig.check(make_order(limit=MID + sign * 51)), Check.PRICE_DISTANCE, Reason.RISK_LIMIT
    )
    assert "51 ticks from the market 4,000.00" in message
    assert f"limit price {(MID + sign * 51) * Decimal('0.25'):,.2f} is" in message
    assert "at most 50 ticks allowed (the tick band)" in message


def test_price_distance_tighter_of_ticks_and_percent_applies_boundary() -> None:
    rig = make_rig(price_tolerance_ticks=10, price_tolerance_percent=Decimal(1))  # 160 ticks
    assert rig.check(make_order(limit=MID + 10)).allowed
    message = _denied(
        rig.check(make_order(limit=MID + 11)), Check.PRICE_DISTANCE, Reason.RISK_LIMIT
    )
    assert "at most 10 ticks allowed (the tick band)" in message
    rig = make_rig(price_tolerance_ticks=500, price_tolerance_percent=Decimal(1))
    assert rig.check(make_order(limit=MID + 160)).allowed
    message = _denied(
        rig.check(make_order(limit=MID + 161)), Check.PRICE_DISTANCE, Reason.RISK_LIMIT
    )
    assert "at most 160 ticks allowed (1% of the last price 4,000.00)" in message


def test_price_distance_default_is_five_percent_of_last_boundary() -> None:
    rig = make_rig()  # no tick band: 5% of the last price 16000 = 800 ticks
    assert rig.check(make_order(limit=MID + 800)).allowed
    _denied(rig.check(make_order(limit=MID + 801)), Check.PRICE_DISTANCE, Reason.RISK_LIMIT)


def test_price_distance_instrument_ticks_over_global_boundary() -> None:
    rig = make_rig(price_tolerance_ticks=50, instrument_tolerance_ticks={"ES": 20})
    assert rig.check(make_order(limit=MID - 20)).allowed
    _denied(rig.check(make_order(limit=MID - 21)), Check.PRICE_DISTANCE, Reason.RISK_LIMIT)


def test_price_distance_uses_last_when_no_two_sided_quote() -> None:
    rig = make_rig(price_tolerance_ticks=5)
    rig.market.update(CONTRACT, bid_ticks=None, ask_ticks=None, last_ticks=MID + 100)
    assert rig.check(make_order(limit=MID + 105)).allowed
    _denied(rig.check(make_order(limit=MID + 94)), Check.PRICE_DISTANCE, Reason.RISK_LIMIT)


def test_price_distance_stop_price_checked_too() -> None:
    rig = make_rig(price_tolerance_ticks=50)
    stop = make_order(limit=None, stop=MID + 51, order_type=OrderType.STOP)
    _denied(rig.check(stop), Check.PRICE_DISTANCE, Reason.RISK_LIMIT)


@pytest.mark.parametrize(
    ("side", "inside", "outside"), [(Side.BUY, 16800, 16801), (Side.SELL, 15200, 15199)]
)
def test_price_band_boundary(side: Side, inside: int, outside: int) -> None:
    rig = make_rig(price_tolerance_percent=Decimal(100))
    assert rig.check(make_order(side, limit=inside)).allowed
    message = _denied(
        rig.check(make_order(side, limit=outside)), Check.PRICE_BAND, Reason.PRICE_OUTSIDE_BAND
    )
    # Prices in price units (tick 0.25): ticks 15200 and 16800, and the order's price.
    assert "daily price band [3,800.00, 4,200.00]" in message
    assert f"limit price {outside * Decimal('0.25'):,.2f} is outside" in message
    assert "16800" not in message


def test_price_band_published_band_wins() -> None:
    rig = make_rig(price_tolerance_percent=Decimal(100))
    rig.market.update(CONTRACT, band=(15900, 16100))
    assert rig.check(make_order(limit=16100)).allowed
    _denied(rig.check(make_order(limit=16101)), Check.PRICE_BAND, Reason.PRICE_OUTSIDE_BAND)


def test_order_rate_burst_then_refill() -> None:
    rig = make_rig(orders_per_second=2.0, order_burst=3)
    for _ in range(3):
        assert rig.check(make_order()).allowed
    message = _denied(rig.check(make_order()), Check.ORDER_RATE, Reason.RATE_LIMITED)
    assert "retry in 0.50 s" in message
    rig.clock.advance(dt.timedelta(seconds=0.49))
    assert not rig.check(make_order()).allowed
    rig.clock.advance(dt.timedelta(seconds=0.01))
    assert rig.check(make_order()).allowed


def test_order_rate_taken_from_venue_declared_limits() -> None:
    rig = make_rig()
    engine = RiskEngine(
        rig.engine.limits,
        {ES: SPEC},
        ledger=rig.oms,
        store=rig.store,
        clock=rig.clock,
        market=rig.market,
        venue_limits={"sim": RateLimits(orders_per_second=1.0, order_burst=2)},
    )
    engine.equity = Decimal(10_000_000)
    from tests.unit.risk.kit import make_request

    assert engine.check(make_request(make_order())).allowed
    assert engine.check(make_request(make_order())).allowed
    _denied(engine.check(make_request(make_order())), Check.ORDER_RATE, Reason.RATE_LIMITED)
    assert engine.check(make_request(make_order(venue="other"))).allowed  # a bucket per venue


def test_order_rate_denied_orders_take_no_token() -> None:
    rig = make_rig(orders_per_second=1.0, order_burst=1, max_order_lots=1)
    assert not rig.check(make_order(quantity=2)).allowed
    assert rig.check(make_order(quantity=1)).allowed


def test_margin_boundary_counts_positions_and_working_orders() -> None:
    rig = make_rig(equity=Decimal(100_000))  # 90 % = 90,000 = 4.5 lots of 20,000
    assert rig.check(make_order(quantity=4)).allowed
    message = _denied(rig.check(make_order(quantity=5)), Check.MARGIN, Reason.INSUFFICIENT_MARGIN)
    assert "100000.00" in message
    rig.hold(2)
    rig.working(make_order(quantity=1))
    assert rig.check(make_order(quantity=1)).allowed  # 2 + 1 + 1 = 4 lots = 80,000
    _denied(rig.check(make_order(quantity=2)), Check.MARGIN, Reason.INSUFFICIENT_MARGIN)


def test_margin_other_contracts_count() -> None:
    from tests.unit.risk.kit import NEXT

    rig = make_rig(equity=Decimal(100_000))
    rig.hold(-3, contract=NEXT)
    assert rig.check(make_order(quantity=1)).allowed
    _denied(rig.check(make_order(quantity=2)), Check.MARGIN, Reason.INSUFFICIENT_MARGIN)


def test_margin_unknown_equity_refuses_new_exposure_allows_reducing() -> None:
    rig = make_rig(equity=None)
    rig.hold(2)
    message = _denied(rig.check(make_order()), Check.MARGIN, Reason.INSUFFICIENT_MARGIN)
    assert "equity is unknown" in message
    assert rig.check(make_order(Side.SELL, 1)).allowed


@pytest.mark.parametrize("side", list(Side))
def test_infeasible_price_at_minimum_tick_refused(side: Side) -> None:
    rig = make_rig(price_tolerance_percent=Decimal(100))
    rig.market.update(CONTRACT, settlement_ticks=None)
    message = _denied(rig.check(make_order(side, limit=1)), Check.INFEASIBLE, Reason.INVALID_ORDER)
    assert "minimum tick" in message
    assert rig.check(make_order(side, limit=2)).allowed


def test_infeasible_close_more_than_held_refused() -> None:
    rig = make_rig()
    rig.hold(2)
    assert rig.check(make_order(Side.SELL, 2, offset=OffsetFlag.CLOSE)).allowed
    message = _denied(
        rig.check(make_order(Side.SELL, 3, offset=OffsetFlag.CLOSE)),
        Check.INFEASIBLE,
        Reason.INVALID_ORDER,
    )
    assert "only 2 lots can be closed" in message


def test_infeasible_close_counts_working_closes() -> None:
    rig = make_rig()
    rig.hold(2)
    rig.working(make_order(Side.SELL, 1, offset=OffsetFlag.CLOSE))
    assert rig.check(make_order(Side.SELL, 1, offset=OffsetFlag.CLOSE)).allowed
    _denied(
        rig.check(make_order(Side.SELL, 2, offset=OffsetFlag.CLOSE)),
        Check.INFEASIBLE,
        Reason.INVALID_ORDER,
    )


def test_infeasible_reducing_claim_beyond_position_refused() -> None:
    rig = make_rig()
    rig.hold(2)
    assert rig.check(make_order(Side.SELL, 2), reduces=True).allowed
    message = _denied(
        rig.check(make_order(Side.SELL, 3), reduces=True), Check.INFEASIBLE, Reason.INVALID_ORDER
    )
    assert "close more than is held" in message
    _denied(
        rig.check(make_order(Side.BUY, 1), reduces=True), Check.INFEASIBLE, Reason.INVALID_ORDER
    )


def test_infeasible_bad_shape_refused() -> None:
    rig = make_rig()
    bad = make_order(limit=None, order_type=OrderType.LIMIT)
    message = _denied(rig.check(bad), Check.INFEASIBLE, Reason.INVALID_ORDER)
    assert "needs a limit price" in message


def test_contract_of_unknown_instrument_refused() -> None:
    rig = make_rig()
    from bastion.domain.ids import ContractId

    order = make_order(contract=ContractId("ZZ/202606"))
    decision = rig.check(order)
    assert not decision.allowed
    assert decision.check == Check.CONTRACT
    assert "no contract spec" in decision.message


def test_kill_path_skips_size_and_state_but_must_reduce() -> None:
    rig = make_rig(max_order_lots=1)
    rig.hold(5)
    from bastion.risk.states import Scope, StateEvent

    rig.engine.operator(Scope.account(), StateEvent.OPERATOR_HALT, "test")
    assert not rig.check(make_order(Side.SELL, 5)).allowed
    assert rig.check(make_order(Side.SELL, 5, limit=MID - 5), OrderPath.KILL).allowed
    decision = rig.check(make_order(Side.BUY, 1), OrderPath.KILL)
    assert not decision.allowed
    assert decision.check == Check.KILL_ONLY_REDUCES


def test_kill_path_still_meets_the_band() -> None:
    rig = make_rig()
    rig.hold(5)
    decision = rig.check(make_order(Side.SELL, 5, limit=15199), OrderPath.KILL)
    assert decision.reason is Reason.PRICE_OUTSIDE_BAND
