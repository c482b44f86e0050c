"""Invariant: only live IB market data is fresh; delayed or frozen data (types 2-4,
delayed tick types, 10167) counts as stale, so the stale-data guard pauses orders, and a
contract IB has no data for (354) has no quote at all. A fill waits in its place for its
commission report, nothing overtakes it, and it is released without one after the wait; a
cancel from error 202 waits the same way for the orderStatus that says what was filled."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bastion.domain.enums import Side
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ExecId
from bastion.domain.venue_events import Acknowledged, Canceled, FillReport
from bastion.risk.guards import GuardKind, guard_pause
from bastion.testing.venue_stubs import CONTRACT
from bastion.venues.ib.events import EventQueue
from bastion.venues.ib.market_data import DELAYED_AGE, IbMarket

NOW = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)
STALE_AFTER = dt.timedelta(seconds=30)


def _pause(market: IbMarket) -> GuardKind | None:
    found = guard_pause(
        CONTRACT, market.quote(CONTRACT), now=NOW, in_session=True, stale_after=STALE_AFTER,
        max_spread_ticks=None,
    )  # fmt: skip
    return None if found is None else found.kind


def test_market_live_ticks_are_fresh() -> None:
    market = IbMarket()
    market.on_data_type(CONTRACT, 1)
    market.on_price(CONTRACT, 1, 16000, 5, NOW)
    market.on_price(CONTRACT, 2, 16001, 7, NOW)
    market.on_price(CONTRACT, 4, 16001, 1, NOW)
    quote = market.quote(CONTRACT)
    assert quote is not None
    assert (quote.bid_ticks, quote.ask_ticks, quote.last_ticks) == (16000, 16001, 16001)
    assert (quote.bid_size, quote.ask_size, quote.last_tick_at) == (5, 7, NOW)
    assert _pause(market) is None


def test_market_delayed_ticks_or_delayed_type_are_stale() -> None:
    delayed_ticks = IbMarket()
    delayed_ticks.on_price(CONTRACT, 66, 16000, 5, NOW)
    delayed_ticks.on_price(CONTRACT, 67, 16001, 5, NOW)
    quote = delayed_ticks.quote(CONTRACT)
    assert quote is not None
    assert quote.last_tick_at == NOW - DELAYED_AGE
    assert _pause(delayed_ticks) is GuardKind.STALE
    for data_type in (2, 3, 4):
        market = IbMarket()
        market.on_data_type(CONTRACT, data_type)
        market.on_price(CONTRACT, 1, 16000, 5, NOW)
        market.on_price(CONTRACT, 2, 16001, 5, NOW)
        assert _pause(market) is GuardKind.STALE, data_type


def test_market_unavailable_has_no_quote_and_halt_tick_halts() -> None:
    market = IbMarket()
    market.on_price(CONTRACT, 1, 16000, 5, NOW)
    market.on_unavailable(CONTRACT, "IB 354: Requested market data is not subscribed.")
    assert market.quote(CONTRACT) is None
    assert _pause(market) is GuardKind.NO_DATA
    market.on_price(CONTRACT, 1, 16000, 5, NOW)
    market.on_halted(CONTRACT, halted=True)
    assert _pause(market) is GuardKind.HALTED


def _fill(exec_id: str) -> Fill:
    return Fill(
        exec_id=ExecId(exec_id), client_order_id=ClientOrderId("B1"), contract_id=CONTRACT,
        side=Side.BUY, quantity=1, price_ticks=16001, timestamp=NOW,
    )  # fmt: skip


def test_event_queue_fill_waits_for_its_commission_in_order() -> None:
    clock = [0.0]
    queue = EventQueue(2.0, monotonic=lambda: clock[0])
    queue.push_fill(_fill("e1"), None)
    ack = Acknowledged(client_order_id=ClientOrderId("B2"), venue_order_id="9", timestamp=NOW)  # type: ignore[arg-type]
    queue.push(ack)
    assert queue.drain() == []  # nothing overtakes the waiting fill
    assert queue.attach_commission("e1", Decimal("2.5"))
    events = queue.drain()
    assert isinstance(events[0], FillReport)
    assert events[0].fill.commission == Decimal("2.5")
    assert events[1] == ack
    assert not queue.attach_commission("e1", Decimal(1))  # too late: nothing waits


def test_event_queue_fill_released_without_commission_after_the_wait() -> None:
    clock = [0.0]
    queue = EventQueue(2.0, monotonic=lambda: clock[0])
    queue.push_fill(_fill("e1"), None)
    clock[0] = 1.9
    assert queue.drain() == []
    clock[0] = 2.0
    events = queue.drain()
    assert len(events) == 1
    assert isinstance(events[0], FillReport)
    assert events[0].fill.commission == 0
    assert queue.released_without_commission == 1


def test_event_queue_known_commission_goes_at_once() -> None:
    queue = EventQueue(2.0)
    queue.push_fill(_fill("e1"), Decimal(3))
    (event,) = queue.drain()
    assert isinstance(event, FillReport)
    assert event.fill.commission == 3


def test_event_queue_held_cancel_takes_the_status_that_follows_or_goes_after_the_wait() -> None:
    clock = [0.0]
    queue = EventQueue(2.0, monotonic=lambda: clock[0])
    coid = ClientOrderId("B3")
    queue.push_held(coid, Canceled(client_order_id=coid, timestamp=NOW, filled=0))
    assert queue.drain() == []
    assert queue.complete(coid, Canceled(client_order_id=coid, timestamp=NOW, filled=2))
    assert [e.filled for e in queue.drain() if isinstance(e, Canceled)] == [2]
    assert not queue.complete(coid, Canceled(client_order_id=coid, timestamp=NOW))
    queue.push_held(coid, Canceled(client_order_id=coid, timestamp=NOW, filled=1))
    clock[0] = 1.9
    assert queue.drain() == []
    clock[0] = 2.0
    assert [e.filled for e in queue.drain() if isinstance(e, Canceled)] == [1]
