"""``FixVenue``: the ``VenuePort`` over FIX 4.4 (the paper venue, or a broker by config).

The socket and the session live on one I/O thread; the port's calls stay synchronous:

- order calls encode the message and hand it to the session under a lock, then return
  (``taken``); refusals made before anything left (disconnected) are also events;
- reports are parsed on the I/O thread (``parsing``) and appended to a deque that
  ``poll_events`` drains; a report that cannot be read (an unknown contract) is logged
  and counted, never raised;
- queries send a request and wait (bounded) for the answers; no answer is ``UNKNOWN``.

Disconnects (R10.5): a socket error, the peer closing, or a heartbeat timeout (the
session's TestRequest went unanswered) marks the venue disconnected at once, so order
calls are refused with ``Reason.CONNECTION`` and queries are unknown; the I/O thread
reconnects with exponential backoff (``reconnect_initial`` doubling up to
``reconnect_max``); the persisted sequence numbers make the venue resend what was
missed (ResendRequest / PossDup). ``connection_epoch`` rises at every new logon, so the
engine knows to run restart recovery and reconciliation before it trades again.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import itertools
import logging
import selectors
import socket
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.orders import BrokerOrder, validate_order_shape
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import CancelRejected, Rejected, VenueEvent
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.instruments import ContractBook, contract_fields
from bastion.venues.fix.market_data import FixMarket, quote_from_snapshot
from bastion.venues.fix.parsing import (
    SIDES,
    event_from_report,
    fill_from_trade,
    new_order_fields,
    open_order_from_report,
    status_from_report,
)
from bastion.venues.fix.session import FileSeqStore, FixSession, MemorySeqStore, SeqStore
from bastion.venues.fix.wire import Field, Message, parse_fix_time, text
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

__all__ = ["FixVenue"]

log = logging.getLogger("bastion.fix.venue")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(slots=True)
class _Pending:
    """One query waiting for its answers."""

    done: threading.Event = field(default_factory=threading.Event)
    messages: list[Message] = field(default_factory=list)
    expected: int | None = None


class FixVenue:
    def __init__(self, config: FixConfig, specs: dict[ContractId, ContractSpec]) -> None:
        self.config = config
        self.contracts = ContractBook(specs)
        self.market = FixMarket()
        self._counters = OrderApiCounters()
        self._seqs: SeqStore = (
            FileSeqStore(config.seq_path) if config.seq_path is not None else MemorySeqStore()
        )
        self._lock = threading.RLock()
        self._events: collections.deque[VenueEvent] = collections.deque()
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._orders: dict[ClientOrderId, BrokerOrder] = {}
        self._session: FixSession | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._active = threading.Event()
        self.connection_epoch = 0
        self.disconnects = 0
        self.last_disconnect_reason = ""
        self.unreadable_reports = 0
        self.last_heard: dt.datetime | None = None
        """When the venue last sent any bytes (UTC)."""
        self.clock_skew: dt.timedelta | None = None
        """The venue's SendingTime minus our clock, from its latest report or quote."""

    # -- identity -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def counters(self) -> OrderApiCounters:
        return self._counters

    @property
    def rate_limits(self) -> RateLimits:
        return RateLimits(orders_per_second=50.0, order_burst=20, queries_per_second=20.0)

    @property
    def is_connected(self) -> bool:
        return self._active.is_set()

    # -- connection -----------------------------------------------------------------------
    def connect(self) -> bool:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="fix-io", daemon=True)
            self._thread.start()
        return self._active.wait(self.config.connect_timeout)

    def disconnect(self) -> None:
        """Log out and stop the I/O thread (no reconnect)."""
        self._stop.set()
        with self._lock:
            session, sock = self._session, self._sock
            if session is not None and session.active and sock is not None:
                session.logout(_now(), "client disconnect")
                with contextlib.suppress(OSError):
                    sock.sendall(session.take_outbox())
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        delay = self.config.reconnect_initial
        while not self._stop.is_set():
            sock = self._open()
            if sock is None:
                self._stop.wait(delay)
                delay = min(delay * 2, self.config.reconnect_max)
                continue
            why = self._serve(sock)
            self._mark_down(why)
            if self._stop.is_set():
                break
            self._stop.wait(delay)
            delay = (
                min(delay * 2, self.config.reconnect_max)
                if not self._was_up
                else self.config.reconnect_initial
            )
            self._was_up = False

    _was_up = False

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection((self.config.host, self.config.port), timeout=2)
        except OSError as exc:
            self.last_disconnect_reason = f"connect failed: {exc}"
            return None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)  # noqa: FBT003 - the socket API
        with self._lock:
            session = FixSession(
                self.config.sender_comp_id,
                self.config.target_comp_id,
                self._seqs,
                heartbeat=self.config.heartbeat_seconds,
                on_app=self._on_app,
                initiator=True,
            )
            session.on_heartbeat = self._on_heartbeat
            if self.config.username is not None:
                session.logon_fields.append((553, self.config.username))
            if self.config.password is not None:
                session.logon_fields.append((554, self.config.password.reveal()))
            session.logon(_now())
            self._session, self._sock = session, sock
            self._write()
        return sock

    def _serve(self, sock: socket.socket) -> str:
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                ready = selector.select(timeout=0.05)
                with self._lock:
                    session = self._session
                    assert session is not None  # noqa: S101 - set by _open
                    if ready:
                        try:
                            data = sock.recv(65536)
                        except (BlockingIOError, InterruptedError):
                            data = None
                        except OSError as exc:
                            return f"socket error: {exc}"
                        if data == b"":
                            return "the venue closed the connection"
                        if data:
                            self.last_heard = _now()
                            session.receive(data, self.last_heard)
                    session.tick(_now())
                    if session.active and not self._active.is_set():
                        self._mark_up()
                    if not self._write():
                        return "socket error on send"
                    if session.state.value == "closed":
                        return session.closed_reason or "session closed"
            return "stopped"
        finally:
            selector.close()
            sock.close()

    def _write(self) -> bool:
        session, sock = self._session, self._sock
        if session is None or sock is None or not session.outbox:
            return True
        data = session.take_outbox()
        try:
            sock.setblocking(True)  # noqa: FBT003 - the socket API
            sock.sendall(data)
        except OSError:
            return False
        finally:
            with contextlib.suppress(OSError):
                sock.setblocking(False)  # noqa: FBT003 - the socket API
        return True

    def _mark_up(self) -> None:
        self.connection_epoch += 1
        self._was_up = True
        self._active.set()
        log.info("FIX venue %s: logged on (epoch %d)", self.name, self.connection_epoch)
        with self._lock:
            self._send(
                "V", [(262, "md"), (263, "1"), (264, 1), (267, 2), (269, "0"), (269, "1"), (146, 0)]
            )

    def _mark_down(self, why: str) -> None:
        was = self._active.is_set()
        self._active.clear()
        with self._lock:
            self._session, self._sock = None, None
            for pending in self._pending.values():
                pending.done.set()  # answered with what came, i.e. unknown
        if was:
            self.disconnects += 1
            self.last_disconnect_reason = why
            log.warning("FIX venue %s: disconnected: %s", self.name, why)

    def _send(self, msg_type: str, fields: list[Field]) -> bool:
        with self._lock:
            session = self._session
            if session is None or not session.active:
                return False
            session.send_app(msg_type, fields, _now())
            return self._write()

    # -- incoming -----------------------------------------------------------------------
    def _on_heartbeat(self, test_id: str) -> None:
        pending = self._pending.get(test_id)
        if pending is not None:
            pending.done.set()

    def _on_app(self, msg: Message) -> None:
        msg_type = text(msg, 35)
        sent = text(msg, 52)
        if sent and text(msg, 43) != "Y":  # a resent message carries old times
            with contextlib.suppress(ValueError):
                self.clock_skew = parse_fix_time(sent) - _now()
        if msg_type == "8" and text(msg, 150) == "I":
            key = text(msg, 790) or text(msg, 584) or ""
            self._collect(
                key,
                msg,
                total=text(msg, 911),
                last=text(msg, 912) != "N" if text(msg, 584) else True,
            )
            return
        if msg_type in {"8", "9"}:
            try:
                event = event_from_report(msg, self.contracts)
            except (ValueError, ArithmeticError) as exc:
                event = None
                log.warning("FIX venue %s: unreadable report: %s", self.name, exc)
            if event is None:
                self.unreadable_reports += 1
                log.warning(
                    "FIX venue %s: report not understood (contract %s/%s, ClOrdID %s): skipped",
                    self.name,
                    text(msg, 55),
                    text(msg, 200),
                    text(msg, 11),
                )
                return
            self._events.append(event)
        elif msg_type == "W":
            found = quote_from_snapshot(msg, self.contracts)
            if found is not None:
                self.market.update(found)
        elif msg_type in {"AO", "AP"}:
            self._collect(
                text(msg, 710) or "",
                msg,
                total=text(msg, 727),
                last=msg_type == "AP" and text(msg, 912) != "N",
                ack=msg_type == "AO",
            )
        elif msg_type == "BA":
            self._collect(text(msg, 909) or "", msg, total="1", last=True)
        elif msg_type in {"AQ", "AE"}:
            self._collect(
                text(msg, 568) or "",
                msg,
                total=text(msg, 748),
                last=msg_type == "AE" and text(msg, 912) != "N",
                ack=msg_type == "AQ",
            )
        elif msg_type == "U2":
            self._collect(text(msg, 20103) or "", msg, total="1", last=True)
        else:
            log.info("FIX venue %s: ignored message type %s", self.name, msg_type)

    def _collect(
        self, key: str, msg: Message, *, total: str | None, last: bool, ack: bool = False
    ) -> None:
        pending = self._pending.get(key)
        if pending is None:
            log.info("FIX venue %s: answer to no pending query (%s)", self.name, key)
            return
        pending.messages.append(msg)
        if ack:
            pending.expected = int(total or "0")
            if pending.expected == 0 or text(msg, 749) not in {None, "0"}:
                pending.done.set()
            return
        if last or (total is not None and total == "0"):
            pending.done.set()

    def _query(self, msg_type: str, key_tag: int, fields: list[Field]) -> list[Message] | str:
        key = f"Q{next(self._ids)}"
        pending = _Pending()
        self._pending[key] = pending
        try:
            if not self._send(msg_type, [(key_tag, key), *fields]):
                return f"{self.name} is disconnected"
            if not pending.done.wait(self.config.query_timeout):
                return f"{self.name}: no answer to {msg_type} within {self.config.query_timeout}s"
            if not self.is_connected:
                return f"{self.name} disconnected during the query"
            return pending.messages
        finally:
            self._pending.pop(key, None)

    def sync(self, timeout: float = 2.0) -> bool:
        """Wait until every message the venue sent before now has been read."""
        key = f"SYNC{next(self._ids)}"
        pending = _Pending()
        self._pending[key] = pending
        try:
            with self._lock:
                session = self._session
                if session is None or not session.active:
                    return False
                session.test_request(_now(), key)
                self._write()
            return pending.done.wait(timeout)
        finally:
            self._pending.pop(key, None)

    # -- queries ------------------------------------------------------------------------
    def account(self) -> Snapshot[AccountSnapshot]:
        got = self._query("BB", 909, [(910, 0)])
        if isinstance(got, str):
            return Snapshot.unknown(got)
        msg = got[0]
        return Snapshot.ok(
            AccountSnapshot(
                currency=text(msg, 15) or "",
                equity=Decimal(text(msg, 900) or "0"),
                margin_used=Decimal(text(msg, 20010) or "0"),
                margin_available=Decimal(text(msg, 899) or "0"),
                commissions=Decimal(text(msg, 12) or "0"),
            ),
            _now(),
        )

    def positions(self) -> Snapshot[dict[ContractId, PositionRecord]]:
        got = self._query("AN", 710, [(724, 0), (263, 0), (715, _now().strftime("%Y%m%d"))])
        if isinstance(got, str):
            return Snapshot.unknown(got)
        out: dict[ContractId, PositionRecord] = {}
        for msg in got:
            if text(msg, 35) != "AP":
                continue
            cid = self.contracts.contract(text(msg, 55), text(msg, 200))
            if cid is None:
                log.warning(
                    "FIX venue %s: position in unknown contract %s/%s",
                    self.name,
                    text(msg, 55),
                    text(msg, 200),
                )
                continue
            books: dict[str, tuple[int, int]] = {}
            n = 1
            while (kind := msg.get(703, n)) is not None:
                books[bytes(kind).decode()] = (int(msg.get(704, n) or 0), int(msg.get(705, n) or 0))
                n += 1
            sod, tq = books.get("SOD", (0, 0)), books.get("TQ", (0, 0))
            out[cid] = PositionRecord(
                contract_id=cid,
                long_yesterday=sod[0],
                short_yesterday=sod[1],
                long_today=tq[0],
                short_today=tq[1],
            )
        return Snapshot.ok(out, _now())

    def open_orders(self) -> Snapshot[tuple[OpenOrderRecord, ...]]:
        got = self._query("AF", 584, [(585, 7)])
        if isinstance(got, str):
            return Snapshot.unknown(got)
        records = []
        for msg in got:
            if text(msg, 911) == "0":
                continue
            record = open_order_from_report(msg, self.contracts)
            if record is not None:
                records.append(record)
        return Snapshot.ok(tuple(records), _now())

    def fills_since(self, cursor: FillCursor | None) -> Snapshot[FillsPage]:
        got = self._query("AD", 568, [(569, 0), (20020, cursor or "")])
        if isinstance(got, str):
            return Snapshot.unknown(got)
        ack = got[0]
        if text(ack, 749) not in {None, "0"}:
            return Snapshot.unknown(text(ack, 58) or "trade capture request refused")
        fills = []
        for msg in got[1:]:
            fill = fill_from_trade(msg, self.contracts)
            if fill is None:
                self.unreadable_reports += 1
                log.warning("FIX venue %s: unreadable trade report %s", self.name, text(msg, 17))
                continue
            fills.append(fill)
        return Snapshot.ok(
            FillsPage(fills=tuple(fills), next_cursor=FillCursor(text(ack, 20021) or "")), _now()
        )

    def order_status(self, client_order_id: ClientOrderId) -> Snapshot[OrderStatusRecord]:
        order = self._orders.get(client_order_id)
        extra: list[Field] = [(11, client_order_id)]
        if order is not None:
            extra += [*contract_fields(order.contract_id), (54, SIDES[order.side])]
        got = self._query("H", 790, extra)
        if isinstance(got, str):
            return Snapshot.unknown(got)
        return Snapshot.ok(status_from_report(got[0]), _now())

    # -- order calls --------------------------------------------------------------------
    def remember(self, order: BrokerOrder) -> None:
        """Let cancels of an order sent before a restart carry its contract and side."""
        self._orders.setdefault(order.client_order_id, order)

    def _invalid(self, order: BrokerOrder) -> str | None:
        """Why the order cannot be put on the wire at all (checked before sending)."""
        if order.contract_id not in self.contracts.specs:
            return f"unknown contract {order.contract_id}"
        if not isinstance(order.quantity, int) or order.quantity <= 0:
            return f"quantity must be a positive whole number, got {order.quantity!r}"
        for label, ticks in (("limit", order.limit_ticks), ("stop", order.stop_ticks)):
            if ticks is not None and (not isinstance(ticks, int) or isinstance(ticks, bool)):
                return f"{label} price {ticks!r} is not a whole number of ticks"
        return validate_order_shape(
            order.order_type,
            order.limit_ticks,
            order.stop_ticks,
            order.time_in_force,
            order.expire_at,
        )

    def submit(self, order: BrokerOrder) -> OrderCallResult:
        self._counters.send_order_calls += 1
        coid = order.client_order_id
        problem = self._invalid(order)
        if problem is not None:
            return self._refuse(coid, Reason.INVALID_ORDER, problem)
        self._orders[coid] = order
        if not self._send("D", new_order_fields(order, self.contracts, _now())):
            return self._refuse(coid)
        return OrderCallResult(client_order_id=coid, taken=True)

    def _refuse(
        self, coid: ClientOrderId, reason: Reason = Reason.CONNECTION, message: str = ""
    ) -> OrderCallResult:
        message = message or f"{self.name} is disconnected; nothing was sent"
        self._events.append(
            Rejected(client_order_id=coid, reason=reason, message=message, timestamp=_now())
        )
        return OrderCallResult(client_order_id=coid, taken=False, reason=reason, message=message)

    def _cancel_fields(self, client_order_id: ClientOrderId) -> list[Field]:
        fields: list[Field] = [(41, client_order_id), (11, f"{client_order_id}~X{next(self._ids)}")]
        order = self._orders.get(client_order_id)
        if order is not None:
            fields += [
                *contract_fields(order.contract_id),
                (54, SIDES[order.side]),
                (38, order.quantity),
            ]
        return [*fields, (60, _now().strftime("%Y%m%d-%H:%M:%S.%f"))]

    def cancel(self, client_order_id: ClientOrderId) -> OrderCallResult:
        self._counters.cancel_order_calls += 1
        if not self._send("F", self._cancel_fields(client_order_id)):
            message = f"{self.name} is disconnected; nothing was sent"
            self._events.append(
                CancelRejected(
                    client_order_id=client_order_id,
                    reason=Reason.CONNECTION,
                    message=message,
                    timestamp=_now(),
                )
            )
            return OrderCallResult(
                client_order_id=client_order_id,
                taken=False,
                reason=Reason.CONNECTION,
                message=message,
            )
        return OrderCallResult(client_order_id=client_order_id, taken=True)

    def modify(self, client_order_id: ClientOrderId, replacement: BrokerOrder) -> OrderCallResult:
        self._counters.cancel_order_calls += 1
        self._counters.send_order_calls += 1
        coid = replacement.client_order_id
        problem = self._invalid(replacement)
        if problem is not None:
            return self._refuse(coid, Reason.INVALID_ORDER, problem)
        self._orders[coid] = replacement
        fields = [(41, client_order_id), *new_order_fields(replacement, self.contracts, _now())]
        if not self._send("G", fields):
            self._events.append(
                CancelRejected(
                    client_order_id=client_order_id,
                    reason=Reason.CONNECTION,
                    message="disconnected",
                    timestamp=_now(),
                )
            )
            return self._refuse(coid)
        return OrderCallResult(client_order_id=coid, taken=True)

    def poll_events(self) -> list[VenueEvent]:
        if self.config.sync_polls and self.is_connected:
            self.sync()
        out = []
        while self._events:
            out.append(self._events.popleft())
        return out

    # -- test control (paper venue started with control enabled) ------------------------
    def control(self, op: str, **params: object) -> bool:
        fields: list[Field] = [(20100, op), *((20102, f"{k}={v}") for k, v in params.items())]
        got = self._query("U1", 20103, fields)
        return not isinstance(got, str)
