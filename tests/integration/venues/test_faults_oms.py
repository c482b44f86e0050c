"""Every sim-venue fault kind, applied through the OMS, ends in the venue's truth.

Invariant: whatever the venue does to its reports (disconnects, drops, duplicates,
reorders, a fill after the cancel ack, injected rejects, stale quotes, halts), the OMS
ends with the right final order states and positions - from the reports alone where
they suffice, and after a resync from the venue's queries where reports were lost. A
fill is applied at most once and never dropped (ARCHITECTURE.md invariant 4).
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.clock import SimClock
from bastion.domain.enums import OrderType, Side
from bastion.domain.order_state import OrderState
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import Acknowledged, FillReport
from bastion.oms.manager import ApplyOutcome, OrderManager
from bastion.testing.oms_driver import OmsDriver
from bastion.testing.venue_stubs import CONTRACT, START, make_order, make_sim_venue, quote, trade
from bastion.venues.port import VenueOrderStatus
from bastion.venues.sim.config import (
    FaultConfig,
    FaultKind,
    HaltPolicy,
    ScheduledFault,
    SimVenueConfig,
)
from bastion.venues.sim.execution import SimVenue

BID, ASK = 16000, 16001


def _setup(config: SimVenueConfig | None = None) -> tuple[SimVenue, OmsDriver, SimClock]:
    venue, clock = make_sim_venue(config)
    venue.on_quote(quote(BID, ASK, at=clock.now()))
    return venue, OmsDriver(venue, OrderManager(), clock), clock


def _position(driver: OmsDriver) -> int:
    return driver.oms.book.positions.contract_position(CONTRACT)


def _venue_position(venue: SimVenue) -> int:
    record = (venue.positions().value or {}).get(CONTRACT)
    return 0 if record is None else record.net


def test_fault_disconnect_reports_held_then_delivered_on_reconnect_oms_catches_up() -> None:
    venue, driver, clock = _setup()
    order = make_order(Side.BUY, 2, OrderType.LIMIT, limit_ticks=BID - 1)
    driver.send(order)
    driver.pump()
    venue.faults.disconnect(10)
    venue.on_trade(trade(BID - 2, 5, at=clock.now()))  # fills while we cannot hear it
    assert driver.pump() == []
    assert driver.order(order.client_order_id).state is OrderState.ACCEPTED
    assert venue.positions().value is None  # unknown while disconnected, not flat
    clock.advance(dt.timedelta(seconds=10))
    driver.pump()
    assert driver.order(order.client_order_id).state is OrderState.FILLED
    assert _position(driver) == 2 == _venue_position(venue)


def test_fault_disconnect_losing_reports_resync_from_queries_restores_truth() -> None:
    venue, driver, clock = _setup()
    resting = make_order(Side.SELL, 3, OrderType.LIMIT, limit_ticks=ASK + 1)
    driver.send(resting)
    driver.pump()
    venue.faults.disconnect(5, lose_reports=True)
    venue.on_trade(trade(ASK + 2, 2, at=clock.now()))  # 2 of 3 fill, reports lost
    clock.advance(dt.timedelta(seconds=5))
    assert driver.pump() == []
    assert _position(driver) == 0  # the OMS has not heard
    assert driver.resync()
    live = driver.order(resting.client_order_id)
    assert (live.state, live.filled) == (OrderState.PARTIALLY_FILLED, 2)
    assert _position(driver) == -2 == _venue_position(venue)


def test_fault_dropped_fill_report_recovered_by_resync_exactly_once() -> None:
    venue, driver, _ = _setup()
    order = make_order(Side.BUY, 1)
    venue.faults.drop_next(2)  # the ack and the fill
    driver.send(order)
    assert driver.pump() == []
    assert driver.order(order.client_order_id).state is OrderState.PENDING_NEW
    driver.resync()
    driver.resync()  # a second resync changes nothing
    assert driver.order(order.client_order_id).state is OrderState.FILLED
    assert _position(driver) == 1 == _venue_position(venue)


def test_fault_dropped_cancel_report_settled_by_status_query() -> None:
    venue, driver, _ = _setup()
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 5)
    driver.send(order)
    driver.pump()
    venue.faults.drop_next()
    driver.cancel(order.client_order_id)
    assert driver.pump() == []
    assert driver.order(order.client_order_id).state is OrderState.CANCEL_PENDING
    driver.resync()
    assert driver.order(order.client_order_id).state is OrderState.CANCELED


def test_fault_duplicate_reports_fill_applied_once() -> None:
    venue, driver, _ = _setup()
    order = make_order(Side.SELL, 2)
    venue.faults.duplicate_next(2)
    driver.send(order)
    outcomes = [a.outcome for _, a in driver.pump()]
    assert outcomes.count(ApplyOutcome.DUPLICATE_FILL) == 1
    assert driver.order(order.client_order_id).state is OrderState.FILLED
    assert _position(driver) == -2 == _venue_position(venue)


def test_fault_reorder_fill_before_ack_ends_filled() -> None:
    venue, driver, _ = _setup()
    order = make_order(Side.BUY, 1)
    venue.faults.reorder_next()
    driver.send(order)
    events = [e for e, _ in driver.pump()]
    assert [type(e) for e in events] == [FillReport, Acknowledged]
    live = driver.order(order.client_order_id)
    assert live.state is OrderState.FILLED
    assert live.venue_order_id is not None
    assert _position(driver) == 1


def test_fault_fill_after_cancel_ack_keeps_canceled_and_moves_position() -> None:
    venue, driver, _ = _setup()
    order = make_order(Side.BUY, 4, OrderType.LIMIT, limit_ticks=BID - 3)
    driver.send(order)
    driver.pump()
    venue.faults.fill_after_cancel_next(lots=1)
    driver.cancel(order.client_order_id)
    kinds = [type(e).__name__ for e, _ in driver.pump()]
    assert kinds == ["Canceled", "FillReport"]
    live = driver.order(order.client_order_id)
    assert (live.state, live.filled) == (OrderState.CANCELED, 1)
    assert _position(driver) == 1 == _venue_position(venue)


def test_fault_fill_after_cancel_ack_completing_quantity_ends_filled() -> None:
    venue, driver, _ = _setup()
    order = make_order(Side.SELL, 2, OrderType.LIMIT, limit_ticks=ASK + 3)
    driver.send(order)
    driver.pump()
    venue.faults.fill_after_cancel_next()
    driver.cancel(order.client_order_id)
    driver.pump()
    assert driver.order(order.client_order_id).state is OrderState.FILLED
    assert _position(driver) == -2 == _venue_position(venue)
    status = venue.order_status(order.client_order_id).value
    assert status is not None
    assert status.filled == 2


def test_fault_injected_reject_reason_reaches_oms() -> None:
    venue, driver, _ = _setup()
    order = make_order(Side.BUY, 1)
    venue.faults.reject_next(Reason.POSITION_LIMIT, "exchange position limit")
    driver.send(order)
    driver.pump()
    live = driver.order(order.client_order_id)
    assert live.state is OrderState.REJECTED
    assert live.reject_reason is not None
    assert live.reject_reason.startswith("position_limit")
    assert _position(driver) == 0 == _venue_position(venue)


def test_fault_stale_quotes_published_quote_freezes_fills_use_real_market() -> None:
    venue, driver, clock = _setup()
    start = clock.now()
    venue.faults.stale_quotes(60)
    clock.advance(dt.timedelta(seconds=30))
    venue.on_quote(quote(BID + 8, ASK + 8, at=clock.now()))
    published = venue.market_quote(CONTRACT)
    assert published is not None
    assert published.timestamp == start  # a consumer checking age sees 30 s old data
    order = make_order(Side.BUY, 1)
    driver.send(order)
    driver.pump()
    live = driver.order(order.client_order_id)
    assert live.state is OrderState.FILLED
    assert live.filled_value_ticks == ASK + 8
    clock.advance(dt.timedelta(seconds=31))
    venue.on_quote(quote(BID, ASK, at=clock.now()))
    fresh = venue.market_quote(CONTRACT)
    assert fresh is not None
    assert fresh.timestamp == clock.now()


def test_fault_halt_with_reject_policy_rejects_then_trades_after_resume() -> None:
    venue, driver, clock = _setup()
    venue.faults.halt(CONTRACT, seconds=60)
    first = make_order(Side.BUY, 1)
    driver.send(first)
    driver.pump()
    assert driver.order(first.client_order_id).state is OrderState.REJECTED
    clock.advance(dt.timedelta(seconds=61))
    second = make_order(Side.BUY, 1)
    driver.send(second)
    driver.pump()
    assert driver.order(second.client_order_id).state is OrderState.FILLED
    assert _position(driver) == 1


def test_fault_halt_with_hold_policy_holds_order_until_resume() -> None:
    venue, driver, clock = _setup(SimVenueConfig(halt_policy=HaltPolicy.HOLD))
    venue.faults.halt(None)
    order = make_order(Side.SELL, 1)
    driver.send(order)
    venue.on_quote(quote(BID, ASK, at=clock.now()))
    driver.pump()
    assert driver.order(order.client_order_id).state is OrderState.ACCEPTED
    venue.resume(None)
    venue.on_quote(quote(BID, ASK, at=clock.now()))
    driver.pump()
    assert driver.order(order.client_order_id).state is OrderState.FILLED
    assert _position(driver) == -1


def test_fault_scheduled_disconnect_from_config_starts_at_its_time() -> None:
    at = START + dt.timedelta(seconds=5)
    config = SimVenueConfig(
        faults=FaultConfig(schedule=(ScheduledFault(at=at, kind=FaultKind.DISCONNECT, seconds=3),))
    )
    venue, _, clock = _setup(config)
    clock.advance(dt.timedelta(seconds=4))
    assert venue.positions().is_known
    clock.advance(dt.timedelta(seconds=1))
    assert not venue.positions().is_known
    clock.advance(dt.timedelta(seconds=3))
    assert venue.positions().is_known


def _random_session(seed: int, rates: tuple[float, float, float]) -> tuple[SimVenue, OmsDriver]:
    drop, duplicate, reorder = rates
    config = SimVenueConfig(
        seed=seed,
        faults=FaultConfig(drop_rate=drop, duplicate_rate=duplicate, reorder_rate=reorder),
    )
    venue, driver, clock = _setup(config)
    for step in range(12):
        side = Side.BUY if step % 3 else Side.SELL
        limit = BID - 1 if side is Side.BUY else ASK + 1
        order = make_order(side, 1 + step % 3, OrderType.LIMIT, limit_ticks=limit)
        driver.send(order)
        if step % 4 == 3:
            driver.cancel(order.client_order_id)
        clock.advance(dt.timedelta(seconds=1))
        price = BID - 2 if step % 2 else ASK + 2
        venue.on_trade(trade(price, 2, at=clock.now()))
        driver.pump()
    return venue, driver


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    rates=st.tuples(
        st.sampled_from([0.0, 0.2, 0.5]),
        st.sampled_from([0.0, 0.3]),
        st.sampled_from([0.0, 0.3]),
    ),
)
def test_fault_random_report_faults_after_resync_oms_equals_venue(
    seed: int, rates: tuple[float, float, float]
) -> None:
    venue, driver = _random_session(seed, rates)
    assert driver.resync()
    assert _position(driver) == _venue_position(venue)
    venue_fills = venue.fills_since(None).value
    assert venue_fills is not None
    assert driver.oms.book.exec_ids == {f.exec_id for f in venue_fills.fills}
    same = {
        VenueOrderStatus.WORKING: {OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED},
        VenueOrderStatus.FILLED: {OrderState.FILLED},
        VenueOrderStatus.CANCELED: {OrderState.CANCELED},
        VenueOrderStatus.REJECTED: {OrderState.REJECTED},
    }
    orders = [*driver.oms.book.broker_orders.values(), *driver.oms.book.history.values()]
    assert orders
    for order in orders:
        assert isinstance(order, BrokerOrder)
        status = venue.order_status(order.client_order_id).value
        assert status is not None
        assert order.state in same[status.status], (order, status)
        assert order.filled == status.filled


def test_fault_random_faults_same_seed_same_reports() -> None:
    first = [type(e).__name__ for e, _ in _random_session(7, (0.3, 0.3, 0.3))[1].applied]
    second = [type(e).__name__ for e, _ in _random_session(7, (0.3, 0.3, 0.3))[1].applied]
    assert first == second
