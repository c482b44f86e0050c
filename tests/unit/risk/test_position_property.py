"""Invariant (property): no sequence of orders through the risk engine, filled, part
filled or canceled in any order, ever leaves a position beyond its limit, per
instrument (across its contracts) or per strategy and instrument."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bastion.config import MAX_COUNT, MAX_RATE
from bastion.domain.enums import Side
from bastion.domain.fills import Fill
from bastion.domain.ids import ExecId, StrategyId
from bastion.domain.venue_events import Canceled, FillReport
from tests.unit.risk.kit import CONTRACT, ES, MID, NEXT, Rig, make_order, make_rig

INSTRUMENT_LIMIT = 6
STRATEGY_LIMIT = 4

new_order = st.tuples(
    st.just("order"),
    st.sampled_from(Side),
    st.integers(1, 5),
    st.sampled_from([CONTRACT, NEXT]),
    st.sampled_from(["trend", "carry", None]),
)
fill = st.tuples(st.just("fill"), st.integers(0, 50), st.integers(1, 5))
cancel = st.tuples(st.just("cancel"), st.integers(0, 50))
actions = st.lists(st.one_of(new_order, fill, cancel), min_size=1, max_size=40)


def _fill(rig: Rig, index: int, lots: int, serial: int) -> None:
    live = list(rig.oms.book.broker_orders.values())
    if not live:
        return
    order = live[index % len(live)]
    quantity = min(lots, order.remaining)
    rig.oms.apply(
        FillReport(
            fill=Fill(
                exec_id=ExecId(f"E{serial}"),
                client_order_id=order.client_order_id,
                contract_id=order.contract_id,
                side=order.side,
                quantity=quantity,
                price_ticks=MID,
                timestamp=rig.clock.now(),
            )
        )
    )


def _cancel(rig: Rig, index: int) -> None:
    live = list(rig.oms.book.broker_orders.values())
    if live:
        order = live[index % len(live)]
        rig.oms.apply(Canceled(client_order_id=order.client_order_id, timestamp=rig.clock.now()))


def _assert_within_limits(rig: Rig) -> None:
    positions = rig.oms.book.positions
    assert abs(positions.instrument_position(ES)) <= INSTRUMENT_LIMIT
    for strategy in ("trend", "carry"):
        assert abs(positions.strategy_position(StrategyId(strategy), ES)) <= STRATEGY_LIMIT


@settings(max_examples=150, deadline=None)
@given(actions)
# Found by Hypothesis: a buy that reduces the instrument (short 5 from another order)
# grew strategy 'trend' past its limit, because reducing orders skipped every
# position check.
@example(
    [
        ("order", Side.SELL, 5, CONTRACT, None),
        ("order", Side.BUY, 1, CONTRACT, "trend"),
        ("fill", 0, 1),
        ("fill", 0, 4),
        ("order", Side.BUY, 4, CONTRACT, "trend"),
    ]
)
def test_engine_any_order_sequence_positions_stay_within_limits(
    steps: list[tuple[object, ...]],
) -> None:
    rig = make_rig(
        max_position_lots=INSTRUMENT_LIMIT,
        max_strategy_position_lots=STRATEGY_LIMIT,
        max_order_lots=5,
        orders_per_second=MAX_RATE,  # the rate limit out of the way: at its bounds
        order_burst=MAX_COUNT,
        equity=Decimal(10**9),
    )
    for serial, step in enumerate(steps):
        kind = step[0]
        if kind == "order":
            _, side, quantity, contract, strategy = step
            order = make_order(
                side,  # type: ignore[arg-type]
                quantity,  # type: ignore[arg-type]
                contract=contract,  # type: ignore[arg-type]
                strategy=strategy,  # type: ignore[arg-type]
                coid=f"P{serial}",
            )
            if rig.check(order).allowed:
                rig.working(order)
        elif kind == "fill":
            _fill(rig, step[1], step[2], serial)  # type: ignore[arg-type]
        else:
            _cancel(rig, step[1])  # type: ignore[arg-type]
        _assert_within_limits(rig)
    # and if every order still working now filled in full, too
    for serial, order in enumerate(list(rig.oms.book.broker_orders.values())):
        live = list(rig.oms.book.broker_orders)
        _fill(rig, live.index(order.client_order_id), order.remaining, 10**6 + serial)
        _assert_within_limits(rig)
