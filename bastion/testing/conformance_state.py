"""Conformance cases VC-27 to VC-40: fills, ids, snapshots, modes, counters, faults, OMS."""

from __future__ import annotations

import datetime as dt

from bastion.domain.enums import OrderType, Side
from bastion.domain.order_state import OrderState
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import Acknowledged, CancelRejected, FillReport, Rejected
from bastion.oms.manager import ApplyOutcome, OrderManager
from bastion.testing.conformance_base import (
    Capability,
    ConformanceHarness,
    EventLog,
    case,
    check,
    known,
)
from bastion.testing.oms_driver import OmsDriver
from bastion.testing.venue_stubs import make_order
from bastion.venues.modes import DryRunVenue, ReadOnlyVenue
from bastion.venues.port import SnapshotStatus

M = Capability.MARKET_CONTROL
BID, ASK = 16000, 16001


@case("VC-27", "commission is charged once per fill, per contract", M)
def vc27(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK, ask_size=2)
    before = h.venue.account().value
    order = make_order(Side.BUY, 5, contract_id=h.contract_id)
    h.venue.submit(order)
    h.set_quote(BID, ASK, ask_size=10)
    fills = [f.fill for f in log.fills(order.client_order_id)]
    check(len(fills) == 2, f"want a partial then the rest, got {fills}")
    rate = fills[0].commission / fills[0].quantity
    check(all(f.commission == rate * f.quantity for f in fills), "commission = rate x lots")
    start = known(before, "the account before")
    after = known(h.venue.account().value, "the account after")
    charged = after.commissions - start.commissions
    check(charged == sum(f.commission for f in fills), f"account charged {charged} once")


@case("VC-28", "every fill has its own execution id", M)
def vc28(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK, ask_size=1)
    order = make_order(Side.BUY, 3, contract_id=h.contract_id)
    h.venue.submit(order)
    for step in range(2):
        h.set_quote(BID, ASK + step, ask_size=1)
    ids = [f.fill.exec_id for f in log.fills(order.client_order_id)]
    check(len(ids) == 3 and len(set(ids)) == 3, f"exec ids {ids}")


@case("VC-29", "the venue order id from the ack is the one later reports carry", M)
def vc29(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK)
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID, contract_id=h.contract_id)
    result = h.venue.submit(order)
    ack = log.one(Acknowledged, order.client_order_id)
    h.print_trade(BID - 1, 5)
    fills = log.fills(order.client_order_id)
    check(len(fills) == 1, f"the limit fills when traded through: {fills}")
    check(fills[0].fill.venue_order_id == ack.venue_order_id, "fill names the acked id")
    if result.venue_order_id is not None:
        check(bool(ack.venue_order_id), "the ack carries the venue's id")


@case("VC-30", "positions show long and short books behind the net", M)
def vc30(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK)
    empty = h.venue.positions()
    check(empty.is_known and empty.value == {}, "a fresh account is confirmed flat")
    buy = make_order(Side.BUY, 3, contract_id=h.contract_id)
    sell = make_order(Side.SELL, 1, contract_id=h.contract_id)
    h.venue.submit(buy)
    h.venue.submit(sell)
    check(log.filled(buy.client_order_id) + log.filled(sell.client_order_id) == 4, "all filled")
    record = (h.venue.positions().value or {}).get(h.contract_id)
    record = known(record, "the position record")
    check(record.net == 2, f"net 2 long, got {record}")
    check(record.long - record.short == record.net, "books add up to the net")


@case("VC-31", "the account snapshot is consistent", M)
def vc31(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK)
    order = make_order(Side.BUY, 2, contract_id=h.contract_id)
    h.venue.submit(order)
    log.drain()
    snap = h.venue.account()
    check(snap.is_known and snap.taken_at is not None, "account known with a time")
    account = known(snap.value, "the account")
    check(account.margin_used > 0, "an open position uses margin")
    check(
        account.margin_available <= account.equity - account.margin_used,
        "available never exceeds equity less margin used",
    )


@case("VC-32", "fills since a cursor are only the newer fills", M)
def vc32(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK)
    first = make_order(Side.BUY, 1, contract_id=h.contract_id)
    h.venue.submit(first)
    page = known(h.venue.fills_since(None).value, "the first fills page")
    check([f.client_order_id for f in page.fills] == [first.client_order_id], "first page")
    second = make_order(Side.SELL, 1, contract_id=h.contract_id)
    h.venue.submit(second)
    later = known(h.venue.fills_since(page.next_cursor).value, "the next fills page")
    check([f.client_order_id for f in later.fills] == [second.client_order_id], "only new")
    log.drain()


@case("VC-33", "open orders list working orders only", M)
def vc33(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK)
    resting = make_order(
        Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 3, contract_id=h.contract_id
    )
    filled = make_order(Side.BUY, 1, contract_id=h.contract_id)
    h.venue.submit(resting)
    h.venue.submit(filled)
    log.drain()
    ids = [o.client_order_id for o in h.venue.open_orders().value or ()]
    check(ids == [resting.client_order_id], f"open orders {ids}")


def _refusing_wrapper_case(h: ConformanceHarness, wrapper: ReadOnlyVenue) -> None:
    h.set_quote(BID, ASK)
    inner_log = EventLog(wrapper)
    order = make_order(Side.BUY, 1, contract_id=h.contract_id)
    check(not wrapper.submit(order).taken, "order refused")
    check(not wrapper.cancel(order.client_order_id).taken, "cancel refused")
    replacement = make_order(Side.BUY, 1, contract_id=h.contract_id)
    check(not wrapper.modify(order.client_order_id, replacement).taken, "modify refused")
    check(log_reason(inner_log, order) is Reason.READ_ONLY, "the refusal is an event")
    check(wrapper.counters.total == 0, f"order API reached: {wrapper.counters}")
    check(h.venue.counters.total == 0, "the wrapped venue's counters stay at zero")
    check(wrapper.positions().is_known, "queries still work")


def log_reason(log: EventLog, order: object) -> Reason | None:
    coid = getattr(order, "client_order_id", "")
    found = [e for e in log.drain() if isinstance(e, Rejected) and e.client_order_id == coid]
    return found[0].reason if found else None


@case("VC-34", "read-only mode refuses order calls and the counters stay at zero", M)
def vc34(h: ConformanceHarness) -> None:
    _refusing_wrapper_case(h, ReadOnlyVenue(h.venue, _HarnessClock(h)))


@case("VC-35", "dry-run mode keeps what it would send and the counters stay at zero", M)
def vc35(h: ConformanceHarness) -> None:
    wrapper = DryRunVenue(h.venue, _HarnessClock(h))
    _refusing_wrapper_case(h, wrapper)
    check(len(wrapper.would_send) == 2, f"dry run kept {wrapper.would_send}")


class _HarnessClock:
    def __init__(self, h: ConformanceHarness) -> None:
        self._h = h

    def now(self) -> dt.datetime:
        return self._h.now()


@case("VC-36", "the counters count every order call", M)
def vc36(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK)
    a = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 3, contract_id=h.contract_id)
    b = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 2, contract_id=h.contract_id)
    h.venue.submit(a)
    h.venue.modify(a.client_order_id, b)
    h.venue.cancel(b.client_order_id)
    log.drain()
    counters = h.venue.counters.as_dict()
    check(counters == {"send_order_calls": 2, "cancel_order_calls": 2}, f"counters {counters}")


@case(
    "VC-37", "a disconnected venue is unknown, never flat, and refuses orders", M, Capability.FAULTS
)
def vc37(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK)
    h.disconnect_for(30)
    for snap in (h.venue.positions(), h.venue.account(), h.venue.open_orders()):
        check(snap.status is SnapshotStatus.UNKNOWN and snap.value is None, f"got {snap}")
    order = make_order(contract_id=h.contract_id)
    h.venue.submit(order)
    check(log.one(Rejected, order.client_order_id).reason is Reason.CONNECTION, "reason")


@case("VC-38", "a halted market rejects new orders", M, Capability.HALT_CONTROL)
def vc38(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK)
    h.halt()
    order = make_order(contract_id=h.contract_id)
    h.venue.submit(order)
    check(log.one(Rejected, order.client_order_id).reason is Reason.HALTED, "reason")


@case("VC-39", "the venue declares usable rate limits")
def vc39(h: ConformanceHarness) -> None:
    limits = h.venue.rate_limits
    check(limits.orders_per_second > 0 and limits.order_burst >= 1, f"limits {limits}")
    check(limits.queries_per_second > 0, "queries need a rate too")


@case("VC-40", "a duplicate fill report is ignored by the OMS", M, Capability.FAULTS)
def vc40(h: ConformanceHarness) -> None:
    h.set_quote(BID, ASK)
    driver = OmsDriver(h.venue, OrderManager(), _HarnessClock(h))
    order = make_order(Side.BUY, 2, contract_id=h.contract_id)
    h.duplicate_next_report()
    h.duplicate_next_report()
    driver.send(order)
    outcomes = driver.pump()
    fills = [e for e, _ in outcomes if isinstance(e, FillReport)]
    check(len(fills) >= 2, f"the duplicate reached the OMS: {outcomes}")
    check(
        any(a.outcome is ApplyOutcome.DUPLICATE_FILL for _, a in outcomes),
        "the repeated execution id was recognised",
    )
    live = known(driver.oms.book.broker_order(order.client_order_id), "the OMS order")
    check(live.state is OrderState.FILLED and live.filled == 2, f"order {live}")
    position = driver.oms.book.positions.contract_position(h.contract_id)
    check(position == 2, f"position {position}, want 2 (not 4)")
    check(not any(isinstance(e, CancelRejected) for e, _ in outcomes), "no stray reports")
