"""The sim venue's time, identity and books: latency, ids, rate limits, offsets, the day.

Invariants: nothing is reported before its latency has passed, and an order matches
only once it has arrived; the venue order id in the ack differs from the provisional
one and is the id on every later report; order calls beyond the declared rate are
refused; CTP-style offsets never close more than is held; today's books become
yesterday's at the start of a day.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bastion.domain.enums import OffsetFlag, OrderType, Side
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import Acknowledged, Canceled, FillReport, Rejected
from bastion.testing.venue_stubs import CONTRACT, make_order, make_sim_venue, quote
from bastion.venues.port import RateLimits, VenueOrderStatus, VenuePort
from bastion.venues.sim.config import SimVenueConfig

MS = dt.timedelta(milliseconds=1)


def test_sim_venue_satisfies_the_port_protocol() -> None:
    venue, _ = make_sim_venue()
    port: VenuePort = venue
    assert port.name == "sim"


def test_latency_ack_and_fill_wait_for_their_delays() -> None:
    venue, clock = make_sim_venue(SimVenueConfig(ack_latency=5 * MS, fill_latency=2 * MS))
    venue.on_quote(quote(100, 101, at=clock.now()))
    t0 = clock.now()
    venue.submit(make_order(Side.BUY, 1))
    assert venue.poll_events() == []
    clock.advance(5 * MS)
    (ack,) = venue.poll_events()
    assert isinstance(ack, Acknowledged)
    assert ack.timestamp == t0 + 5 * MS
    clock.advance(MS)
    assert venue.poll_events() == []
    clock.advance(MS)
    (fill,) = venue.poll_events()
    assert isinstance(fill, FillReport)
    assert fill.fill.timestamp == t0 + 5 * MS  # matched on arrival, reported later


def test_latency_order_matches_market_at_arrival_not_at_submit() -> None:
    venue, clock = make_sim_venue(SimVenueConfig(ack_latency=10 * MS))
    venue.on_quote(quote(100, 101, at=clock.now()))
    venue.submit(make_order(Side.BUY, 1))
    clock.advance(4 * MS)
    venue.on_quote(quote(104, 105, at=clock.now()))  # the market moves while we travel
    clock.advance(6 * MS)
    fills = [e for e in venue.poll_events() if isinstance(e, FillReport)]
    assert [f.fill.price_ticks for f in fills] == [105]


def test_latency_fill_can_beat_a_cancel_in_flight() -> None:
    venue, clock = make_sim_venue(SimVenueConfig(ack_latency=10 * MS))
    venue.on_quote(quote(100, 101, at=clock.now()))
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=99)
    venue.submit(order)
    clock.advance(10 * MS)
    venue.cancel(order.client_order_id)
    clock.advance(3 * MS)
    venue.on_quote(quote(97, 98, at=clock.now()))  # trades through before the cancel lands
    clock.advance(7 * MS)
    kinds = [type(e).__name__ for e in venue.poll_events()]
    assert kinds == ["Acknowledged", "FillReport", "CancelRejected"]


def test_ids_ack_carries_final_id_different_from_provisional() -> None:
    venue, clock = make_sim_venue()
    venue.on_quote(quote(100, 101, at=clock.now()))
    result = venue.submit(make_order(Side.BUY, 1))
    ack, fill = venue.poll_events()
    assert isinstance(ack, Acknowledged)
    assert isinstance(fill, FillReport)
    assert result.venue_order_id is not None
    assert ack.venue_order_id != result.venue_order_id
    assert fill.fill.venue_order_id == ack.venue_order_id


def test_ids_reconnect_starts_a_new_session_for_provisional_ids() -> None:
    venue, clock = make_sim_venue()
    venue.on_quote(quote(100, 101, at=clock.now()))
    first = venue.submit(make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=90))
    venue.disconnect()
    venue.connect()
    second = venue.submit(make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=90))
    assert str(first.venue_order_id).split(":")[0] != str(second.venue_order_id).split(":")[0]


def test_rate_limit_enforced_beyond_burst_refills_with_time() -> None:
    limits = RateLimits(orders_per_second=2.0, order_burst=3)
    venue, clock = make_sim_venue(SimVenueConfig(rate_limits=limits, enforce_rate_limits=True))
    venue.on_quote(quote(100, 101, at=clock.now()))
    results = [
        venue.submit(make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=90)) for _ in range(4)
    ]
    assert [r.taken for r in results] == [True, True, True, False]
    assert results[-1].reason is Reason.RATE_LIMITED
    clock.advance(dt.timedelta(milliseconds=500))
    assert venue.submit(make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=90)).taken
    assert venue.counters.send_order_calls == 5  # refused calls still reached the API


def test_offsets_close_today_and_yesterday_use_separate_books() -> None:
    venue, clock = make_sim_venue()
    venue.on_quote(quote(100, 101, at=clock.now()))
    venue.submit(make_order(Side.BUY, 3, offset=OffsetFlag.OPEN))
    venue.start_of_day()
    venue.submit(make_order(Side.BUY, 2, offset=OffsetFlag.OPEN))
    record = (venue.positions().value or {})[CONTRACT]
    assert (record.long_yesterday, record.long_today) == (3, 2)
    venue.submit(make_order(Side.SELL, 2, offset=OffsetFlag.CLOSE_TODAY))
    venue.submit(make_order(Side.SELL, 1, offset=OffsetFlag.CLOSE_YESTERDAY))
    record = (venue.positions().value or {})[CONTRACT]
    assert (record.long_yesterday, record.long_today, record.net) == (2, 0, 2)


@pytest.mark.parametrize(
    ("offset", "lots"),
    [(OffsetFlag.CLOSE_TODAY, 1), (OffsetFlag.CLOSE_YESTERDAY, 4), (OffsetFlag.CLOSE, 4)],
)
def test_offsets_closing_more_than_held_rejected(offset: OffsetFlag, lots: int) -> None:
    venue, clock = make_sim_venue()
    venue.on_quote(quote(100, 101, at=clock.now()))
    venue.submit(make_order(Side.BUY, 3))
    venue.start_of_day()
    venue.poll_events()
    order = make_order(Side.SELL, lots, offset=offset)
    venue.submit(order)
    (event,) = venue.poll_events()
    assert isinstance(event, Rejected)
    assert event.reason is Reason.INVALID_ORDER
    assert "closable" in event.message


def test_offsets_working_closes_count_against_what_can_be_closed() -> None:
    venue, clock = make_sim_venue()
    venue.on_quote(quote(100, 101, at=clock.now()))
    venue.submit(make_order(Side.SELL, 2))  # short 2 today
    venue.submit(make_order(Side.BUY, 2, OrderType.LIMIT, limit_ticks=90, offset=OffsetFlag.CLOSE))
    venue.submit(make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=90, offset=OffsetFlag.CLOSE))
    rejected = [e for e in venue.poll_events() if isinstance(e, Rejected)]
    assert len(rejected) == 1


def test_day_end_expires_day_orders_and_start_recentres_band() -> None:
    from bastion.testing.venue_stubs import stub_spec

    venue, clock = make_sim_venue(specs={CONTRACT: stub_spec(price_band="0.1")})
    venue.on_quote(quote(100, 102, at=clock.now()))
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=95)
    venue.submit(order)
    venue.end_of_day()
    assert venue.order_status(order.client_order_id).value.status is VenueOrderStatus.EXPIRED  # type: ignore[union-attr]
    venue.on_quote(quote(200, 202, at=clock.now()))  # a new mark far away
    venue.start_of_day()
    far = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=185)
    venue.submit(far)
    assert any(
        isinstance(e, Acknowledged) and e.client_order_id == far.client_order_id
        for e in venue.poll_events()
    )
    assert venue.order_status(order.client_order_id).value.status is VenueOrderStatus.NOT_FOUND  # type: ignore[union-attr]


def test_canceled_order_status_and_unknown_cursor() -> None:
    venue, clock = make_sim_venue()
    venue.on_quote(quote(100, 101, at=clock.now()))
    order = make_order(Side.SELL, 1, OrderType.LIMIT, limit_ticks=110)
    venue.submit(order)
    venue.cancel(order.client_order_id)
    assert any(isinstance(e, Canceled) for e in venue.poll_events())
    assert venue.order_status(order.client_order_id).value.status is VenueOrderStatus.CANCELED  # type: ignore[union-attr]
    assert not venue.fills_since("not-a-cursor").is_known  # type: ignore[arg-type]
