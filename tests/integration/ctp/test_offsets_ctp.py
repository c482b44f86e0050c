"""CTP conformance cases: net orders become the legs each exchange wants, never closing
more than the book holds, and an order outside the day's limits never leaves.

- CTP-01 close-today on SHFE;
- CTP-02 close on DCE (one Close, the exchange takes the oldest first);
- CTP-03 a close larger than yesterday's book splits into CloseYesterday + CloseToday;
- CTP-04 beyond the book: close what is held, open the rest;
- CTP-05 an order outside the band is refused before it leaves; at the band it goes;
- CTP-06 a "market" order into a limit-locked book is a limit at the band, and the order
  is visibly stuck at the limit.
"""

from __future__ import annotations

from bastion.domain.enums import OffsetFlag, OrderType, Side
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import FillReport, Rejected
from bastion.testing.venue_stubs import make_order
from tests.integration.ctp.conftest import RB, Kit, M


def _offsets(kit: Kit) -> list[tuple[str, int]]:
    return [(o.offset, o.volume) for o in kit.counter.orders.values()]


def _filled(events: list[object]) -> int:
    return sum(e.fill.quantity for e in events if isinstance(e, FillReport))


def test_ctp01_shfe_close_of_todays_position_says_close_today(kit: Kit) -> None:
    venue = kit.venue()
    venue.submit(make_order(Side.BUY, 3, contract_id=RB))
    venue.submit(make_order(Side.SELL, 2, contract_id=RB))
    assert _filled(venue.poll_events()) == 5
    assert _offsets(kit) == [("0", 3), ("3", 2)]
    record = (venue.positions().value or {})[RB]
    assert (record.long_today, record.long_yesterday, record.net) == (1, 0, 1)


def test_ctp02_dce_close_says_close_and_takes_the_oldest_first(kit: Kit) -> None:
    kit.venue().submit(make_order(Side.BUY, 3, contract_id=M))
    venue = kit.next_day()
    venue.submit(make_order(Side.BUY, 1, contract_id=M))
    venue.submit(make_order(Side.SELL, 4, contract_id=M))
    events = venue.poll_events()
    assert _filled(events) == 5
    assert _offsets(kit) == [("0", 1), ("1", 4)]
    assert venue.positions().value == {}
    assert kit.counter.books[M] == {
        "long_today": 0,
        "long_yesterday": 0,
        "short_today": 0,
        "short_yesterday": 0,
    }


def test_ctp03_shfe_close_larger_than_yesterdays_book_splits(kit: Kit) -> None:
    kit.venue().submit(make_order(Side.BUY, 2, contract_id=RB))
    venue = kit.next_day()
    venue.submit(make_order(Side.BUY, 3, contract_id=RB))
    venue.submit(make_order(Side.SELL, 4, contract_id=RB))
    assert _filled(venue.poll_events()) == 7
    assert _offsets(kit) == [("0", 3), ("4", 2), ("3", 2)]
    record = (venue.positions().value or {})[RB]
    assert (record.long_yesterday, record.long_today) == (0, 1)


def test_ctp04_sell_beyond_the_book_closes_what_is_held_and_opens_the_rest(kit: Kit) -> None:
    kit.venue().submit(make_order(Side.BUY, 2, contract_id=RB))
    venue = kit.next_day()
    order = make_order(Side.SELL, 5, contract_id=RB)
    venue.submit(order)
    events = venue.poll_events()
    assert _filled(events) == 5
    assert _offsets(kit) == [("4", 2), ("0", 3)]
    record = (venue.positions().value or {})[RB]
    assert (record.long, record.short_today, record.net) == (0, 3, -3)


def test_ctp04_named_close_the_book_cannot_cover_is_refused_before_it_leaves(kit: Kit) -> None:
    venue = kit.venue()
    order = make_order(Side.SELL, 1, contract_id=RB, offset=OffsetFlag.CLOSE_TODAY)
    result = venue.submit(order)
    assert not result.taken
    rejected = [e for e in venue.poll_events() if isinstance(e, Rejected)]
    assert rejected[0].reason is Reason.INVALID_ORDER
    assert "can close only 0" in rejected[0].message
    assert kit.counter.requests["insert_order"] == 0


def test_ctp05_order_outside_the_band_is_refused_before_it_leaves(kit: Kit) -> None:
    venue = kit.venue()
    quote = venue.market.quote(RB)
    assert quote is not None
    assert quote.band is not None
    _, high = quote.band
    outside = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=high + 1, contract_id=RB)
    result = venue.submit(outside)
    assert not result.taken
    assert result.reason is Reason.PRICE_OUTSIDE_BAND
    assert kit.counter.requests["insert_order"] == 0
    assert venue.counters.send_order_calls == 1  # the call is counted; nothing left
    at_band = make_order(Side.SELL, 1, OrderType.LIMIT, limit_ticks=high, contract_id=RB)
    assert venue.submit(at_band).taken
    assert kit.counter.requests["insert_order"] == 1
    events = venue.poll_events()
    assert [e.reason for e in events if isinstance(e, Rejected)] == [Reason.PRICE_OUTSIDE_BAND]


def test_ctp06_market_order_into_limit_up_is_a_limit_at_the_band_and_stuck(kit: Kit) -> None:
    venue = kit.venue()
    band = kit.counter.band(RB)
    assert band is not None
    kit.counter.set_quote(RB, band[1], None, bid_size=500)  # locked at limit up: no sellers
    quote = venue.market.quote(RB)
    assert quote is not None
    assert quote.halted
    assert quote.ask_ticks is None
    assert venue.ctp_market.limit_state(RB) == "limit_up"
    order = make_order(Side.BUY, 1, contract_id=RB)
    assert venue.submit(order).taken
    sent = list(kit.counter.orders.values())[-1]
    assert sent.price == float(band[1])
    assert venue.stuck_at_limit() == (order.client_order_id,)
