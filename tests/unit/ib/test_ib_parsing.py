"""Invariant: IB's values are converted once, exactly: statuses map to one meaning each
(an unknown one stays unknown), prices become whole ticks, Bastion's id travels in
orderRef and comes back from every report, an order without one is foreign, and an
account summary missing a figure is unknown, never zero."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from ib_async import Contract, Execution, Order

from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ContractId
from bastion.testing.venue_stubs import CONTRACT, make_order, stub_spec
from bastion.venues.ib.instruments import ContractBook, Qualified
from bastion.venues.ib.parsing import (
    StatusClass,
    account_snapshot,
    classify_status,
    client_order_id_for,
    completed_status,
    decode_cursor,
    encode_cursor,
    fill_from_execution,
    ib_order,
    open_order_record,
    position_record,
)
from bastion.venues.port import VenueOrderStatus

ES = Contract(secType="FUT", conId=7, symbol="ES", lastTradeDateOrContractMonth="20260619")


def _book() -> ContractBook:
    book = ContractBook({CONTRACT: stub_spec()})
    book.record(
        CONTRACT,
        Qualified(CONTRACT, 7, "ES", "20260619", "SIM", "USD", "50", "ESM6", "ES"),
    )
    return book


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("PendingSubmit", StatusClass.PENDING),
        ("PreSubmitted", StatusClass.WORKING),
        ("Submitted", StatusClass.WORKING),
        ("Filled", StatusClass.FILLED),
        ("Cancelled", StatusClass.CANCELED),
        ("ApiCancelled", StatusClass.CANCELED),
        ("Inactive", StatusClass.INACTIVE),
        ("Zombie", StatusClass.UNKNOWN),
    ],
)
def test_classify_status_each_ib_status_has_one_meaning(status: str, kind: StatusClass) -> None:
    assert classify_status(status) is kind


def test_completed_status_maps_final_states() -> None:
    assert completed_status("Filled") is VenueOrderStatus.FILLED
    assert completed_status("Cancelled") is VenueOrderStatus.CANCELED
    assert completed_status("Inactive") is VenueOrderStatus.REJECTED


def test_client_order_id_for_order_ref_or_foreign() -> None:
    assert client_order_id_for("B000123", 10, 5, 99) == "B000123"
    assert client_order_id_for("", 77, 3, 99) == "ib-foreign/client-77/order-3"
    assert client_order_id_for("", 0, 0, 99) == "ib-foreign/manual/perm-99"


def test_ib_order_carries_the_id_in_order_ref_and_exact_prices() -> None:
    expiry = dt.datetime(2026, 3, 2, 21, 0, tzinfo=dt.UTC)
    order = make_order(
        Side.SELL, 3, OrderType.STOP_LIMIT, stop_ticks=16003, limit_ticks=16001,
        time_in_force=TimeInForce.GTD, expire_at=expiry,
    )  # fmt: skip
    ib = ib_order(order, _book(), account="DU1")
    assert (ib.action, ib.totalQuantity, ib.orderType, ib.tif) == ("SELL", 3.0, "STP LMT", "GTD")
    assert (repr(ib.lmtPrice), repr(ib.auxPrice)) == ("4000.25", "4000.75")
    assert ib.orderRef == order.client_order_id
    assert ib.goodTillDate == "20260302-21:00:00"
    assert ib.account == "DU1"


def test_ib_order_market_as_marketable_limit() -> None:
    ib = ib_order(make_order(Side.BUY, 1), _book(), account="DU1", marketable_limit_ticks=16005)
    assert (ib.orderType, repr(ib.lmtPrice)) == ("LMT", "4001.25")


def test_fill_from_execution_whole_ticks_and_utc() -> None:
    when = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    execution = Execution(
        execId="e1", time=when, side="SLD", shares=2.0, price=4000.5, permId=99,
        clientId=10, orderId=5, orderRef="B9",
    )  # fmt: skip
    fill = fill_from_execution(execution, ES, _book(), Decimal("4.0"))
    assert fill is not None
    assert (fill.side, fill.quantity, fill.price_ticks) == (Side.SELL, 2, 16002)
    assert fill.timestamp == dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)
    assert (fill.client_order_id, fill.venue_order_id, fill.commission) == ("B9", "99", Decimal(4))


def test_fill_from_execution_unknown_contract_or_fraction_is_none() -> None:
    other = Contract(secType="FUT", conId=8, symbol="ZZ", lastTradeDateOrContractMonth="20260619")
    good = Execution(execId="e", time=dt.datetime.now(dt.UTC), side="BOT", shares=1.0, price=4000)
    assert fill_from_execution(good, other, _book(), Decimal(0)) is None
    half = Execution(execId="e", time=dt.datetime.now(dt.UTC), side="BOT", shares=0.5, price=4000)
    assert fill_from_execution(half, ES, _book(), Decimal(0)) is None


def test_fill_from_execution_other_month_same_root_is_named() -> None:
    later = Contract(secType="FUT", conId=9, symbol="ES", lastTradeDateOrContractMonth="20260918")
    execution = Execution(execId="e", time=dt.datetime.now(dt.UTC), side="BOT", shares=1.0,
                          price=4000.0)  # fmt: skip
    fill = fill_from_execution(execution, later, _book(), Decimal(0))
    assert fill is not None
    assert fill.contract_id == ContractId("ES/202609")


def test_open_order_record_reads_prices_and_tif() -> None:
    order = Order(orderId=5, clientId=10, permId=99, action="BUY", totalQuantity=2.0,
                  orderType="LMT", lmtPrice=3999.75, tif="GTC", orderRef="B1")  # fmt: skip
    record = open_order_record(order, ES, _book(), 1.0)
    assert record is not None
    assert (record.limit_ticks, record.stop_ticks, record.filled) == (15999, None, 1)
    assert record.time_in_force is TimeInForce.GTC


def test_position_record_net_in_yesterday_books() -> None:
    assert position_record(CONTRACT, -3.0).net == -3  # type: ignore[union-attr]
    assert position_record(CONTRACT, 0.0) is None


def test_account_snapshot_missing_figure_is_unknown_not_zero() -> None:
    rows = {"NetLiquidation": ("1000", "USD"), "InitMarginReq": ("100", "USD")}
    assert account_snapshot(rows, Decimal(0)) == "IB's account summary lacks AvailableFunds"
    rows["AvailableFunds"] = ("900", "USD")
    snap = account_snapshot(rows, Decimal(2))
    assert not isinstance(snap, str)
    assert (snap.equity, snap.margin_used, snap.margin_available) == (1000, 100, 900)


def test_cursor_round_trip_and_bad_cursor() -> None:
    when = dt.datetime(2026, 3, 2, 14, 30, 1, tzinfo=dt.UTC)
    cursor = encode_cursor(when, ["b", "a"])
    assert cursor == "20260302-14:30:01|a,b"
    assert decode_cursor(cursor) == (when, frozenset({"a", "b"}))
    assert decode_cursor(None) == (None, frozenset())
    with pytest.raises(ValueError, match="does not match format"):
        decode_cursor("7")
