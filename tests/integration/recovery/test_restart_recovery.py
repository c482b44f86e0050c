"""Restart recovery settles the rebuilt book with the venue (R5.4), against the sim venue.

Invariants: an order written ahead but never sent becomes LOST; an order the venue
acknowledged while Bastion was down is adopted; a fill that never reached the journal
is applied exactly once, however often recovery runs; another client's orders and fills
are flagged, never adopted silently; an unknown venue changes nothing and says so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import UNATTRIBUTED, InstrumentId
from bastion.domain.order_state import OrderState
from bastion.oms.manager import OrderManager
from bastion.oms.recovery import recover
from bastion.store.sqlite import SqliteStore, StoreMode
from bastion.testing.oms_driver import created_record
from bastion.testing.venue_stubs import CONTRACT, make_order, make_sim_venue, quote

BID, ASK = 16000, 16001


def _setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    venue, clock = make_sim_venue()
    venue.on_quote(quote(BID, ASK, at=clock.now()))
    store = SqliteStore(tmp_path / "journal.db", mode=StoreMode.LIVE, clock=clock)
    return venue, clock, store


def _restart(store: SqliteStore, tmp_path: Path, clock) -> SqliteStore:  # type: ignore[no-untyped-def]
    store.close()
    return SqliteStore(tmp_path / "journal.db", mode=StoreMode.LIVE, clock=clock)


def test_recover_written_ahead_never_sent_marks_lost(tmp_path: Path) -> None:
    venue, clock, store = _setup(tmp_path)
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 5)
    OrderManager(store).write_ahead(created_record(order))
    store = _restart(store, tmp_path, clock)
    oms = OrderManager(store)
    result = recover(oms, venue, clock, None)
    assert result.complete
    assert result.lost == [order.client_order_id]
    assert oms.book.broker_order(order.client_order_id).state is OrderState.LOST  # type: ignore[union-attr]
    store.close()


def test_recover_sent_but_ack_not_journaled_adopts_working_order(tmp_path: Path) -> None:
    venue, clock, store = _setup(tmp_path)
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 5)
    OrderManager(store).write_ahead(created_record(order))
    assert venue.submit(order).taken  # the ack sits unread in the venue when we "crash"
    store = _restart(store, tmp_path, clock)
    oms = OrderManager(store)
    result = recover(oms, venue, clock, None)
    assert result.adopted == [order.client_order_id]
    assert not result.lost
    live = oms.book.broker_order(order.client_order_id)
    assert live is not None
    assert live.state is OrderState.ACCEPTED
    assert live.venue_order_id
    store.close()


def test_recover_fill_not_journaled_applied_once_across_recoveries(tmp_path: Path) -> None:
    venue, clock, store = _setup(tmp_path)
    order = make_order(Side.BUY, 2)
    OrderManager(store).write_ahead(created_record(order))
    venue.submit(order)  # fills at once; the reports are never drained: the crash
    store = _restart(store, tmp_path, clock)
    oms = OrderManager(store)
    first = recover(oms, venue, clock, None)
    assert first.fills_applied >= 1
    assert first.complete
    assert oms.book.positions.contract_position(CONTRACT) == 2
    assert oms.book.broker_order(order.client_order_id).state is OrderState.FILLED  # type: ignore[union-attr]
    second = recover(oms, venue, clock, None)  # from the top again: all duplicates
    assert second.fills_applied == 0
    assert second.fills_duplicate == first.fills_applied
    for event in venue.poll_events():  # the late reports change nothing either
        oms.apply(event)
    assert oms.book.positions.contract_position(CONTRACT) == 2
    assert recover(oms, venue, clock, first.cursor).fills_applied == 0
    store.close()


def test_recover_other_clients_orders_and_fills_are_flagged(tmp_path: Path) -> None:
    venue, clock, store = _setup(tmp_path)
    venue.submit(make_order(Side.SELL, 1, client_order_id="MANUAL-1"))
    venue.submit(
        make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 9, client_order_id="MANUAL-2")
    )
    oms = OrderManager(store)
    result = recover(oms, venue, clock, None)
    assert [f.client_order_id for f in result.foreign_fills] == ["MANUAL-1"]
    assert [o.client_order_id for o in result.foreign_orders] == ["MANUAL-2"]
    # The venue traded: the contract position follows it, held by the reserved
    # unattributed strategy (flagged, never owned by a strategy without an operator).
    assert oms.book.positions.contract_position(CONTRACT) == -1
    assert oms.book.positions.strategy == {(UNATTRIBUTED, InstrumentId("ES")): -1}
    kinds = [e.record.kind for e in store.entries() if e.event_type == "note"]  # type: ignore[union-attr]
    assert "foreign_order" in kinds
    assert "foreign_fill" in kinds
    store.close()


def test_recover_disconnected_venue_is_incomplete_and_changes_nothing(tmp_path: Path) -> None:
    venue, clock, store = _setup(tmp_path)
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 5)
    oms = OrderManager(store)
    oms.write_ahead(created_record(order))
    venue.disconnect()
    before = store.last_seq
    result = recover(oms, venue, clock, None)
    assert not result.complete
    assert result.problems
    assert store.last_seq == before
    assert oms.book.broker_order(order.client_order_id).state is OrderState.PENDING_NEW  # type: ignore[union-attr]
    clock.advance(dt.timedelta(seconds=1))
    store.close()
