"""Drive the OMS against a venue the way the engine will: write ahead, send, apply events.

``OmsDriver`` is test-kit glue between ``OrderManager`` and a ``VenuePort``. ``resync``
settles orders from the venue's own queries after reports were lost (fills by cursor,
then each in-flight order's status); it stands in for the OMS's restart recovery (R5.4)
in venue tests and follows the same rules: fills are the truth, a status found by a
query becomes the matching event, no record at the venue is LOST, and an unknown
query changes nothing.
"""

from __future__ import annotations

from bastion.clock import Clock
from bastion.domain.ids import ClientOrderId
from bastion.domain.order_state import OrderState
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.records import BrokerOrderCreated
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    Expired,
    FillReport,
    Rejected,
    VenueEvent,
)
from bastion.oms.manager import Applied, OrderManager
from bastion.venues.port import FillCursor, OrderCallResult, VenueOrderStatus, VenuePort

__all__ = ["OmsDriver", "created_record"]


def created_record(order: BrokerOrder) -> BrokerOrderCreated:
    """The write-ahead record of ``order``."""
    return BrokerOrderCreated(
        timestamp=order.created,
        client_order_id=order.client_order_id,
        contract_id=order.contract_id,
        side=order.side,
        quantity=order.quantity,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        limit_ticks=order.limit_ticks,
        stop_ticks=order.stop_ticks,
        expire_at=order.expire_at,
        strategy_id=order.strategy_id,
        offset=order.offset,
        venue=order.venue,
    )


class OmsDriver:
    def __init__(self, venue: VenuePort, oms: OrderManager, clock: Clock) -> None:
        self.venue = venue
        self.oms = oms
        self._clock = clock
        self._cursor: FillCursor | None = None
        self.applied: list[tuple[VenueEvent, Applied]] = []

    def send(self, order: BrokerOrder) -> OrderCallResult:
        """Write ahead, then submit (invariant 1)."""
        self.oms.write_ahead(created_record(order))
        self.oms.mark_submitted(order.client_order_id, self._clock.now())
        return self.venue.submit(order)

    def cancel(self, client_order_id: ClientOrderId) -> OrderCallResult:
        self.oms.request_cancel(client_order_id, self._clock.now())
        return self.venue.cancel(client_order_id)

    def apply(self, events: list[VenueEvent]) -> list[tuple[VenueEvent, Applied]]:
        out = [(event, self.oms.apply(event)) for event in events]
        self.applied.extend(out)
        return out

    def pump(self) -> list[tuple[VenueEvent, Applied]]:
        """Apply every event the venue has for us now."""
        return self.apply(self.venue.poll_events())

    def order(self, client_order_id: ClientOrderId) -> BrokerOrder:
        order = self.oms.book.broker_order(client_order_id)
        if order is None:
            raise KeyError(client_order_id)
        return order

    def resync(self) -> bool:
        """Settle every in-flight order from the venue's queries. ``False`` if a query
        was unknown (then nothing that depends on it changed)."""
        page = self.venue.fills_since(self._cursor)
        if page.value is None:
            return False
        self.apply([FillReport(fill=fill) for fill in page.value.fills])
        self._cursor = page.value.next_cursor
        complete = True
        for order in list(self.oms.book.broker_orders.values()):
            complete = self._settle(order) and complete
        return complete

    def _settle(self, order: BrokerOrder) -> bool:
        snap = self.venue.order_status(order.client_order_id)
        record = snap.value
        if record is None:
            return False
        now = snap.taken_at or self._clock.now()
        when = record.timestamp or now
        coid = order.client_order_id
        status = record.status
        event: VenueEvent | None = None
        if status is VenueOrderStatus.NOT_FOUND:
            self.oms.mark_lost(coid, now, "the venue has no record of it")
        elif status is VenueOrderStatus.WORKING and order.state is OrderState.PENDING_NEW:
            if record.venue_order_id is not None:
                event = Acknowledged(
                    client_order_id=coid, venue_order_id=record.venue_order_id, timestamp=when
                )
        elif status is VenueOrderStatus.CANCELED:
            event = Canceled(client_order_id=coid, timestamp=when)
        elif status is VenueOrderStatus.EXPIRED:
            event = Expired(client_order_id=coid, timestamp=when)
        elif status is VenueOrderStatus.REJECTED:
            event = Rejected(
                client_order_id=coid,
                reason=Reason.UNKNOWN,
                message="rejected (found by a status query)",
                timestamp=when,
            )
        if event is not None:
            self.apply([event])
        return True
