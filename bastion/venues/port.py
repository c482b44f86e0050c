"""The venue port: one synchronous protocol for every venue (R10.1).

Shape, and why
--------------
The core is synchronous and deterministic (ARCHITECTURE.md), so the port is too:

- **Order calls return at once.** ``submit``, ``cancel`` and ``modify`` hand the request
  to the venue and return an ``OrderCallResult`` saying only whether the call was
  *taken* (or refused before it left: read-only, disconnected, bad input). What the
  venue then did always arrives as ``VenueEvent`` records (``bastion.domain.venue_events``),
  drained with ``poll_events()``. A refusal is *also* emitted as a ``Rejected`` /
  ``CancelRejected`` event, so the OMS applies every outcome through one path; the call
  result is for the caller's logs and counters, never a second source of state.
- **Events are pulled, not pushed.** The engine drains ``poll_events()`` on its own
  loop. The in-process sim venue fills its queue as market data and the clock move.
  Async adapters (IB through ib_async, CTP callbacks on CTP's own thread, FIX) run
  their I/O on their own loop or thread, convert each wire message once in their
  ``parsing`` module and append the event to a thread-safe deque that
  ``poll_events()`` drains; their order calls put a command on that loop. Nothing in
  the core awaits, and no venue thread touches core state.
- **Snapshots are values with a status and an age.** A query that failed, timed out or
  ran while disconnected gives ``Snapshot.status == UNKNOWN``; it is never an empty
  (flat) value. Async adapters return their latest cached answer with the time it was
  taken; the caller decides how old is too old (R8.1: 300 s by default).

Venue facts the port carries (VENUES.md)
----------------------------------------
- Venue order ids change: ``submit`` may return a provisional id (CTP's
  FrontID/SessionID/OrderRef); ``Acknowledged`` carries the venue's final id
  (ExchangeID/OrderSysID), and later reports use it. Orders are always addressed by
  Bastion's ``ClientOrderId``; the adapter keeps the mapping.
- Fills carry the venue's execution id; the OMS de-duplicates on it.
- ``PositionRecord`` keeps long and short books, each split today / yesterday, behind
  the net position the core uses.
- ``RateLimits`` are declared by each venue; the risk engine's token bucket reads them.
- Counters (``send_order_calls``, ``cancel_order_calls``) count every call that reached
  a venue's order API; read-only and dry-run wrappers (``bastion.venues.modes``) never
  forward one, so the wrapped venue's counters prove it (R8.6, invariant 6).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Generic, NewType, Protocol, TypeVar, runtime_checkable

import msgspec

from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, VenueOrderId
from bastion.domain.market import MarketView
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import VenueEvent

__all__ = [
    "AccountSnapshot",
    "FillCursor",
    "FillsPage",
    "GlobalCancelPort",
    "OpenOrderRecord",
    "OrderApiCounters",
    "OrderCallResult",
    "OrderStatusRecord",
    "PositionRecord",
    "QueryView",
    "RateLimits",
    "Snapshot",
    "SnapshotStatus",
    "VenueOrderStatus",
    "VenuePort",
    "VenueQueries",
]

T = TypeVar("T")

FillCursor = NewType("FillCursor", str)
"""An opaque position in a venue's fill history; ``fills_since(None)`` starts at the top."""


class SnapshotStatus(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # the query failed, timed out or could not be made: never "flat"


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[T]):
    """A query result: a value with the time it was taken, or UNKNOWN with a reason."""

    status: SnapshotStatus
    value: T | None
    taken_at: dt.datetime | None
    reason: str = ""

    @classmethod
    def ok(cls, value: T, taken_at: dt.datetime) -> Snapshot[T]:
        return cls(SnapshotStatus.OK, value, taken_at)

    @classmethod
    def unknown(cls, reason: str, taken_at: dt.datetime | None = None) -> Snapshot[T]:
        return cls(SnapshotStatus.UNKNOWN, None, taken_at, reason)

    @property
    def is_known(self) -> bool:
        return self.status is SnapshotStatus.OK

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        """How old the value is; ``None`` when there is no value."""
        if self.status is not SnapshotStatus.OK or self.taken_at is None:
            return None
        return now - self.taken_at

    def usable(self, now: dt.datetime, max_age: dt.timedelta) -> T | None:
        """The value if it is known and no older than ``max_age``; otherwise ``None``.

        ``None`` means "missing" to the caller (R8.1): never read it as empty or flat.
        """
        age = self.age(now)
        if age is None or age > max_age:
            return None
        return self.value


class AccountSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    equity: Decimal
    """Cash plus open-position profit and loss, net of commissions paid."""
    margin_used: Decimal
    """Initial margin held by open positions."""
    margin_available: Decimal
    """Equity less margin used and less margin reserved by working opening orders."""
    commissions: Decimal = Decimal(0)
    """Commissions charged since the venue's day began (for cost reports)."""


class PositionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One contract's books. CTP holds long and short separately, split today/yesterday
    (SHFE/INE close them with different offsets), and so does the sim venue. A venue that
    reports only a net position (IB) puts it in ``long_yesterday`` or ``short_yesterday``."""

    contract_id: ContractId
    long_today: int = 0
    long_yesterday: int = 0
    short_today: int = 0
    short_yesterday: int = 0

    @property
    def long(self) -> int:
        return self.long_today + self.long_yesterday

    @property
    def short(self) -> int:
        return self.short_today + self.short_yesterday

    @property
    def net(self) -> int:
        """The signed position the core works with."""
        return self.long - self.short


class OpenOrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A working order as the venue reports it."""

    client_order_id: ClientOrderId
    venue_order_id: VenueOrderId | None
    contract_id: ContractId
    side: Side
    quantity: int
    filled: int
    order_type: OrderType
    time_in_force: TimeInForce
    limit_ticks: int | None = None
    stop_ticks: int | None = None
    offset: OffsetFlag | None = None

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled


class VenueOrderStatus(StrEnum):
    """An order's state as the venue knows it (IB completed orders, CTP QryOrder)."""

    WORKING = "working"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    NOT_FOUND = "not_found"  # the venue has no record: the OMS may mark it LOST (R5.4)


class OrderStatusRecord(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: ClientOrderId
    status: VenueOrderStatus
    filled: int = 0
    venue_order_id: VenueOrderId | None = None
    timestamp: dt.datetime | None = None
    """When the venue says the order reached ``status``."""


class FillsPage(msgspec.Struct, frozen=True, kw_only=True):
    fills: tuple[Fill, ...]
    next_cursor: FillCursor
    """Pass this to the next ``fills_since`` call to get only newer fills."""


class OrderCallResult(msgspec.Struct, frozen=True, kw_only=True):
    """What an order call did *at the call*: taken, or refused before it left.

    ``taken`` means the venue has the request; the outcome comes as events. A refusal
    (``taken`` False) is also emitted as an event, so callers never apply this result
    to an order's state themselves.
    """

    client_order_id: ClientOrderId
    taken: bool
    venue_order_id: VenueOrderId | None = None
    """A provisional venue id, when the venue gives one before acceptance."""
    reason: Reason | None = None
    message: str = ""


class RateLimits(msgspec.Struct, frozen=True, kw_only=True):
    """A venue's declared request limits; the risk engine's token bucket reads them."""

    orders_per_second: float
    """Sustained rate for submit, cancel and modify together."""
    order_burst: int
    """Bucket size: how many order calls may go at once after a quiet spell."""
    queries_per_second: float = 1.0
    """Snapshot queries (CTP: about 1 per second; keep one in flight)."""
    max_in_flight_orders: int | None = None
    """Unanswered order requests the venue tolerates (CTP -2 beyond it), if limited."""

    def __post_init__(self) -> None:
        if self.orders_per_second <= 0 or self.order_burst < 1 or self.queries_per_second <= 0:
            raise ValueError(f"rate limits must be positive: {self!r}")


class OrderApiCounters:
    """Calls that reached a venue's order API (R8.6). A cancel/replace counts as one
    cancel and one send: that is what it costs at the venue."""

    __slots__ = ("cancel_order_calls", "send_order_calls")

    def __init__(self) -> None:
        self.send_order_calls = 0
        self.cancel_order_calls = 0

    @property
    def total(self) -> int:
        return self.send_order_calls + self.cancel_order_calls

    def as_dict(self) -> dict[str, int]:
        return {
            "send_order_calls": self.send_order_calls,
            "cancel_order_calls": self.cancel_order_calls,
        }

    def __repr__(self) -> str:
        return (
            f"OrderApiCounters(send_order_calls={self.send_order_calls},"
            f" cancel_order_calls={self.cancel_order_calls})"
        )


class VenueQueries(Protocol):
    """Everything of a venue but its order calls: identity, connection, snapshots and the
    event stream. Every part of the engine except the one send path
    (``bastion.engine.send``) holds a venue of this type, so no other part can send,
    cancel or modify an order (ARCHITECTURE.md: one door to the venue)."""

    @property
    def name(self) -> str: ...

    @property
    def counters(self) -> OrderApiCounters: ...

    @property
    def rate_limits(self) -> RateLimits: ...

    @property
    def is_connected(self) -> bool: ...

    @property
    def connection_epoch(self) -> int:
        """Rises by one at every new connection (logon). The engine runs restart recovery
        and a clean reconciliation once per epoch before it sends anything."""
        ...

    @property
    def last_disconnect_reason(self) -> str:
        """Why the last connection ended (empty until one did), for the journal."""
        ...

    @property
    def last_heard(self) -> dt.datetime | None:
        """When the venue last sent anything (a report, a quote, a heartbeat), in UTC;
        ``None`` before the first. The engine treats a venue silent for longer than the
        profile allows as disconnected."""
        ...

    @property
    def clock_skew(self) -> dt.timedelta | None:
        """The venue's clock minus this machine's, from the latest message that carried
        the venue's time (FIX SendingTime, the broker's current time); ``None`` when the
        venue gives no time. The engine halts new orders while it exceeds the limit."""
        ...

    @property
    def market(self) -> MarketView:
        """The venue's own market data (bid/ask/last, halts, bands), for the risk
        engine's market view and the algos. A venue without a feed returns an empty view
        (every quote unknown), never made-up prices."""
        ...

    def connect(self) -> bool:
        """Connect (and log in); ``False`` if it could not. Never raises for the network."""
        ...

    def disconnect(self) -> None: ...

    def remember(self, order: BrokerOrder) -> None:
        """Learn a live order Bastion journaled in an earlier run, so the venue's reports
        about it map back to it after a restart (venue ids that change, CTP's triples).
        Sends nothing."""
        ...

    def account(self) -> Snapshot[AccountSnapshot]: ...

    def positions(self) -> Snapshot[dict[ContractId, PositionRecord]]:
        """Every contract with a non-zero book; an OK empty dict is *confirmed flat*."""
        ...

    def open_orders(self) -> Snapshot[tuple[OpenOrderRecord, ...]]: ...

    def fills_since(self, cursor: FillCursor | None) -> Snapshot[FillsPage]: ...

    def order_status(self, client_order_id: ClientOrderId) -> Snapshot[OrderStatusRecord]:
        """One order as the venue knows it today; settles orders whose reports were lost."""
        ...

    def poll_events(self) -> list[VenueEvent]:
        """Every event that is due, oldest first; each event is returned once."""
        ...


@runtime_checkable
class GlobalCancelPort(Protocol):
    """An order call only some venues have (IB's ``reqGlobalCancel``): cancel every open
    order in the account, any client's and manual ones. Reached only through the send
    path (``OrderGateway.cancel_everything``), with the operator's confirmation phrase;
    a venue without it (or a read-only or dry-run wrapper) does not match."""

    def global_cancel(self, confirmation: str) -> bool:
        """``False`` when not connected; outcomes arrive as events."""
        ...


class VenuePort(VenueQueries, Protocol):
    """What every venue adapter implements: the queries, plus the order calls. Only the
    engine's send path calls ``submit``, ``cancel`` and ``modify``."""

    def submit(self, order: BrokerOrder) -> OrderCallResult:
        """Send a new order. The venue copies what it needs and never mutates ``order``."""
        ...

    def cancel(self, client_order_id: ClientOrderId) -> OrderCallResult: ...

    def modify(self, client_order_id: ClientOrderId, replacement: BrokerOrder) -> OrderCallResult:
        """Cancel/replace: cancel ``client_order_id`` and, if that succeeds, work
        ``replacement`` (a new order with its own client id) in its place. If the old
        order can no longer be canceled, the replacement is rejected."""
        ...


class QueryView:
    """A venue seen without its order calls: what the kernel hands every part of the
    engine but the send path. ``submit``, ``cancel`` and ``modify`` do not exist here
    (``AttributeError``), so the one-door rule holds by construction, not by care."""

    __slots__ = ("_venue",)

    def __init__(self, venue: VenueQueries) -> None:
        self._venue = venue

    @property
    def name(self) -> str:
        return self._venue.name

    @property
    def counters(self) -> OrderApiCounters:
        return self._venue.counters

    @property
    def rate_limits(self) -> RateLimits:
        return self._venue.rate_limits

    @property
    def is_connected(self) -> bool:
        return self._venue.is_connected

    @property
    def connection_epoch(self) -> int:
        return self._venue.connection_epoch

    @property
    def last_disconnect_reason(self) -> str:
        return self._venue.last_disconnect_reason

    @property
    def last_heard(self) -> dt.datetime | None:
        return self._venue.last_heard

    @property
    def clock_skew(self) -> dt.timedelta | None:
        return self._venue.clock_skew

    @property
    def market(self) -> MarketView:
        return self._venue.market

    def connect(self) -> bool:
        return self._venue.connect()

    def disconnect(self) -> None:
        self._venue.disconnect()

    def remember(self, order: BrokerOrder) -> None:
        self._venue.remember(order)

    def account(self) -> Snapshot[AccountSnapshot]:
        return self._venue.account()

    def positions(self) -> Snapshot[dict[ContractId, PositionRecord]]:
        return self._venue.positions()

    def open_orders(self) -> Snapshot[tuple[OpenOrderRecord, ...]]:
        return self._venue.open_orders()

    def fills_since(self, cursor: FillCursor | None) -> Snapshot[FillsPage]:
        return self._venue.fills_since(cursor)

    def order_status(self, client_order_id: ClientOrderId) -> Snapshot[OrderStatusRecord]:
        return self._venue.order_status(client_order_id)

    def poll_events(self) -> list[VenueEvent]:
        return self._venue.poll_events()
