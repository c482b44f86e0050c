"""Trades and order reports map back to Bastion's orders whatever session sent them;
a repeated trade counts once; only what maps to no Bastion order is foreign, and it is
reported, never dropped (VENUES.md: order identity, recovery).

Invariants: (ExchangeID, TradeID, Direction) is applied once; RESTART replay after a
restart brings back Bastion's own trades of earlier sessions as Bastion's; a foreign trade
reaches the OMS as FOREIGN; a fill after a cancel is delivered.
"""

from __future__ import annotations

from bastion.domain.enums import OrderType, Side
from bastion.domain.venue_events import Acknowledged, Canceled, FillReport
from bastion.oms.manager import ApplyOutcome, OrderManager
from bastion.testing.venue_stubs import make_order
from tests.integration.ctp.conftest import RB, Kit


def _fills(events: list[object]) -> list[FillReport]:
    return [e for e in events if isinstance(e, FillReport)]


def test_trades_duplicate_trade_reaches_bastion_once(kit: Kit) -> None:
    venue = kit.venue()
    kit.counter.faults.duplicate_trades = 1
    order = make_order(Side.BUY, 2, contract_id=RB)
    venue.submit(order)
    fills = _fills(venue.poll_events())
    assert [f.fill.quantity for f in fills] == [2]
    assert venue.duplicate_trades == 1
    assert [c.method for c in kit.counter.flow].count("OnRtnTrade") == 2  # sent twice


def test_trades_partial_fill_leaves_the_rest_working(kit: Kit) -> None:
    venue = kit.venue()
    kit.counter.set_quote(RB, 3850, 3851, bid_size=50, ask_size=2)
    order = make_order(Side.BUY, 5, OrderType.LIMIT, limit_ticks=3851, contract_id=RB)
    venue.submit(order)
    assert sum(f.fill.quantity for f in _fills(venue.poll_events())) == 2
    working = venue.open_orders().value or ()
    assert [(o.client_order_id, o.filled, o.remaining) for o in working] == [
        (order.client_order_id, 2, 3)
    ]


def test_trades_cancel_after_a_partial_fill_says_what_was_traded(kit: Kit) -> None:
    venue = kit.venue()
    kit.counter.set_quote(RB, 3850, 3851, bid_size=50, ask_size=2)
    order = make_order(Side.BUY, 5, OrderType.LIMIT, limit_ticks=3851, contract_id=RB)
    venue.submit(order)
    venue.poll_events()
    venue.cancel(order.client_order_id)
    canceled = [e for e in venue.poll_events() if isinstance(e, Canceled)]
    assert [(c.client_order_id, c.filled) for c in canceled] == [(order.client_order_id, 2)]


def test_trades_fill_after_cancel_is_delivered(kit: Kit) -> None:
    venue = kit.venue()
    order = make_order(Side.BUY, 2, OrderType.LIMIT, limit_ticks=3840, contract_id=RB)
    venue.submit(order)
    venue.poll_events()
    kit.counter.exchange.faults.fill_after_cancel_next()
    venue.cancel(order.client_order_id)
    events = venue.poll_events()
    kinds = [type(e).__name__ for e in events]
    assert "Canceled" in kinds, kinds
    assert "FillReport" in kinds, kinds
    assert sum(f.fill.quantity for f in _fills(events)) == 2


def test_trades_restart_replay_maps_earlier_sessions_trades_to_bastion(kit: Kit) -> None:
    first = kit.venue()
    bought = make_order(Side.BUY, 3, contract_id=RB)
    resting = make_order(Side.SELL, 1, OrderType.LIMIT, limit_ticks=3870, contract_id=RB)
    first.submit(bought)
    first.submit(resting)
    first.poll_events()
    first.disconnect()  # a crash: the next process logs in with a new session
    second = kit.venue()
    assert second.session_id != first.session_id
    page = second.fills_since(None).value
    assert page is not None
    assert [f.client_order_id for f in page.fills] == [bought.client_order_id]
    assert second.foreign_trades == []
    working = second.open_orders().value or ()
    assert [o.client_order_id for o in working] == [resting.client_order_id]
    # The earlier session's working order is still Bastion's to cancel (by OrderSysID).
    assert second.cancel(resting.client_order_id).taken
    assert any(isinstance(e, Canceled) for e in second.poll_events())


def test_trades_remember_maps_a_journaled_order_without_the_order_map(kit: Kit) -> None:
    first = kit.venue(shared_map=False)
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=3840, contract_id=RB)
    first.submit(order)
    ack = next(e for e in first.poll_events() if isinstance(e, Acknowledged))
    first.disconnect()
    order.venue_order_id = ack.venue_order_id  # what the journal holds
    second = kit.venue(shared_map=False, connect=False)
    second.remember(order)
    assert second.connect()
    assert [o.client_order_id for o in second.open_orders().value or ()] == [order.client_order_id]


def test_trades_foreign_trade_is_reported_and_the_oms_calls_it_foreign(kit: Kit) -> None:
    manual = kit.venue(shared_map=False)  # another terminal: its orders are not Bastion's
    manual.submit(make_order(Side.BUY, 2, contract_id=RB))
    manual.poll_events()
    manual.disconnect()
    bastion = kit.venue()
    assert len(bastion.foreign_trades) == 1
    assert any("foreign trade" in p for p in bastion.problems)
    fills = _fills(bastion.poll_events())
    assert [f.fill.client_order_id.startswith("ctp-foreign:SHFE:") for f in fills] == [True]
    applied = OrderManager().apply(fills[0])
    assert applied.outcome is ApplyOutcome.FOREIGN
