"""The sim venue as the engine sees it in a simulated run: every call passes through.

``AuditedVenue`` is a ``VenuePort`` in front of the ``SimVenue``: it asks the auditor
before each order reaches the venue (``Auditor.before_submit``) and before each cancel
(``Auditor.before_cancel``), and remembers the cursor of the last fills page the venue
gave (restart recovery's, when a recovery note is committed). It changes nothing the
venue does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.market import MarketView
from bastion.domain.orders import BrokerOrder
from bastion.domain.venue_events import VenueEvent
from bastion.venues.port import (
    AccountSnapshot,
    FillCursor,
    FillsPage,
    OpenOrderRecord,
    OrderApiCounters,
    OrderCallResult,
    OrderStatusRecord,
    PositionRecord,
    RateLimits,
    Snapshot,
)
from bastion.venues.sim import SimVenue

__all__ = ["AuditedVenue"]


class AuditedVenue:
    def __init__(
        self,
        venue: SimVenue,
        before_submit: Callable[[BrokerOrder], None],
        on_fills_page: Callable[[int], None],
        before_cancel: Callable[[ClientOrderId], None],
    ) -> None:
        self.venue = venue
        self._before_submit = before_submit
        self._on_fills_page = on_fills_page
        self._before_cancel = before_cancel

    @property
    def name(self) -> str:
        return self.venue.name

    @property
    def counters(self) -> OrderApiCounters:
        return self.venue.counters

    @property
    def rate_limits(self) -> RateLimits:
        return self.venue.rate_limits

    @property
    def is_connected(self) -> bool:
        return self.venue.is_connected

    @property
    def connection_epoch(self) -> int:
        return self.venue.connection_epoch

    @property
    def last_disconnect_reason(self) -> str:
        return self.venue.last_disconnect_reason

    @property
    def last_heard(self) -> dt.datetime | None:
        return self.venue.last_heard

    @property
    def clock_skew(self) -> dt.timedelta | None:
        return self.venue.clock_skew

    @property
    def market(self) -> MarketView:
        return self.venue.market

    def connect(self) -> bool:
        return self.venue.connect()

    def disconnect(self) -> None:
        self.venue.disconnect()

    def remember(self, order: BrokerOrder) -> None:
        self.venue.remember(order)

    def account(self) -> Snapshot[AccountSnapshot]:
        return self.venue.account()

    def positions(self) -> Snapshot[dict[ContractId, PositionRecord]]:
        return self.venue.positions()

    def open_orders(self) -> Snapshot[tuple[OpenOrderRecord, ...]]:
        return self.venue.open_orders()

    def fills_since(self, cursor: FillCursor | None) -> Snapshot[FillsPage]:
        page = self.venue.fills_since(cursor)
        if page.value is not None:
            self._on_fills_page(int(page.value.next_cursor))
        return page

    def order_status(self, client_order_id: ClientOrderId) -> Snapshot[OrderStatusRecord]:
        return self.venue.order_status(client_order_id)

    def poll_events(self) -> list[VenueEvent]:
        return self.venue.poll_events()

    def submit(self, order: BrokerOrder) -> OrderCallResult:
        self._before_submit(order)
        return self.venue.submit(order)

    def cancel(self, client_order_id: ClientOrderId) -> OrderCallResult:
        self._before_cancel(client_order_id)
        return self.venue.cancel(client_order_id)

    def modify(self, client_order_id: ClientOrderId, replacement: BrokerOrder) -> OrderCallResult:
        self._before_submit(replacement)
        return self.venue.modify(client_order_id, replacement)
