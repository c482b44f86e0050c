"""The expiry and delivery guard (R2.1, R4.5, R6.2): no new position near the end of a
contract's life.

Each contract has a *last trade day* and, when it is physically delivered, a *first
notice day* (``bastion.marketdata.expiry.ContractCalendar`` computes both from the
contract specs and the exchange calendar). Within ``expiry_guard_days`` trading days
of the earlier of the two (counted on the instrument's own calendar: on the day
itself 0 days are left; after it, fewer than none):

- no order that is not reducing may go in that contract (``Check.EXPIRY``): the
  contract is reduce-only;
- a position still held in it raises an alert (a journal ``alert`` note), once per
  contract and trading day: the roll should have moved it before.

A contract whose dates cannot be computed (a calendar that does not cover the day)
fails closed the same way and says why; a contract whose spec has no expiry rule at
all (a test venue's made-up contract) is not guarded, and the bundled specs all have
one (a test checks it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from bastion.domain.contracts import ContractDates
from bastion.domain.ids import ContractId

__all__ = ["ContractDates", "ExpiryCalendar", "ExpiryWindow", "expiry_window"]


class ExpiryCalendar(Protocol):
    def dates(self, contract_id: ContractId) -> ContractDates | None:
        """The contract's days; ``None``: its spec has no expiry rule (not guarded).
        Raises ``DataError`` when they cannot be computed (fail closed)."""
        ...

    def trading_days_between(self, contract_id: ContractId, start: dt.date, end: dt.date) -> int:
        """Trading days in ``(start, end]`` on the contract's calendar (negative when
        ``end`` is before ``start``). Raises ``DataError`` outside the calendar."""
        ...

    def trading_day(self, contract_id: ContractId, when: dt.datetime) -> dt.date:
        """The contract's trading day of ``when``; raises ``DataError`` if unknown."""
        ...


@dataclass(frozen=True, slots=True)
class ExpiryWindow:
    contract_id: ContractId
    day: dt.date
    """The trading day it was judged on."""
    event: str
    event_day: dt.date
    days_left: int
    window: int

    def text(self) -> str:
        left = (
            f"{self.days_left} trading day(s) before"
            if self.days_left > 0
            else ("on" if self.days_left == 0 else "past")
        )
        return (
            f"{self.contract_id}: {left} its {self.event} {self.event_day}"
            f" (guard: {self.window} trading days)"
        )


def expiry_window(
    calendar: ExpiryCalendar, contract_id: ContractId, when: dt.datetime, window: int
) -> ExpiryWindow | None:
    """The contract's expiry window at ``when`` if it is in it, else ``None``.
    Propagates ``DataError`` when the dates or the calendar are unknown."""
    if window <= 0:
        return None
    dates = calendar.dates(contract_id)
    if dates is None:
        return None
    day = calendar.trading_day(contract_id, when)
    event, event_day = dates.event
    left = -1 if event_day < day else calendar.trading_days_between(contract_id, day, event_day)
    if left > window:
        return None
    return ExpiryWindow(contract_id, day, event, event_day, left, window)
