"""Trade limits per period (R4.3): checked when broker orders are made; the order is cut.

The period is the account's trading day (``bastion.engine.days``: the first
instrument's exchange calendar; a China night session counts toward the next trading
day, Friday night toward Monday), never the UTC date. The limits are the profile's
``risk.max_traded_lots_per_day`` and ``risk.instrument_traded_lots_per_day``, read at
each order, so ``bastion risk limits --set`` reaches a running engine. What was traded
on a day is counted again from the journal's orders when the day is first seen (a
restart mid-day does not give the day's lots back).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bastion.config import RiskConfig
from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import InstrumentId
from bastion.domain.orders import BrokerOrder

__all__ = ["TradeLimits"]


def _no_limit(_instrument: InstrumentId) -> int | None:
    return None


def _utc_date(when: dt.datetime) -> dt.date:
    return when.astimezone(dt.UTC).date()


@dataclass(slots=True)
class TradeLimits:
    """At most ``limit_of(instrument)`` lots traded per instrument per trading day
    (``day_of``; ``None``: no limit). Lots count on both sides, as sent."""

    limit_of: Callable[[InstrumentId], int | None] = _no_limit
    day_of: Callable[[dt.datetime], dt.date] = _utc_date
    """The kernel passes the account's trading day; the default is for unit tests."""
    sent_on: Callable[[dt.date], Mapping[InstrumentId, int]] | None = None
    """Lots already sent on a day (from the journal), counted when the day is first seen."""
    _day: dt.date | None = None
    _used: dict[InstrumentId, int] = field(default_factory=dict)

    @classmethod
    def from_risk(
        cls,
        limits: Callable[[], RiskConfig],
        day_of: Callable[[dt.datetime], dt.date],
        orders: Callable[[], Iterable[BrokerOrder]] | None = None,
    ) -> TradeLimits:
        """The effective risk limits' trade limits (the profile's, with run-time
        overrides), per ``day_of``."""

        def limit_of(instrument: InstrumentId) -> int | None:
            current = limits()
            return current.instrument_traded_lots_per_day.get(
                str(instrument), current.max_traded_lots_per_day
            )

        def sent_on(day: dt.date) -> Mapping[InstrumentId, int]:
            return stack_lots_on(orders() if orders is not None else (), day_of, day)

        return cls(limit_of=limit_of, day_of=day_of, sent_on=sent_on)

    def _today(self, now: dt.datetime) -> None:
        day = self.day_of(now)
        if day != self._day:
            self._day = day
            self._used = dict(self.sent_on(day)) if self.sent_on is not None else {}

    def allowed(self, instrument_id: InstrumentId, wanted: int, now: dt.datetime) -> int:
        """How much of ``wanted`` lots may go now."""
        limit = self.limit_of(instrument_id)
        if limit is None:
            return wanted
        self._today(now)
        used = self._used.get(instrument_id, 0)
        return max(0, min(wanted, limit - used))

    def use(self, instrument_id: InstrumentId, lots: int, now: dt.datetime) -> None:
        self._today(now)
        self._used[instrument_id] = self._used.get(instrument_id, 0) + lots


def stack_lots_on(
    orders: Iterable[BrokerOrder], day_of: Callable[[dt.datetime], dt.date], day: dt.date
) -> dict[InstrumentId, int]:
    """Lots per instrument in the order stack's broker orders made on ``day`` (orders
    with a parent; a kill switch's or an immediate flatten's parentless orders are
    never limited, so they do not count)."""
    lots: dict[InstrumentId, int] = {}
    for order in orders:
        if order.parent_id is None or day_of(order.created) != day:
            continue
        instrument = parse_contract_id(order.contract_id)[0]
        lots[instrument] = lots.get(instrument, 0) + order.quantity
    return lots
