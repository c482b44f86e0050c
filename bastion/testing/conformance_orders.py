"""Conformance cases VC-01 to VC-26: order types, time in force, cancels, rejects.

Prices are ticks; the default market is bid 16000 / ask 16001, 10 lots each side.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ContractId
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    FillReport,
    Rejected,
)
from bastion.testing.conformance_base import (
    Capability,
    ConformanceHarness,
    EventLog,
    VenueSetup,
    case,
    check,
)
from bastion.testing.venue_stubs import make_order

M = Capability.MARKET_CONTROL
BID, ASK = 16000, 16001


def _market(h: ConformanceHarness, log: EventLog | None = None) -> EventLog:
    h.set_quote(BID, ASK)
    return log or EventLog(h.venue)


def _rejected_with(h: ConformanceHarness, log: EventLog, order_kw: dict[str, object]) -> None:
    """The order is rejected as INVALID_ORDER, and nothing of it is left at the venue."""
    order = make_order(contract_id=h.contract_id, **order_kw)  # type: ignore[arg-type]
    result = h.venue.submit(order)
    rejected = log.one(Rejected, order.client_order_id)
    check(rejected.reason is Reason.INVALID_ORDER, f"reason {rejected.reason}, want INVALID_ORDER")
    check(bool(rejected.message), "a reject must say why")
    check(not result.taken or result.reason is None, "a refused call reports its reason")
    log.none((Acknowledged, FillReport), order.client_order_id)
    opened = h.venue.open_orders()
    check(opened.is_known and not opened.value, "a rejected order must not be working")


@case("VC-01", "market buy fills", M)
def vc01(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(Side.BUY, 2, contract_id=h.contract_id)
    check(h.venue.submit(order).taken, "submit must be taken")
    fills = log.fills(order.client_order_id)
    check(sum(f.fill.quantity for f in fills) == 2, f"filled {fills}")
    check(all(f.fill.side is Side.BUY for f in fills), "fills keep the order's side")
    check(all(f.fill.price_ticks >= ASK for f in fills), "a market buy pays at least the ask")


@case("VC-02", "market sell fills", M)
def vc02(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(Side.SELL, 3, contract_id=h.contract_id)
    h.venue.submit(order)
    check(log.filled(order.client_order_id) == 3, "a market sell fills its quantity")
    fills = log.fills(order.client_order_id)
    check(all(f.fill.price_ticks <= BID for f in fills), "a market sell gets at most the bid")


@case("VC-03", "marketable limit fills at the touch", M)
def vc03(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=ASK + 5, contract_id=h.contract_id)
    h.venue.submit(order)
    fills = log.fills(order.client_order_id)
    check([f.fill.price_ticks for f in fills] == [ASK], f"want one fill at the ask, got {fills}")


@case("VC-04", "passive limit is acknowledged and rests", M)
def vc04(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 2, contract_id=h.contract_id)
    h.venue.submit(order)
    log.one(Acknowledged, order.client_order_id)
    log.none((FillReport,), order.client_order_id)
    opened = h.venue.open_orders()
    check(opened.is_known, "open orders must be known while connected")
    ids = [o.client_order_id for o in opened.value or ()]
    check(ids == [order.client_order_id], f"open orders {ids}")


@case("VC-05", "resting limit fills at its price when the market trades through it", M)
def vc05(h: ConformanceHarness) -> None:
    log = _market(h)
    limit = BID - 2
    order = make_order(Side.BUY, 2, OrderType.LIMIT, limit_ticks=limit, contract_id=h.contract_id)
    h.venue.submit(order)
    h.print_trade(limit - 1, 5)
    fills = log.fills(order.client_order_id)
    check(sum(f.fill.quantity for f in fills) == 2, f"want 2 lots filled, got {fills}")
    check(all(f.fill.price_ticks == limit for f in fills), "a passive fill is at the limit")


@case("VC-06", "resting limit at the touch fills only after the queue ahead has traded", M)
def vc06(h: ConformanceHarness) -> None:
    log = _market(h)  # 10 lots are bid at BID, ahead of us
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID, contract_id=h.contract_id)
    h.venue.submit(order)
    h.print_trade(BID, 6)
    check(log.filled(order.client_order_id) == 0, "6 of the 10 ahead traded: no fill yet")
    h.print_trade(BID, 5)
    check(log.filled(order.client_order_id) == 1, "the queue ahead is gone: filled")


@case("VC-07", "cancel of a working order is confirmed", M)
def vc07(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(
        Side.SELL, 1, OrderType.LIMIT, limit_ticks=ASK + 3, contract_id=h.contract_id
    )
    h.venue.submit(order)
    check(h.venue.cancel(order.client_order_id).taken, "cancel must be taken")
    log.one(Canceled, order.client_order_id)
    opened = h.venue.open_orders()
    check(opened.is_known and not opened.value, "a canceled order is not working")


@case("VC-08", "cancel of an unknown order is rejected", M)
def vc08(h: ConformanceHarness) -> None:
    log = _market(h)
    ghost = make_order(contract_id=h.contract_id).client_order_id
    h.venue.cancel(ghost)
    log.one(CancelRejected, ghost)


@case("VC-09", "cancel of a filled order is rejected", M)
def vc09(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(Side.BUY, 1, contract_id=h.contract_id)
    h.venue.submit(order)
    check(log.filled(order.client_order_id) == 1, "the market order fills")
    h.venue.cancel(order.client_order_id)
    log.one(CancelRejected, order.client_order_id)
    log.none((Canceled,), order.client_order_id)


@case("VC-10", "cancel/replace moves a working limit to its new price", M)
def vc10(h: ConformanceHarness) -> None:
    log = _market(h)
    old = make_order(Side.BUY, 2, OrderType.LIMIT, limit_ticks=BID - 5, contract_id=h.contract_id)
    h.venue.submit(old)
    new = make_order(Side.BUY, 2, OrderType.LIMIT, limit_ticks=BID - 3, contract_id=h.contract_id)
    check(h.venue.modify(old.client_order_id, new).taken, "modify must be taken")
    log.one(Canceled, old.client_order_id)
    log.one(Acknowledged, new.client_order_id)
    opened = h.venue.open_orders().value or ()
    check([o.limit_ticks for o in opened] == [BID - 3], f"working after replace: {opened}")


@case("VC-11", "stop order triggers and fills", M)
def vc11(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(Side.BUY, 1, OrderType.STOP, stop_ticks=ASK + 4, contract_id=h.contract_id)
    h.venue.submit(order)
    check(log.filled(order.client_order_id) == 0, "the stop has not triggered")
    h.set_quote(BID + 5, ASK + 5)
    fills = log.fills(order.client_order_id)
    check(len(fills) == 1 and fills[0].fill.price_ticks >= ASK + 4, f"stop fill: {fills}")


@case("VC-12", "stop-limit triggers into a limit and never fills beyond it", M)
def vc12(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(
        Side.SELL,
        1,
        OrderType.STOP_LIMIT,
        stop_ticks=BID - 4,
        limit_ticks=BID - 6,
        contract_id=h.contract_id,
    )
    h.venue.submit(order)
    h.set_quote(BID - 10, BID - 8)  # gaps through the limit: triggered, not marketable
    check(log.filled(order.client_order_id) == 0, "the limit protects against the gap")
    h.set_quote(BID - 6, BID - 5)
    h.print_trade(BID - 5, 3)
    fills = log.fills(order.client_order_id)
    check(len(fills) == 1 and fills[0].fill.price_ticks >= BID - 6, f"stop-limit fills: {fills}")


@case("VC-13", "IOC fills what it can and the remainder is canceled", M)
def vc13(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK, ask_size=3)
    order = make_order(
        Side.BUY, 5, OrderType.LIMIT, limit_ticks=ASK, time_in_force=TimeInForce.IOC,
        contract_id=h.contract_id,
    )  # fmt: skip
    h.venue.submit(order)
    check(log.filled(order.client_order_id) == 3, "IOC takes the 3 lots offered")
    log.one(Canceled, order.client_order_id)


@case("VC-14", "FOK that cannot fill completely is canceled with no fill", M)
def vc14(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK, ask_size=3)
    order = make_order(
        Side.BUY, 5, OrderType.LIMIT, limit_ticks=ASK, time_in_force=TimeInForce.FOK,
        contract_id=h.contract_id,
    )  # fmt: skip
    h.venue.submit(order)
    log.one(Canceled, order.client_order_id)
    check(log.filled(order.client_order_id) == 0, "FOK is all or nothing")


@case("VC-15", "FOK that can fill completely fills", M)
def vc15(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(
        Side.SELL, 4, OrderType.LIMIT, limit_ticks=BID, time_in_force=TimeInForce.FOK,
        contract_id=h.contract_id,
    )  # fmt: skip
    h.venue.submit(order)
    check(log.filled(order.client_order_id) == 4, "FOK fills all 4")
    log.none((Canceled,), order.client_order_id)


@case("VC-16", "GTD order expires at its time", M, Capability.TIME)
def vc16(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(
        Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 5, time_in_force=TimeInForce.GTD,
        expire_at=h.now() + dt.timedelta(seconds=30), contract_id=h.contract_id,
    )  # fmt: skip
    h.venue.submit(order)
    h.advance(29)
    log.none((Expired,), order.client_order_id)
    h.advance(2)
    log.one(Expired, order.client_order_id)


@case("VC-17", "DAY order expires at the end of the day", M, Capability.SESSION_CONTROL)
def vc17(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 5, contract_id=h.contract_id)
    h.venue.submit(order)
    h.end_of_day()
    log.one(Expired, order.client_order_id)


@case("VC-18", "GTC order survives the end of the day", M, Capability.SESSION_CONTROL)
def vc18(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(
        Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 5, time_in_force=TimeInForce.GTC,
        contract_id=h.contract_id,
    )  # fmt: skip
    h.venue.submit(order)
    h.end_of_day()
    log.none((Expired, Canceled), order.client_order_id)
    check(len(h.venue.open_orders().value or ()) == 1, "GTC still working")


@case("VC-19", "a fill never takes more than the displayed size", M)
def vc19(h: ConformanceHarness) -> None:
    log = EventLog(h.venue)
    h.set_quote(BID, ASK, ask_size=2)
    order = make_order(Side.BUY, 5, contract_id=h.contract_id)
    h.venue.submit(order)
    check(log.filled(order.client_order_id) == 2, "2 lots offered, 2 filled")
    h.set_quote(BID, ASK + 1, ask_size=10)
    check(log.filled(order.client_order_id) == 5, "the rest fills on the next quote")


@case("VC-20", "zero or negative quantity is rejected as invalid", M)
def vc20(h: ConformanceHarness) -> None:
    log = _market(h)
    for lots in (0, -1):
        order = make_order(contract_id=h.contract_id)
        order.quantity = lots  # the constructor refuses it; a caller's bug may not
        h.venue.submit(order)
        rejected = log.one(Rejected, order.client_order_id)
        check(rejected.reason is Reason.INVALID_ORDER, f"{lots} lots: {rejected}")
    check(not (h.venue.open_orders().value or ()), "nothing is left working")


@case("VC-21", "a price that is not a whole number of ticks is rejected", M)
def vc21(h: ConformanceHarness) -> None:
    _rejected_with(
        h, _market(h), {"order_type": OrderType.LIMIT, "limit_ticks": Decimal("16000.5")}
    )


@case("VC-22", "an unknown contract is rejected", M)
def vc22(h: ConformanceHarness) -> None:
    log = _market(h)
    order = make_order(contract_id=ContractId("NOPE/209912"))
    h.venue.submit(order)
    check(log.one(Rejected, order.client_order_id).reason is Reason.INVALID_ORDER, "reason")


@case(
    "VC-23",
    "an unsupported time in force is rejected",
    M,
    setup=VenueSetup(unsupported_time_in_force=frozenset({"gtd"})),
)
def vc23(h: ConformanceHarness) -> None:
    _rejected_with(
        h,
        _market(h),
        {
            "order_type": OrderType.LIMIT,
            "limit_ticks": BID - 5,
            "time_in_force": TimeInForce.GTD,
            "expire_at": h.now() + dt.timedelta(hours=1),
        },
    )


@case(
    "VC-24",
    "a limit outside the daily band is rejected",
    M,
    setup=VenueSetup(price_band=Decimal("0.05")),
)
def vc24(h: ConformanceHarness) -> None:
    log = _market(h)
    h.set_reference_price(BID)  # band: 16000 +/- 800 ticks
    order = make_order(
        Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID + 801, contract_id=h.contract_id
    )
    h.venue.submit(order)
    check(log.one(Rejected, order.client_order_id).reason is Reason.PRICE_OUTSIDE_BAND, "reason")
    inside = make_order(
        Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 800, contract_id=h.contract_id
    )
    h.venue.submit(inside)
    log.one(Acknowledged, inside.client_order_id)


@case("VC-25", "an order outside the trading session is rejected", M, Capability.SESSION_CONTROL)
def vc25(h: ConformanceHarness) -> None:
    log = _market(h)
    h.set_session_open(False)
    order = make_order(contract_id=h.contract_id)
    h.venue.submit(order)
    check(log.one(Rejected, order.client_order_id).reason is Reason.MARKET_CLOSED, "reason")


@case(
    "VC-26",
    "insufficient margin is rejected, counting existing positions",
    M,
    setup=VenueSetup(initial_cash=Decimal(50_000)),
)
def vc26(h: ConformanceHarness) -> None:
    log = _market(h)  # one lot needs about 20,000 of margin at 4000.00
    first = make_order(Side.BUY, 2, contract_id=h.contract_id)
    h.venue.submit(first)
    check(log.filled(first.client_order_id) == 2, "2 lots fit in 50,000")
    more = make_order(Side.BUY, 1, contract_id=h.contract_id)
    h.venue.submit(more)
    check(log.one(Rejected, more.client_order_id).reason is Reason.INSUFFICIENT_MARGIN, "reason")
    reduce = make_order(Side.SELL, 1, contract_id=h.contract_id)
    h.venue.submit(reduce)
    check(log.filled(reduce.client_order_id) == 1, "a reducing order needs no margin")
