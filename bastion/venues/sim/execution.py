"""``SimVenue``: the simulated venue behind the ``VenuePort``, in process and deterministic.

Drive it with market data (``on_quote``, ``on_trade``, ``on_bar``) after moving the
clock; drain ``poll_events()``. Order calls follow the port: they return at once, and
every outcome arrives as an event. ``venue.faults`` injects what real venues do
(``faults.py``). Nothing here uses threads, asyncio or the wall clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import msgspec

from bastion.clock import Clock
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ClientOrderId, ContractId, VenueOrderId
from bastion.domain.market import MarketView
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import CancelRejected, Rejected, VenueEvent
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
    VenueOrderStatus,
)
from bastion.venues.sim.config import FaultKind, ScheduledFault, SimVenueConfig
from bastion.venues.sim.engine import SessionCheck, always_open
from bastion.venues.sim.faults import Faults
from bastion.venues.sim.feed import MarketFeed
from bastion.venues.sim.market_data import SimMarketView
from bastion.venues.sim.parsing import Refusal, SimOrder, parse_order

__all__ = ["SimVenue"]


class SimVenue(MarketFeed):
    def __init__(
        self,
        specs: dict[ContractId, ContractSpec],
        clock: Clock,
        config: SimVenueConfig | None = None,
        is_open: SessionCheck = always_open,
    ) -> None:
        config = config if config is not None else SimVenueConfig()
        super().__init__(specs, clock, config, is_open)
        self._counters = OrderApiCounters()
        self._connected = False
        self._session = 0
        self._next_ref = 0
        self._local: list[VenueEvent] = []
        """Refusals made at the call (never sent); delivered even while disconnected."""
        self._withheld: list[VenueEvent] = []
        """Reports that fell due while disconnected, replayed on reconnect."""
        self._inbox: list[VenueEvent] = []
        """Reports that reached us before a disconnect and were not polled yet."""
        self._reserved: set[ClientOrderId] = set()
        self._tokens = float(config.rate_limits.order_burst)
        self._tokens_at = self._now
        self.faults = Faults(
            config.faults,
            config.seed,
            self._fault_disconnect,
            self.halt,
            self.current_time,
            on_latency=self._set_latency,
            on_cash=self.account_book.move_cash,
        )
        self.reject_hook = self.faults.take_reject
        self._market_view = SimMarketView(self.markets, is_open)
        self._disconnect_reason = ""
        for fault in config.faults.schedule:
            self.schedule(fault.at, self._run_scheduled, fault)

    # -- identity and connection ----------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def counters(self) -> OrderApiCounters:
        return self._counters

    @property
    def rate_limits(self) -> RateLimits:
        return self.config.rate_limits

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def connection_epoch(self) -> int:
        return self._session

    @property
    def last_disconnect_reason(self) -> str:
        return self._disconnect_reason

    @property
    def last_heard(self) -> dt.datetime | None:
        """In process: heard at every call while connected (unless ``faults.silence``)."""
        return self.faults.heard_at(self._now) if self._connected else None

    @property
    def clock_skew(self) -> dt.timedelta | None:
        """In process, on the engine's own clock: none, unless ``faults.clock_skew``."""
        return self.faults.skew

    @property
    def market(self) -> MarketView:
        return self._market_view

    def remember(self, order: BrokerOrder) -> None:
        """Nothing to learn: the sim venue addresses orders by Bastion's own ids."""

    def connect(self) -> bool:
        self.advance()
        self._reconnect()
        return True

    def disconnect(self) -> None:
        self._fault_disconnect(None, lose_reports=False)

    def _fault_disconnect(self, duration: dt.timedelta | None, lose_reports: bool) -> None:
        self.current_time()
        if self._connected:
            self._inbox.extend(self.due_reports())  # these reached us before the drop
            self._disconnect_reason = (
                "client disconnect" if duration is None and not lose_reports else "venue fault"
            )
        self._connected = False
        self.faults.lose_reports = lose_reports
        if duration is not None:
            until = self._now + duration
            self.faults.disconnected_until = until
            self.schedule(until, self._reconnect)

    def drop_session(self, *, lose_reports: bool) -> None:
        """The client's process died: the session drops without a logout. What had
        reached it and was not read yet dies with it; reports due later are replayed at
        the next logon, or lost when ``lose_reports`` (only queries recover them)."""
        self.current_time()
        if self._connected:
            self._inbox.extend(self.due_reports())
        if lose_reports:
            for event in (*self._inbox, *self._withheld):
                self.faults.injected("lost", event.client_order_id)
            self._inbox.clear()
            self._withheld.clear()
        self._connected = False
        self._disconnect_reason = "client gone"
        self.faults.lose_reports = lose_reports

    def _set_latency(self, ack: dt.timedelta, fill: dt.timedelta) -> None:
        self.config = msgspec.structs.replace(self.config, ack_latency=ack, fill_latency=fill)

    def _reconnect(self) -> None:
        """Reports that fell due while disconnected are replayed now, or lost."""
        if self._connected:
            return
        missed = self.due_reports()
        if self.faults.lose_reports:
            for event in missed:
                self.faults.injected("lost", event.client_order_id)
        else:
            self._withheld.extend(missed)
        self.faults.lose_reports = False
        self._connected = True
        self._session += 1
        self.faults.disconnected_until = None
        self.faults.silent_until = None  # a new logon is hearing from the venue

    # -- queries ------------------------------------------------------------------------
    def _unknown(self) -> str | None:
        self.advance()
        return None if self._connected else f"{self.name} is disconnected"

    def account(self) -> Snapshot[AccountSnapshot]:
        why = self._unknown()
        if why is not None:
            return Snapshot.unknown(why)
        return Snapshot.ok(self.account_book.snapshot(self.markets), self._now)

    def positions(self) -> Snapshot[dict[ContractId, PositionRecord]]:
        why = self._unknown()
        if why is not None:
            return Snapshot.unknown(why)
        return Snapshot.ok(self.account_book.positions(), self._now)

    def open_orders(self) -> Snapshot[tuple[OpenOrderRecord, ...]]:
        why = self._unknown()
        if why is not None:
            return Snapshot.unknown(why)
        return Snapshot.ok(tuple(o.record() for o in self.orders.values()), self._now)

    def fills_since(self, cursor: FillCursor | None) -> Snapshot[FillsPage]:
        why = self._unknown()
        if why is not None:
            return Snapshot.unknown(why)
        start = 0
        if cursor is not None:
            if not cursor.isdigit() or int(cursor) > len(self.fills):
                return Snapshot.unknown(f"not a fill cursor of {self.name}: {cursor!r}")
            start = int(cursor)
        page = FillsPage(
            fills=tuple(self.fills[start:]), next_cursor=FillCursor(str(len(self.fills)))
        )
        return Snapshot.ok(page, self._now)

    def order_status(self, client_order_id: ClientOrderId) -> Snapshot[OrderStatusRecord]:
        why = self._unknown()
        if why is not None:
            return Snapshot.unknown(why)
        record = self.status.get(client_order_id)
        if record is None:
            order = self.orders.get(client_order_id)
            record = OrderStatusRecord(
                client_order_id=client_order_id,
                status=VenueOrderStatus.NOT_FOUND if order is None else VenueOrderStatus.WORKING,
                filled=0 if order is None else order.filled,
                venue_order_id=None if order is None else order.venue_order_id,
            )
        return Snapshot.ok(record, self._now)

    # -- order calls ----------------------------------------------------------------------
    def _gate(self) -> tuple[Reason, str] | None:
        """Why an order call cannot leave at all (disconnected, over the rate), or None."""
        self.advance()
        if not self._connected:
            return Reason.CONNECTION, f"{self.name} is disconnected; nothing was sent"
        if self.config.enforce_rate_limits:
            limits = self.config.rate_limits
            elapsed = (self._now - self._tokens_at).total_seconds()
            self._tokens = min(
                float(limits.order_burst), self._tokens + elapsed * limits.orders_per_second
            )
            self._tokens_at = self._now
            if self._tokens < 1.0:
                return Reason.RATE_LIMITED, f"over {limits.orders_per_second} order calls/s"
            self._tokens -= 1.0
        return None

    def _refuse(self, coid: ClientOrderId, reason: Reason, message: str) -> OrderCallResult:
        self._local.append(
            Rejected(client_order_id=coid, reason=reason, message=message, timestamp=self._now)
        )
        return OrderCallResult(client_order_id=coid, taken=False, reason=reason, message=message)

    def _refuse_cancel(self, coid: ClientOrderId, reason: Reason, message: str) -> OrderCallResult:
        self._local.append(
            CancelRejected(
                client_order_id=coid, reason=reason, message=message, timestamp=self._now
            )
        )
        return OrderCallResult(client_order_id=coid, taken=False, reason=reason, message=message)

    def _admit(self, order: BrokerOrder) -> SimOrder | OrderCallResult:
        """Parse and de-duplicate a new order; a refusal is answered and never stored."""
        parsed = parse_order(order, self._specs, self.config, self._next_seq())
        coid = getattr(order, "client_order_id", ClientOrderId(""))
        if isinstance(parsed, Refusal):
            return self._refuse(coid, parsed.reason, parsed.message)
        if coid in self.orders or coid in self.status or coid in self._reserved:
            return self._refuse(coid, Reason.DUPLICATE, f"order {coid} was already sent")
        if self.config.provisional_ids:
            self._next_ref += 1
            parsed.venue_order_id = VenueOrderId(f"{self._session}:{self._next_ref:012d}")
        return parsed

    def submit(self, order: BrokerOrder) -> OrderCallResult:
        self._counters.send_order_calls += 1
        coid = getattr(order, "client_order_id", ClientOrderId(""))
        blocked = self._gate()
        if blocked is not None:
            return self._refuse(coid, *blocked)
        admitted = self._admit(order)
        if isinstance(admitted, OrderCallResult):
            return admitted
        self.orders[admitted.client_order_id] = admitted
        provisional = admitted.venue_order_id
        self._after_latency(self.arrive, admitted)
        return OrderCallResult(
            client_order_id=admitted.client_order_id, taken=True, venue_order_id=provisional
        )

    def cancel(self, client_order_id: ClientOrderId) -> OrderCallResult:
        self._counters.cancel_order_calls += 1
        blocked = self._gate()
        if blocked is not None:
            return self._refuse_cancel(client_order_id, *blocked)
        self._after_latency(self._cancel_at_venue, client_order_id, None)
        return OrderCallResult(client_order_id=client_order_id, taken=True)

    def modify(self, client_order_id: ClientOrderId, replacement: BrokerOrder) -> OrderCallResult:
        self._counters.cancel_order_calls += 1
        self._counters.send_order_calls += 1
        coid = getattr(replacement, "client_order_id", ClientOrderId(""))
        blocked = self._gate()
        if blocked is not None:
            self._refuse_cancel(client_order_id, *blocked)
            return self._refuse(coid, *blocked)
        admitted = self._admit(replacement)
        if isinstance(admitted, OrderCallResult):
            return admitted
        original = self.orders.get(client_order_id)
        if original is not None and (
            original.contract_id != admitted.contract_id or original.side is not admitted.side
        ):
            return self._refuse(
                coid, Reason.INVALID_ORDER, "a replacement must keep the contract and the side"
            )
        self._reserved.add(coid)
        provisional = admitted.venue_order_id
        self._after_latency(self._cancel_at_venue, client_order_id, admitted)
        return OrderCallResult(client_order_id=coid, taken=True, venue_order_id=provisional)

    def _after_latency(self, action: Callable[..., None], *args: object) -> None:
        if self.config.ack_latency:
            self.schedule(self._now + self.config.ack_latency, action, *args)
        else:
            action(*args)

    def _cancel_at_venue(self, coid: ClientOrderId, replacement: SimOrder | None) -> None:
        order = self.orders.get(coid)
        if order is None:
            done = self.status.get(coid)
            why = f"order {coid} is unknown" if done is None else f"order {coid} is {done.status}"
            self.refuse_cancel(coid, Reason.INVALID_ORDER, f"cannot cancel: {why}")
            if replacement is not None:
                self._reserved.discard(replacement.client_order_id)
                self.status[replacement.client_order_id] = OrderStatusRecord(
                    client_order_id=replacement.client_order_id, status=VenueOrderStatus.REJECTED
                )
                self.report(
                    Rejected(
                        client_order_id=replacement.client_order_id,
                        reason=Reason.INVALID_ORDER,
                        message=f"replace failed: {why}",
                        timestamp=self._now,
                        venue_order_id=replacement.venue_order_id,
                    )
                )
            return
        late_fill, lots = self.faults.take_fill_after_cancel()
        was_live = order.live
        self.cancel_now(order)
        if late_fill and was_live and order.remaining > 0:
            # The exchange matched it just before the cancel; the report comes after.
            self._late_fill(order, order.remaining if lots is None else min(lots, order.remaining))
            self.faults.injected("late_fill", coid)
        if replacement is not None:
            self._reserved.discard(replacement.client_order_id)
            self.orders[replacement.client_order_id] = replacement
            self.arrive(replacement)

    def faults_stale(self) -> bool:
        return self.faults.is_stale(self._now)

    # -- events -----------------------------------------------------------------------------
    def poll_events(self) -> list[VenueEvent]:
        self.advance()
        local, self._local = self._local, []
        if not self._connected:
            return local  # due reports wait in the heap until the reconnect
        due = self.due_reports()
        if self._inbox or self._withheld:
            due = [*self._inbox, *self._withheld, *due]
            self._inbox, self._withheld = [], []
        return local + self.faults.shape(due) if due else local

    def _run_scheduled(self, fault: ScheduledFault) -> None:
        kind, faults = fault.kind, self.faults
        if kind is FaultKind.DISCONNECT:
            faults.disconnect(fault.seconds, lose_reports=fault.lose_reports)
        elif kind is FaultKind.HALT:
            cid = None if fault.contract_id is None else ContractId(fault.contract_id)
            faults.halt(cid, fault.seconds or None)
        elif kind is FaultKind.STALE_QUOTES:
            faults.stale_quotes(fault.seconds)
        elif kind is FaultKind.REJECT_NEXT:
            faults.reject_next(fault.reason, "scheduled reject")
        elif kind is FaultKind.FILL_AFTER_CANCEL:
            faults.fill_after_cancel_next()
        elif kind is FaultKind.DROP_NEXT:
            faults.drop_next(fault.count)
        elif kind is FaultKind.DUPLICATE_NEXT:
            faults.duplicate_next(fault.count)
        else:
            faults.reorder_next(fault.count)
