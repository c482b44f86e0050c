"""The sim venue as the engine sees it in a simulated run: every call passes through.

``AuditedVenue`` is a ``VenuePort`` in front of the ``SimVenue``: it asks the auditor
before each order reaches the venue (``Auditor.before_submit``) and before each cancel
(``Auditor.before_cancel``), and remembers the cursor of the last fills page the venue
gave (restart recovery's, when a recovery note is committed). It changes nothing the
venue does.
"""

from __future__ import annotations

from collections.abc import Callable

from bastion.domain.ids import ClientOrderId
from bastion.domain.orders import BrokerOrder
from bastion.venues.port import (
    FillCursor,
    FillsPage,
    OrderCallResult,
    QueryView,
    Snapshot,
)
from bastion.venues.sim import SimVenue

__all__ = ["AuditedVenue"]


class AuditedVenue(QueryView):
    """Every query passes through (``QueryView``); order calls are audited first."""

    __slots__ = ("_before_cancel", "_before_submit", "_on_fills_page", "venue")

    def __init__(
        self,
        venue: SimVenue,
        before_submit: Callable[[BrokerOrder], None],
        on_fills_page: Callable[[int], None],
        before_cancel: Callable[[ClientOrderId], None],
    ) -> None:
        super().__init__(venue)
        self.venue = venue
        self._before_submit = before_submit
        self._on_fills_page = on_fills_page
        self._before_cancel = before_cancel

    def fills_since(self, cursor: FillCursor | None) -> Snapshot[FillsPage]:
        page = self.venue.fills_since(cursor)
        if page.value is not None:
            self._on_fills_page(int(page.value.next_cursor))
        return page

    def submit(self, order: BrokerOrder) -> OrderCallResult:
        self._before_submit(order)
        return self.venue.submit(order)

    def cancel(self, client_order_id: ClientOrderId) -> OrderCallResult:
        self._before_cancel(client_order_id)
        return self.venue.cancel(client_order_id)

    def modify(self, client_order_id: ClientOrderId, replacement: BrokerOrder) -> OrderCallResult:
        self._before_submit(replacement)
        return self.venue.modify(client_order_id, replacement)
