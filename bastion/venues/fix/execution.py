"""``FixVenue``: the ``VenuePort`` over FIX 4.4 (the paper venue, or a broker by config).

The socket and the session live on one I/O thread; the port's calls stay synchronous:

- order calls encode the message and hand it to the session under a lock, then return
  (``taken``); refusals made before anything left (disconnected) are also events;
- reports are parsed on the I/O thread (``parsing``) and appended to a deque that
  ``poll_events`` drains. Nothing a venue sends can stop that thread or vanish: a report
  Bastion cannot read or place (garbled fields, an unknown ExecType, a fill in an
  unknown contract), a BusinessMessageReject or a session Reject of one of our messages
  becomes a ``VenueAnomaly`` event (counted in ``anomalies``, logged), which the OMS
  records; a report for an order Bastion does not know is an ordinary event the OMS
  classes FOREIGN; unreadable market data is counted and logged;
- queries send a request and wait (bounded) for the answers; no answer, or an answer
  with a field that cannot be read, is ``UNKNOWN`` (never a partial "flat").

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bastion.clock import Clock, WallClock
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.orders import BrokerOrder, validate_order_shape
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import CancelRejected, Rejected, VenueAnomaly, VenueEvent
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.instruments import ContractBook, contract_fields
from bastion.venues.fix.market_data import FixMarket, quote_from_snapshot
from bastion.venues.fix.parsing import (
    INFORMATIONAL_EXEC_TYPES,
    SIDES,
    account_from_report,
    event_from_report,
    fill_from_trade,
    new_order_fields,
    open_order_from_report,
    position_from_report,
    status_from_report,
    venue_anomaly,
)
from bastion.venues.fix.session import FileSeqStore, FixSession, MemorySeqStore, SeqStore
from bastion.venues.fix.wire import Field, FieldError, Message, parse_fix_time, text
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
T = TypeVar("T")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(slots=True)
class _Pending:
    """One query waiting for its answers."""

    done: threading.Event = field(default_factory=threading.Event)
    messages: list[Message] = field(default_factory=list)
    expected: int | None = None


class FixVenue:
    def __init__(
        self,
        config: FixConfig,
        specs: dict[ContractId, ContractSpec],
        *,
        clock: Clock | None = None,
    ) -> None:
        """``clock``: the engine's clock, which ``last_heard``, ``clock_skew``, the time
        of each query's answer and of the events the adapter makes itself are read on
        (the engine compares them with its own time); the FIX session's timers
        (heartbeats, test requests) and the times we send always run on this machine's
        clock."""
        self.config = config
        self._clock: Clock = clock if clock is not None else WallClock()
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
        """Reports and answers that could not be read (each also an anomaly or an
        unknown query result)."""
        self.last_heard: dt.datetime | None = None
        """When the venue last sent any bytes (UTC, on the engine's clock)."""
        self.clock_skew: dt.timedelta | None = None
        """The venue's SendingTime minus the engine's clock, from its latest message."""
        self.anomalies = 0
        self.unreadable_quotes = 0
        self._sent_order_ids: dict[int, str] = {}
        """ClOrdID of recent order messages by MsgSeqNum, to name them in a Reject."""

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
            session.on_message = self._note_clock
            session.on_reject = self._on_session_reject
            session.on_bad_app = self._on_bad_app
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
                            self.last_heard = self._clock.now()
                            try:
                                session.receive(data, _now())
                            except Exception:  # a bug: reconnect, never end the thread
                                log.exception("FIX venue %s: failed to read input", self.name)
                                return "internal error reading the venue's messages"
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
        self.last_disconnect_reason = why  # a refused logon says why, too
        if was:
            self.disconnects += 1
            # A disconnect this client asked for (a command ending) is routine: debug only.
            # Anything else (the venue went away, a heartbeat missed) is a warning.
            level = logging.DEBUG if self._stop.is_set() else logging.WARNING
            log.log(level, "FIX venue %s: disconnected: %s", self.name, why)
        else:
            level = logging.DEBUG if self._stop.is_set() else logging.WARNING
            log.log(level, "FIX venue %s: not logged on: %s", self.name, why)

    def _send(self, msg_type: str, fields: list[Field]) -> bool:
        with self._lock:
            session = self._session
            if session is None or not session.active:
                return False
            seq = session.send_app(msg_type, fields, _now())
            coid = next((str(v) for t, v in fields if t == 11), None)
            if coid is not None:
                self._sent_order_ids[seq] = coid
                if len(self._sent_order_ids) > 10_000:
                    del self._sent_order_ids[next(iter(self._sent_order_ids))]
            return self._write()

    # -- incoming -----------------------------------------------------------------------
    def _on_heartbeat(self, test_id: str) -> None:
        pending = self._pending.get(test_id)
        if pending is not None:
            pending.done.set()

    def _anomaly(self, event: VenueAnomaly) -> None:
        self.anomalies += 1
        log.warning(
            "FIX venue %s: anomaly %s (ClOrdID %s): %s",
            self.name,
            event.kind,
            event.client_order_id,
            event.message,
        )
        self._events.append(event)

    def _on_session_reject(self, msg: Message) -> None:
        """The venue refused one of our messages at the session level (35=3)."""
        self._refused(msg, "session_reject")

    def _refused(self, msg: Message, kind: str) -> None:
        """A Reject or BusinessMessageReject of one of our messages, as an anomaly
        naming the order it carried, when it carried one."""
        ref = bytes(msg.get(45) or b"")[:12].decode("ascii", "replace")
        coid = self._sent_order_ids.get(int(ref)) if ref.isdigit() else None
        what = bytes(msg.get(372) or b"message")[:8].decode("ascii", "replace")
        reason = bytes(msg.get(58) or b"")[:200].decode("utf-8", "replace")
        self._anomaly(
            VenueAnomaly(
                kind=kind,
                message=f"the venue refused our {what} {ref}: {reason}",
                timestamp=self._clock.now(),
                client_order_id=ClientOrderId(coid) if coid else None,
            )
        )

    def _on_bad_app(self, msg: Message, exc: FieldError) -> None:
        """A message the session refused for a bad field (already answered with a
        Reject): a report is an anomaly; anything else is counted and logged."""
        self.unreadable_reports += 1
        msg_type = bytes(msg.get(35) or b"").decode("ascii", "replace")
        if msg_type in {"8", "9", "j"}:
            self._anomaly(venue_anomaly(msg, "unreadable_report", f"refused by the session: {exc}"))
        else:
            log.warning("FIX venue %s: unreadable %s message: %s", self.name, msg_type, exc)

    def _on_app(self, msg: Message) -> None:
        """Runs on the I/O thread for every application message; never raises."""
        try:
            self._dispatch(msg)
        except Exception as exc:  # noqa: BLE001 - a hostile venue must not stop the I/O thread
            self.unreadable_reports += 1
            self._anomaly(venue_anomaly(msg, "unreadable_message", f"not readable: {exc!r}"))

    def _note_clock(self, msg: Message) -> None:
        """The venue's clock against ours, from the SendingTime (52) of every message
        it sends in sequence (its Logon and Heartbeats too: the check runs while idle)."""
        sent = text(msg, 52)
        if sent and text(msg, 43) != "Y":  # a resent message carries old times
            with contextlib.suppress(ValueError, FieldError):
                self.clock_skew = parse_fix_time(sent) - self._clock.now()

    def _dispatch(self, msg: Message) -> None:
        msg_type = text(msg, 35)
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
            event = event_from_report(msg, self.contracts)
            if event is None:
                log.info(
                    "FIX venue %s: %s for %s",
                    self.name,
                    INFORMATIONAL_EXEC_TYPES.get(text(msg, 150) or "", "report"),
                    text(msg, 11),
                )
            elif isinstance(event, VenueAnomaly):
                self.unreadable_reports += 1
                self._anomaly(event)
            else:
                self._events.append(event)
        elif msg_type == "j":
            self._refused(msg, "business_reject")
        elif msg_type == "W":
            self._on_quote(msg)
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

    def _on_quote(self, msg: Message) -> None:
        try:
            found = quote_from_snapshot(msg, self.contracts)
        except (FieldError, ValueError, ArithmeticError) as exc:
            self.unreadable_quotes += 1
            log.warning("FIX venue %s: unreadable market data: %s", self.name, exc)
            return
        if found is not None:
            self.market.update(found)

    def _collect(
        self, key: str, msg: Message, *, total: str | None, last: bool, ack: bool = False
    ) -> None:
        pending = self._pending.get(key)
        if pending is None:
            log.info("FIX venue %s: answer to no pending query (%s)", self.name, key)
            return
        pending.messages.append(msg)
        if ack:
            count = total or "0"
            pending.expected = int(count) if count.isdigit() and len(count) < 10 else 0
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
    def _read_answer(self, what: str, read: Callable[[], T]) -> Snapshot[T]:
        """``read()`` the answer to a query; one that cannot be read is ``UNKNOWN``."""
        try:
            return Snapshot.ok(read(), self._clock.now())
        except (FieldError, ValueError, ArithmeticError) as exc:
            self.unreadable_reports += 1
            log.warning("FIX venue %s: unreadable %s answer: %s", self.name, what, exc)
            return Snapshot.unknown(f"{self.name}: the {what} answer could not be read: {exc}")

    def account(self) -> Snapshot[AccountSnapshot]:
        got = self._query("BB", 909, [(910, 0)])
        if isinstance(got, str):
            return Snapshot.unknown(got)
        return self._read_answer("account", lambda: account_from_report(got[0]))

    def positions(self) -> Snapshot[dict[ContractId, PositionRecord]]:
        got = self._query("AN", 710, [(724, 0), (263, 0), (715, _now().strftime("%Y%m%d"))])
        if isinstance(got, str):
            return Snapshot.unknown(got)
        return self._read_answer("positions", lambda: self._positions(got))

    def _positions(self, got: list[Message]) -> dict[ContractId, PositionRecord]:
        out: dict[ContractId, PositionRecord] = {}
        for msg in got:
            if text(msg, 35) != "AP":
                continue
            record = position_from_report(msg, self.contracts)
            if record is None:
                log.warning(
                    "FIX venue %s: position in unknown contract %s/%s",
                    self.name,
                    text(msg, 55),
                    text(msg, 200),
                )
                continue
            out[record.contract_id] = record
        return out

    def open_orders(self) -> Snapshot[tuple[OpenOrderRecord, ...]]:
        got = self._query("AF", 584, [(585, 7)])
        if isinstance(got, str):
            return Snapshot.unknown(got)
        return self._read_answer("open orders", lambda: self._open_orders(got))

    def _open_orders(self, got: list[Message]) -> tuple[OpenOrderRecord, ...]:
        records = []
        for msg in got:
            if text(msg, 911) == "0":
                continue
            record = open_order_from_report(msg, self.contracts)
            if record is not None:
                records.append(record)
        return tuple(records)

    def fills_since(self, cursor: FillCursor | None) -> Snapshot[FillsPage]:
        got = self._query("AD", 568, [(569, 0), (20020, cursor or "")])
        if isinstance(got, str):
            return Snapshot.unknown(got)
        ack = got[0]
        if text(ack, 749) not in {None, "0"}:
            return Snapshot.unknown(text(ack, 58) or "trade capture request refused")
        return self._read_answer("trade capture", lambda: self._fills(ack, got[1:]))

    def _fills(self, ack: Message, reports: list[Message]) -> FillsPage:
        fills = []
        for msg in reports:
            fill = fill_from_trade(msg, self.contracts)
            if fill is None:  # a page with a hole is no page: the whole answer is unknown
                raise ValueError(f"trade report {text(msg, 17)} names no contract Bastion knows")
            fills.append(fill)
        return FillsPage(fills=tuple(fills), next_cursor=FillCursor(text(ack, 20021) or ""))

    def order_status(self, client_order_id: ClientOrderId) -> Snapshot[OrderStatusRecord]:
        order = self._orders.get(client_order_id)
        extra: list[Field] = [(11, client_order_id)]
        if order is not None:
            extra += [*contract_fields(order.contract_id), (54, SIDES[order.side])]
        got = self._query("H", 790, extra)
        if isinstance(got, str):
            return Snapshot.unknown(got)
        return self._read_answer("order status", lambda: status_from_report(got[0]))

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
        negative_ok = self.contracts.specs[order.contract_id].allows_negative_prices
        for label, ticks in (("limit", order.limit_ticks), ("stop", order.stop_ticks)):
            if ticks is not None and (not isinstance(ticks, int) or isinstance(ticks, bool)):
                return f"{label} price {ticks!r} is not a whole number of ticks"
            if ticks is not None and ticks <= 0 and not negative_ok:
                return f"{label} price of {ticks} ticks must be positive for {order.contract_id}"
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
            Rejected(
                client_order_id=coid, reason=reason, message=message, timestamp=self._clock.now()
            )
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
                    timestamp=self._clock.now(),
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
                    timestamp=self._clock.now(),
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
