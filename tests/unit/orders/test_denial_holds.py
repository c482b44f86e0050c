"""Invariant: a refused intent waits before it is tried again, never longer than its
refusal can last: a refusal that may end with the market or the account moving
(margin, a market guard) is held at most a minute; one that ends only with a change
of state (trading state, a lock) up to an hour, and any change of that state ends
every hold at once; an order that goes out ends its intent's hold."""

from __future__ import annotations

import datetime as dt

from bastion.domain.ids import OrderId
from bastion.orders.holds import DenialHolds

T0 = dt.datetime(2024, 3, 4, 15, tzinfo=dt.UTC)
IO = OrderId("I1-1")


def _after(refusals: int, check: str, holds: DenialHolds) -> dt.timedelta:
    until = T0
    for _ in range(refusals):
        until = holds.refused(IO, check, T0)
    return until - T0


def test_holds_double_from_one_second() -> None:
    holds = DenialHolds()
    assert [_after(1, "trading_state", DenialHolds()), _after(3, "trading_state", holds)] == [
        dt.timedelta(seconds=1),
        dt.timedelta(seconds=4),
    ]


def test_holds_margin_and_market_refusals_at_most_a_minute() -> None:
    for check in ("margin", "market_guard", "max_notional", "broker_position", "new_check"):
        assert _after(20, check, DenialHolds()) == dt.timedelta(seconds=60), check


def test_holds_state_refusals_up_to_an_hour() -> None:
    for check in ("trading_state", "instrument_lock", "risk_level", "position_limit"):
        assert _after(20, check, DenialHolds()) == dt.timedelta(hours=1), check


def test_holds_end_at_once_when_the_epoch_changes() -> None:
    state = ["HALTED"]
    holds = DenialHolds(epoch=lambda: tuple(state))
    holds.refused(IO, "trading_state", T0)
    assert holds.held(IO, T0 + dt.timedelta(milliseconds=500))
    state[0] = "ACTIVE"
    assert not holds.held(IO, T0 + dt.timedelta(milliseconds=500))


def test_holds_end_when_an_order_goes_out() -> None:
    holds = DenialHolds()
    holds.refused(IO, "margin", T0)
    holds.sent(IO)
    assert not holds.held(IO, T0)
    assert _after(1, "margin", holds) == dt.timedelta(seconds=1)  # the count starts again
