"""Read-only and dry-run modes for any venue (R10.4, R8.3, invariant 6).

``ReadOnlyVenue`` and ``DryRunVenue`` wrap any ``VenuePort``. Queries, the event stream
and connect/disconnect pass through; order calls never reach the wrapped venue. Each
refused call is answered with a ``Rejected`` (reason ``READ_ONLY``) or
``CancelRejected`` event, so an order the OMS wrote ahead does not hang in PENDING_NEW.
``counters`` is the *wrapped* venue's counters, so a report that shows zeros proves the
order API was never reached. ``DryRunVenue`` also keeps the orders it would have sent,
for the dry-run gate's report.
"""

from __future__ import annotations

from enum import StrEnum

from bastion.clock import Clock
from bastion.domain.ids import ClientOrderId
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import CancelRejected, Rejected, VenueEvent
from bastion.venues.login import LoginStep, ReportsLoginSteps
from bastion.venues.port import (
    OrderCallResult,
    QueryView,
    VenuePort,
)

__all__ = ["DryRunVenue", "ReadOnlyVenue", "VenueMode", "with_mode"]


class VenueMode(StrEnum):
    TRADING = "trading"
    READ_ONLY = "read_only"
    DRY_RUN = "dry_run"


class ReadOnlyVenue(QueryView):
    """A venue whose order calls are refused before they reach it; every query passes
    through (``QueryView``)."""

    __slots__ = ("_clock", "_inner", "_refusals", "refused_calls")
    _label = "read-only"

    def __init__(self, inner: VenuePort, clock: Clock) -> None:
        super().__init__(inner)
        self._inner = inner
        self._clock = clock
        self._refusals: list[VenueEvent] = []
        self.refused_calls = 0
        """Order calls refused here; they never counted at the venue."""

    @property
    def inner(self) -> VenuePort:
        return self._inner

    @property
    def name(self) -> str:
        return f"{self._inner.name} ({self._label})"

    def login_steps(self) -> tuple[LoginStep, ...]:
        """The wrapped venue's login steps, when it reports them (none otherwise)."""
        if isinstance(self._inner, ReportsLoginSteps):
            return self._inner.login_steps()
        return ()

    def submit(self, order: BrokerOrder) -> OrderCallResult:
        self._note_intent(order)
        return self._refuse_order(order.client_order_id)

    def cancel(self, client_order_id: ClientOrderId) -> OrderCallResult:
        self.refused_calls += 1
        message = f"{self._label} mode: cancel not sent"
        self._refusals.append(
            CancelRejected(
                client_order_id=client_order_id,
                reason=Reason.READ_ONLY,
                message=message,
                timestamp=self._clock.now(),
            )
        )
        return OrderCallResult(
            client_order_id=client_order_id, taken=False, reason=Reason.READ_ONLY, message=message
        )

    def modify(self, client_order_id: ClientOrderId, replacement: BrokerOrder) -> OrderCallResult:
        self._note_intent(replacement)
        self.cancel(client_order_id)
        return self._refuse_order(replacement.client_order_id)

    def poll_events(self) -> list[VenueEvent]:
        events = self._inner.poll_events()
        if self._refusals:
            events = [*self._refusals, *events]
            self._refusals = []
        return events

    def _note_intent(self, order: BrokerOrder) -> None:
        """Hook for the dry-run wrapper."""

    def _refuse_order(self, client_order_id: ClientOrderId) -> OrderCallResult:
        self.refused_calls += 1
        message = f"{self._label} mode: order not sent"
        self._refusals.append(
            Rejected(
                client_order_id=client_order_id,
                reason=Reason.READ_ONLY,
                message=message,
                timestamp=self._clock.now(),
            )
        )
        return OrderCallResult(
            client_order_id=client_order_id, taken=False, reason=Reason.READ_ONLY, message=message
        )


class DryRunVenue(ReadOnlyVenue):
    """Read-only, and keeps every order it would have sent (R8.3)."""

    __slots__ = ("would_send",)
    _label = "dry-run"

    def __init__(self, inner: VenuePort, clock: Clock) -> None:
        super().__init__(inner, clock)
        self.would_send: list[BrokerOrder] = []

    def _note_intent(self, order: BrokerOrder) -> None:
        self.would_send.append(order)


def with_mode(venue: VenuePort, mode: VenueMode, clock: Clock) -> VenuePort:
    """The venue as the mode allows it: itself for TRADING, else a refusing wrapper."""
    if mode is VenueMode.READ_ONLY:
        return ReadOnlyVenue(venue, clock)
    if mode is VenueMode.DRY_RUN:
        return DryRunVenue(venue, clock)
    return venue
