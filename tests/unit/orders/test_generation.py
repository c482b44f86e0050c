"""Invariants of order generation: nothing is traded inside a buffer and trades go to the
nearest edge; overrides never increase exposure; netting conserves the total desired
trade, crosses sum to zero, and what reaches the market for an instrument is one-sided."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.domain.ids import InstrumentId, StrategyId
from bastion.domain.targets import Target, TargetError, target_from_numbers
from bastion.orders.generation import (
    Override,
    OverrideError,
    StrategyTrade,
    desired_trade,
    net_trades,
)
from bastion.strategy.merge import ParameterSignal, merge

ES = InstrumentId("ES")
S1, S2 = StrategyId("s1"), StrategyId("s2")


def _range(low: int, high: int) -> Target:
    return Target(strategy_id=S1, instrument_id=ES, low=low, high=high)


@pytest.mark.parametrize(
    ("position", "working", "expected"),
    [(5, 0, 0), (2, 2, 0), (1, 0, 2), (10, 0, -2), (0, 9, -1), (-3, 0, 6)],
)
def test_desired_trade_buffer_inside_nothing_outside_nearest_edge(
    position: int, working: int, expected: int
) -> None:
    assert desired_trade(_range(3, 8), position, working).quantity == expected


def test_desired_trade_multiplier_scales_toward_zero() -> None:
    trade = desired_trade(_range(-7, -7), 0, 0, Override(multiplier=0.5))
    assert trade.quantity == -3


def test_desired_trade_reduce_only_never_increases_or_crosses_zero() -> None:
    assert desired_trade(_range(10, 10), 4, 0, Override(reduce_only=True)).quantity == 0
    assert desired_trade(_range(-10, -10), 4, 0, Override(reduce_only=True)).quantity == -4
    assert desired_trade(_range(2, 2), 4, 0, Override(reduce_only=True)).quantity == -2
    assert desired_trade(_range(5, 5), 0, 0, Override(reduce_only=True)).quantity == 0


def test_desired_trade_no_trade_override_trades_nothing() -> None:
    trade = desired_trade(_range(10, 10), 0, 0, Override(no_trade=True))
    assert trade.quantity == 0
    assert "no-trade" in trade.note


def test_desired_trade_position_limit_cuts_target() -> None:
    trade = desired_trade(_range(50, 50), 0, 0, position_limit=20)
    assert trade.quantity == 20
    assert "position limit 20" in trade.note


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, math.inf])
def test_override_multiplier_outside_unit_interval_refused(bad: float) -> None:
    with pytest.raises(OverrideError, match="outside"):
        Override(multiplier=bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"position": math.nan}, "finite"),
        ({"position": math.inf}, "finite"),
        ({"low": 5, "high": 2}, "low 5 is above high 2"),
        ({"position": 1, "low": 0, "high": 2}, "not both"),
        ({"low": 1}, "both low and high"),
        ({"position": "3"}, "must be a number"),
    ],
)
def test_target_bad_numbers_refused_with_reason(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TargetError, match=message):
        target_from_numbers(S1, ES, **kwargs)  # type: ignore[arg-type]


trades_strategy = st.lists(
    st.tuples(
        st.sampled_from([StrategyId(f"s{i}") for i in range(6)]),
        st.sampled_from([InstrumentId("ES"), InstrumentId("rb")]),
        st.integers(-50, 50),
    ),
    max_size=12,
    unique_by=lambda t: (t[0], t[1]),
)


@given(raw=trades_strategy)
def test_net_trades_conserve_total_and_market_is_one_sided(
    raw: list[tuple[StrategyId, InstrumentId, int]],
) -> None:
    trades = [StrategyTrade(s, i, q) for s, i, q in raw]
    plans = net_trades(trades)
    for iid in {i for _, i, q in raw if q}:
        plan = plans[iid]
        wanted = sum(q for _, i, q in raw if i == iid)
        assert sum(q for _, q in plan.crossed) == 0
        assert plan.net == wanted
        assert len({q > 0 for _, q in plan.market}) <= 1
        crossed, market = dict(plan.crossed), dict(plan.market)
        for trade in plan.trades:
            part_c, part_m = crossed.get(trade.strategy_id, 0), market.get(trade.strategy_id, 0)
            assert part_c + part_m == trade.quantity
            assert part_c * trade.quantity >= 0
            assert part_m * trade.quantity >= 0


def test_merge_records_each_contribution() -> None:
    merged = merge([ParameterSignal("a", 1.0, 0.25), ParameterSignal("b", -0.5, 0.75)])
    assert merged.forecast == pytest.approx(0.25 - 0.375)
    assert [c.contribution for c in merged.contributions] == [0.25, -0.375]
    assert merged.lots(8) == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("signals", "message"),
    [
        ([ParameterSignal("a", 1.0, -0.5), ParameterSignal("b", 1.0, 1.5)], "negative"),
        ([ParameterSignal("a", 1.0, 0.5)], "sum to 0.5, expected 1"),
        ([ParameterSignal("a", 1.2, 1.0)], "outside"),
        ([], "no parameter sets"),
    ],
)
def test_merge_bad_weight_sets_refused(signals: list[ParameterSignal], message: str) -> None:
    with pytest.raises(TargetError, match=message):
        merge(signals)
