"""The sim venue's fill model: bars, participation, queue, slippage, stops, invariants.

Invariants: fills never exceed an order's quantity; commission is charged once per fill
(rate x lots, and the account's total equals the fills' sum); a bar never gives our
orders more than volume x participation; a limit never fills beyond its limit; the
venue's positions equal the signed sum of its fills.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId
from bastion.domain.venue_events import Canceled, FillReport
from bastion.testing.venue_stubs import CONTRACT, bar, make_order, make_sim_venue, quote, trade
from bastion.venues.sim.config import SimVenueConfig, SlippageConfig, SlippageKind
from bastion.venues.sim.execution import SimVenue


def _fills(venue: SimVenue) -> list[FillReport]:
    return [e for e in venue.poll_events() if isinstance(e, FillReport)]


def test_bar_market_order_fills_at_open_capped_by_participation() -> None:
    venue, _ = make_sim_venue(SimVenueConfig(participation_rate=0.1))
    order = make_order(Side.BUY, 30)
    venue.on_bar(bar(100, 105, 95, 102, volume=50))  # gives a mark: the order can be priced
    venue.submit(order)
    venue.on_bar(bar(103, 106, 101, 104, volume=200))
    fills = _fills(venue)
    assert [(f.fill.quantity, f.fill.price_ticks) for f in fills] == [(20, 103)]
    venue.on_bar(bar(104, 104, 104, 104, volume=100))
    assert [(f.fill.quantity, f.fill.price_ticks) for f in _fills(venue)] == [(10, 104)]


def test_bar_limit_through_fills_at_limit_touch_only_after_queue() -> None:
    venue, _ = make_sim_venue(SimVenueConfig(participation_rate=1.0, touch_volume_fraction=0.1))
    venue.on_bar(bar(100, 101, 99, 100))
    order = make_order(Side.BUY, 50, OrderType.LIMIT, limit_ticks=97)
    venue.submit(order)
    # First touch of 97 with an unknown queue: the 30 lots that traded there are taken
    # to be exactly the queue ahead of us, so nothing fills.
    venue.on_bar(bar(99, 100, 97, 98, volume=300))
    assert _fills(venue) == []
    venue.on_bar(bar(98, 99, 97, 98, volume=400))  # 40 more at 97, all ours now
    assert [(f.fill.quantity, f.fill.price_ticks) for f in _fills(venue)] == [(40, 97)]
    venue.on_bar(bar(98, 99, 96, 97, volume=1000))  # trades through: the rest at 97
    assert [(f.fill.quantity, f.fill.price_ticks) for f in _fills(venue)] == [(10, 97)]


def test_bar_limit_gap_through_fills_at_better_open() -> None:
    venue, _ = make_sim_venue()
    venue.on_bar(bar(100, 101, 99, 100))
    venue.submit(make_order(Side.SELL, 1, OrderType.LIMIT, limit_ticks=105))
    venue.on_bar(bar(108, 110, 107, 109))
    assert [f.fill.price_ticks for f in _fills(venue)] == [108]


def test_bar_stop_triggers_fills_at_worse_of_open_and_stop() -> None:
    venue, _ = make_sim_venue()
    venue.on_bar(bar(100, 101, 99, 100))
    venue.submit(make_order(Side.SELL, 1, OrderType.STOP, stop_ticks=96))
    venue.on_bar(bar(99, 100, 97, 98))
    assert _fills(venue) == []
    venue.on_bar(bar(94, 95, 90, 92))  # gaps below the stop: fills at the open
    assert [f.fill.price_ticks for f in _fills(venue)] == [94]


def test_bar_ioc_gets_one_bar_then_remainder_canceled() -> None:
    venue, _ = make_sim_venue(SimVenueConfig(participation_rate=0.01))
    venue.on_bar(bar(100, 101, 99, 100))
    order = make_order(Side.BUY, 10, time_in_force=TimeInForce.IOC)
    venue.submit(order)
    venue.on_bar(bar(100, 101, 99, 100, volume=500))
    events = venue.poll_events()
    assert [type(e).__name__ for e in events][-2:] == ["FillReport", "Canceled"]
    assert sum(e.fill.quantity for e in events if isinstance(e, FillReport)) == 5
    assert any(isinstance(e, Canceled) and e.unsolicited for e in events)


@pytest.mark.parametrize(
    ("slippage", "expected"),
    [
        (SlippageConfig(), 1001),
        (SlippageConfig(kind=SlippageKind.FIXED_TICKS, ticks=2), 1003),
        (SlippageConfig(kind=SlippageKind.PROPORTIONAL, basis_points=25), 1001 + 3),
    ],
)
def test_slippage_models_market_buy_pays_more_than_touch(
    slippage: SlippageConfig, expected: int
) -> None:
    venue, clock = make_sim_venue(SimVenueConfig(slippage=slippage))
    venue.on_quote(quote(1000, 1001, at=clock.now()))
    venue.submit(make_order(Side.BUY, 1))
    assert [f.fill.price_ticks for f in _fills(venue)] == [expected]


def test_slippage_volatility_scaled_follows_recent_bar_ranges() -> None:
    slippage = SlippageConfig(
        kind=SlippageKind.VOLATILITY, volatility_multiple=0.5, volatility_window=2
    )
    venue, _ = make_sim_venue(SimVenueConfig(slippage=slippage, participation_rate=1.0))
    venue.on_bar(bar(100, 104, 100, 102))  # range 4
    venue.on_bar(bar(102, 110, 102, 108))  # range 8: mean 6, slippage 3 ticks
    venue.submit(make_order(Side.SELL, 1))
    venue.on_bar(bar(108, 109, 107, 108))
    assert [f.fill.price_ticks for f in _fills(venue)] == [108 - 3]


def test_slippage_never_applies_to_marketable_limit() -> None:
    config = SimVenueConfig(slippage=SlippageConfig(kind=SlippageKind.FIXED_TICKS, ticks=5))
    venue, clock = make_sim_venue(config)
    venue.on_quote(quote(1000, 1001, at=clock.now()))
    venue.submit(make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=1003))
    assert [f.fill.price_ticks for f in _fills(venue)] == [1001]


def test_market_order_clamped_to_daily_band() -> None:
    from bastion.testing.venue_stubs import stub_spec

    config = SimVenueConfig(slippage=SlippageConfig(kind=SlippageKind.FIXED_TICKS, ticks=50))
    venue, clock = make_sim_venue(config, specs={CONTRACT: stub_spec(price_band="0.01")})
    venue.set_reference_price(CONTRACT, 1000)  # band 990..1010
    venue.on_quote(quote(1000, 1001, at=clock.now()))
    venue.submit(make_order(Side.BUY, 1))
    assert [f.fill.price_ticks for f in _fills(venue)] == [1010]


order_specs = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 20),
    st.sampled_from([OrderType.MARKET, OrderType.LIMIT, OrderType.STOP]),
    st.integers(-6, 6),
    st.sampled_from([TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTC]),
)
market_steps = st.lists(
    st.tuples(st.sampled_from(["quote", "trade", "bar"]), st.integers(-8, 8), st.integers(0, 40)),
    max_size=15,
)


@settings(max_examples=80, deadline=None)
@given(orders=st.lists(order_specs, min_size=1, max_size=8), steps=market_steps)
def test_matching_invariants_hold_for_any_orders_and_market(
    orders: list[tuple[Side, int, OrderType, int, TimeInForce]],
    steps: list[tuple[str, int, int]],
) -> None:
    venue, clock = make_sim_venue(SimVenueConfig(commission_per_contract=Decimal("1.25")))
    mid = 1000
    venue.on_quote(quote(mid, mid + 1, at=clock.now()))
    sent = {}
    for side, lots, kind, offset, tif in orders:
        price = mid + offset
        order = make_order(
            side,
            lots,
            kind,
            limit_ticks=price if kind is OrderType.LIMIT else None,
            stop_ticks=price if kind is OrderType.STOP else None,
            time_in_force=tif,
        )
        sent[order.client_order_id] = order
        venue.submit(order)
    for what, move, size in steps:
        price = mid + move
        if what == "quote":
            venue.on_quote(quote(price, price + 1, bid_size=size, ask_size=size, at=clock.now()))
        elif what == "trade" and size:
            venue.on_trade(trade(price, size, at=clock.now()))
        elif what == "bar":
            venue.on_bar(bar(price, price + 2, price - 2, price, volume=size * 10))
    fills = [e.fill for e in venue.poll_events() if isinstance(e, FillReport)]
    filled: dict[ClientOrderId, int] = {}
    for fill in fills:
        filled[fill.client_order_id] = filled.get(fill.client_order_id, 0) + fill.quantity
        order = sent[fill.client_order_id]
        assert fill.commission == Decimal("1.25") * fill.quantity
        if order.order_type is OrderType.LIMIT:
            assert order.side.sign * (order.limit_ticks - fill.price_ticks) >= 0  # type: ignore[operator]
    for coid, lots in filled.items():
        assert lots <= sent[coid].quantity
        if sent[coid].time_in_force is TimeInForce.FOK:
            assert lots == sent[coid].quantity
    assert len({f.exec_id for f in fills}) == len(fills)
    account = venue.account().value
    assert account is not None
    assert account.commissions == sum((f.commission for f in fills), Decimal(0))
    net = sum(f.signed_quantity for f in fills)
    record = (venue.positions().value or {}).get(CONTRACT)
    assert (0 if record is None else record.net) == net
