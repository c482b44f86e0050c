"""A venue that has gone silent is not asked and waited on.

Every part of the engine but the send path sees the venue through a ``QueryView``.
With a silence limit set, the kernel hands them a ``SilentVenueView`` instead: once
nothing has been heard from the venue for longer than the limit, each query answers
"unknown" at once, naming the silence, instead of waiting out its own timeout. A
silent venue then costs a pass at most one query timeout (the query already under way
when the limit passed), not one per query (a reconciliation alone asks three times), and
the engine's venue duty treats it as disconnected at the next pass. Nothing is sent on
what an unknown answer leaves unknown: a reconciliation with an unknown view is not
ready, and the kill switch never confirms flat on one.
"""

from __future__ import annotations

import datetime as dt

from bastion.clock import Clock
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.venues.port import (
    AccountSnapshot,
    FillCursor,
    FillsPage,
    OpenOrderRecord,
    OrderStatusRecord,
    PositionRecord,
    QueryView,
    Snapshot,
    VenueQueries,
)


class SilentVenueView(QueryView):
    """A ``QueryView`` whose queries answer "unknown" at once while the venue has sent
    nothing for longer than ``limit`` (on the engine's clock)."""

    __slots__ = ("_clock", "_limit")

    def __init__(self, venue: VenueQueries, clock: Clock, limit: dt.timedelta) -> None:
        super().__init__(venue)
        self._clock = clock
        self._limit = limit

    def silence(self) -> str | None:
        """Why not to ask: the venue has been silent past the limit; ``None`` otherwise."""
        heard = self.last_heard
        if heard is None:
            return None
        quiet = self._clock.now() - heard
        if quiet <= self._limit:
            return None
        return (
            f"the venue sent nothing for {quiet.total_seconds():.0f} s"
            f" (limit {self._limit.total_seconds():g} s): not asked"
        )

    def account(self) -> Snapshot[AccountSnapshot]:
        if (why := self.silence()) is not None:
            return Snapshot.unknown(why)
        return super().account()

    def positions(self) -> Snapshot[dict[ContractId, PositionRecord]]:
        if (why := self.silence()) is not None:
            return Snapshot.unknown(why)
        return super().positions()

    def open_orders(self) -> Snapshot[tuple[OpenOrderRecord, ...]]:
        if (why := self.silence()) is not None:
            return Snapshot.unknown(why)
        return super().open_orders()

    def fills_since(self, cursor: FillCursor | None) -> Snapshot[FillsPage]:
        if (why := self.silence()) is not None:
            return Snapshot.unknown(why)
        return super().fills_since(cursor)

    def order_status(self, client_order_id: ClientOrderId) -> Snapshot[OrderStatusRecord]:
        if (why := self.silence()) is not None:
            return Snapshot.unknown(why)
        return super().order_status(client_order_id)
