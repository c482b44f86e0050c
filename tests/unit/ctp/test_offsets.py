"""Net orders into CTP legs (R5.6): closes before opens, SHFE/INE name today's or
yesterday's book, never more is closed than the book holds less working closes.

Invariant: the legs add up to the order, and no close leg exceeds what it may close.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bastion.domain.enums import OffsetFlag, Side
from bastion.venues.ctp.offsets import Book, Leg, plan_legs

OP, C, CT, CY = (
    OffsetFlag.OPEN,
    OffsetFlag.CLOSE,
    OffsetFlag.CLOSE_TODAY,
    OffsetFlag.CLOSE_YESTERDAY,
)


def test_offsets_shfe_sell_closes_yesterday_then_today_then_opens() -> None:
    book = Book(long_today=3, long_yesterday=2)
    assert plan_legs(Side.SELL, 7, book, splits_today=True) == [
        Leg(CY, 2),
        Leg(CT, 3),
        Leg(OP, 2),
    ]


def test_offsets_other_exchanges_close_once_then_open() -> None:
    book = Book(short_today=1, short_yesterday=2)
    assert plan_legs(Side.BUY, 5, book, splits_today=False) == [Leg(C, 3), Leg(OP, 2)]


def test_offsets_working_closes_hold_back_what_they_close() -> None:
    book = Book(long_today=3)
    book.freeze(Side.BUY, "today", 2)
    assert plan_legs(Side.SELL, 3, book, splits_today=True) == [Leg(CT, 1), Leg(OP, 2)]


def test_offsets_named_close_beyond_the_book_is_refused() -> None:
    found = plan_legs(Side.SELL, 2, Book(long_yesterday=1), splits_today=True, offset=CT)
    assert isinstance(found, str)
    assert "can close only 0" in found


def test_offsets_named_close_on_shfe_splits_by_bucket() -> None:
    book = Book(long_today=2, long_yesterday=1)
    assert plan_legs(Side.SELL, 3, book, splits_today=True, offset=C) == [Leg(CY, 1), Leg(CT, 2)]


def test_offsets_book_apply_close_today_and_oldest_first() -> None:
    shfe = Book(long_today=2, long_yesterday=2)
    shfe.apply(Side.SELL, CT, 1, splits_today=True)
    shfe.apply(Side.SELL, C, 1, splits_today=True)
    assert (shfe.long_today, shfe.long_yesterday) == (1, 1)
    dce = Book(long_today=2, long_yesterday=1)
    dce.apply(Side.SELL, C, 2, splits_today=False)
    assert (dce.long_today, dce.long_yesterday) == (1, 0)


@given(
    side=st.sampled_from(list(Side)),
    quantity=st.integers(1, 50),
    books=st.tuples(*[st.integers(0, 20)] * 4),
    splits=st.booleans(),
)
def test_offsets_legs_sum_to_the_order_and_never_overclose(
    side: Side, quantity: int, books: tuple[int, int, int, int], splits: bool
) -> None:
    book = Book(*books)
    legs = plan_legs(side, quantity, book, splits_today=splits)
    assert isinstance(legs, list)
    assert sum(leg.quantity for leg in legs) == quantity
    closing = side.opposite
    today, yesterday = book.held(closing, "today"), book.held(closing, "yesterday")
    closes = {leg.offset: leg.quantity for leg in legs if leg.offset is not OP}
    assert closes.get(CT, 0) <= today
    assert closes.get(CY, 0) <= yesterday
    assert sum(closes.values()) <= today + yesterday
    assert all(leg.quantity > 0 for leg in legs)
    assert [leg.offset for leg in legs].count(OP) <= 1
    assert legs[-1].offset is OP or OP not in closes
