"""From a net order to CTP legs: open, close-today, close-yesterday (R5.6).

CTP holds long and short books separately, each split today / yesterday. A Bastion order
is net (buy 5): it first closes what the opposite book holds, then opens the rest, and
never closes more than can be closed: what the book holds less what working close orders
already hold back (``frozen``).

- SHFE and INE: yesterday's book is closed first (CloseYesterday: cheaper than closing
  today's on most products), then today's (CloseToday), then the rest opens.
- Other exchanges: one Close for up to the whole book (the exchange takes the oldest
  first), then the rest opens.
- An order that names its offset gets exactly that, or is refused when the book cannot
  cover it (a close with nothing to close is never sent, R7.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bastion.domain.enums import OffsetFlag, Side

__all__ = ["Book", "Leg", "plan_legs"]


@dataclass(slots=True)
class Book:
    """One contract's position as CTP keeps it, plus what working closes hold back."""

    long_today: int = 0
    long_yesterday: int = 0
    short_today: int = 0
    short_yesterday: int = 0
    frozen: dict[tuple[Side, str], int] = field(default_factory=dict)
    """Held back by working closes: (side of the book closed, "today"/"yesterday")."""

    def held(self, side: Side, bucket: str) -> int:
        """Lots in the ``side`` book's ``bucket``."""
        if side is Side.BUY:
            return self.long_today if bucket == "today" else self.long_yesterday
        return self.short_today if bucket == "today" else self.short_yesterday

    def closable(self, side: Side, bucket: str) -> int:
        return max(0, self.held(side, bucket) - self.frozen.get((side, bucket), 0))

    def apply(self, side: Side, offset: OffsetFlag, lots: int, *, splits_today: bool) -> None:
        """A trade of ``lots`` on ``side`` with ``offset``: opens add to today's book of
        ``side``; closes take from the opposite book (``buckets``)."""
        if offset is OffsetFlag.OPEN:
            if side is Side.BUY:
                self.long_today += lots
            else:
                self.short_today += lots
            return
        book = side.opposite
        for bucket, taken in self.buckets(book, offset, lots, splits_today=splits_today):
            name = f"{'long' if book is Side.BUY else 'short'}_{bucket}"
            setattr(self, name, max(0, getattr(self, name) - taken))

    def buckets(
        self, book: Side, offset: OffsetFlag, lots: int, *, splits_today: bool
    ) -> list[tuple[str, int]]:
        """Where a close of ``lots`` from ``book`` takes them: CloseToday from today's
        bucket; any other close on SHFE/INE from yesterday's; elsewhere yesterday's
        first, then today's (the exchange closes the oldest first)."""
        if splits_today:
            return [("today" if offset is OffsetFlag.CLOSE_TODAY else "yesterday", lots)]
        first = min(lots, self.closable(book, "yesterday"))
        return [("yesterday", first), ("today", lots - first)]

    def freeze(self, book: Side, bucket: str, lots: int) -> None:
        """Hold back (``lots`` > 0) or release (< 0) closable lots of ``book``."""
        key = (book, bucket)
        self.frozen[key] = max(0, self.frozen.get(key, 0) + lots)


@dataclass(frozen=True, slots=True)
class Leg:
    offset: OffsetFlag
    quantity: int


def plan_legs(
    side: Side,
    quantity: int,
    book: Book,
    *,
    splits_today: bool,
    offset: OffsetFlag | None = None,
) -> list[Leg] | str:
    """The legs for a net order, or why it cannot be sent (a close the book cannot cover).

    A buy closes the short book, a sell the long book."""
    closing = side.opposite
    today = book.closable(closing, "today")
    yesterday = book.closable(closing, "yesterday")
    if offset is OffsetFlag.OPEN:
        return [Leg(OffsetFlag.OPEN, quantity)]
    if offset is not None:
        return _named(offset, quantity, today, yesterday, splits_today=splits_today)
    legs: list[Leg] = []
    rest = quantity
    if splits_today:
        for flag, available in (
            (OffsetFlag.CLOSE_YESTERDAY, yesterday),
            (OffsetFlag.CLOSE_TODAY, today),
        ):
            lots = min(rest, available)
            if lots:
                legs.append(Leg(flag, lots))
                rest -= lots
    else:
        lots = min(rest, today + yesterday)
        if lots:
            legs.append(Leg(OffsetFlag.CLOSE, lots))
            rest -= lots
    if rest:
        legs.append(Leg(OffsetFlag.OPEN, rest))
    return legs


def _named(
    offset: OffsetFlag, quantity: int, today: int, yesterday: int, *, splits_today: bool
) -> list[Leg] | str:
    if offset is OffsetFlag.CLOSE_TODAY:
        available = today if splits_today else today + yesterday
    elif offset is OffsetFlag.CLOSE_YESTERDAY:
        available = yesterday if splits_today else today + yesterday
    else:  # CLOSE
        available = today + yesterday
    if quantity > available:
        return (
            f"a {offset} of {quantity} lots, but the book can close only {available}"
            f" (today {today}, yesterday {yesterday}, after working closes)"
        )
    if offset is OffsetFlag.CLOSE and splits_today:
        legs = []
        first = min(quantity, yesterday)
        if first:
            legs.append(Leg(OffsetFlag.CLOSE_YESTERDAY, first))
        if quantity - first:
            legs.append(Leg(OffsetFlag.CLOSE_TODAY, quantity - first))
        return legs
    if not splits_today and offset is not OffsetFlag.CLOSE:
        return [Leg(OffsetFlag.CLOSE, quantity)]
    return [Leg(offset, quantity)]
