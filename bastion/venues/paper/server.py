"""The paper venue's TCP server: FIX sessions over loopback, one thread, ``selectors``.

Each connection's first frame must be a Logon; its SenderCompID picks the client's FIX
session (numbers and stored messages persist in ``PaperState``). Every incoming message
is handled inside one state transaction, and the answer is written only after it
committed. The loop is bounded by ``run(max_seconds=...)`` or a stop flag.

Who may log on (``access``): only the configured clients (and their engine roles), with
their Username/Password when they have one. A Logon for a CompID whose session is live
on another connection is refused with a Logout giving the reason, and the live session
is untouched; a connection whose peer is already gone (its close is still unread) does
not count as live: what it still has unread is processed, then it is closed, and the
new logon proceeds.

Limits (``ServerConfig``), each refused cleanly, never by crashing the loop:
``max_connections`` open connections (further ones are closed at once; the cap is also
kept below the process's open-file limit, and a failed ``accept`` pauses accepting for
a moment instead of spinning); ``logon_timeout`` seconds for a connection to log on;
``max_message_bytes`` per FIX message (the framer's size cap); ``max_buffer_bytes``
held for one connection's incomplete input; ``max_output_bytes`` queued for a client
that does not read (output is written as the socket takes it, so a large resend reaches
a slow reader whole, and a reader that stops is dropped, not waited for). An exception
while handling one client's input (a bug) drops only that client, rolls its state
transaction back and reloads its session numbers from the state file.

The wire controls (``bastion.venues.paper.controls``): every session's SendingTime and
TransactTime are shifted by the venue's ``clock_offset``; while the venue is silenced,
every connection but the asking client's is parked: nothing is read from it or written
to it (no heartbeat, no answer, no market data; application messages wait in its
session for resend), new connections are accepted but not read, and no timer closes them. When the
silence ends (``silence on=0``, or the asking client goes away) they are served again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import resource
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId
from bastion.venues.fix.session import FieldError, FixSession, SessionState
from bastion.venues.fix.wire import MAX_BODY, BusinessRejectError, Framer, Message, decode, encode
from bastion.venues.fix.wire import text as field_text
from bastion.venues.paper.access import AllowedClient, LogonPolicy
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS, START_PRICES
from bastion.venues.paper.state import PaperState
from bastion.venues.paper.venue import Outgoing, PaperVenue
from bastion.venues.sim.config import SimVenueConfig

__all__ = ["PaperServer", "ServerConfig", "connection_cap", "replayed_digest"]

log = logging.getLogger("bastion.paper.server")

FD_RESERVE = 32
"""Open files kept free for the listener, the state file (and its WAL), the selector
and standard streams when the connection cap is derived from the process limit."""
_ACCEPT_PAUSE = 0.2


@dataclass(frozen=True, slots=True)
class ServerConfig:
    state_path: Path
    host: str = "127.0.0.1"
    port: int = 0
    comp_id: str = "PAPER"
    heartbeat: float = 5.0
    tick_seconds: float = 0.1
    manual_clock: bool = False
    control: bool = False
    seed: int = 7
    start: dt.datetime | None = None
    specs: dict[ContractId, ContractSpec] = field(default_factory=lambda: dict(DEFAULT_CONTRACTS))
    start_prices: dict[ContractId, int] = field(default_factory=lambda: dict(START_PRICES))
    sim_config: SimVenueConfig | None = None
    clients: tuple[AllowedClient, ...] = (AllowedClient("BASTION"),)
    """Who may log on (with the ``<CompID>.<ROLE>`` rule of ``access``)."""
    max_connections: int = 64
    logon_timeout: float = 10.0
    max_message_bytes: int = MAX_BODY
    max_buffer_bytes: int = 4 * MAX_BODY
    max_output_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {self.max_connections}")
        if not self.logon_timeout > 0:
            raise ValueError(f"logon_timeout must be positive, got {self.logon_timeout}")
        if self.max_message_bytes < 512:
            raise ValueError(
                f"max_message_bytes must be at least 512, got {self.max_message_bytes}"
            )
        if self.max_output_bytes < 1024 * 1024:
            raise ValueError(
                f"max_output_bytes must be at least 1 MiB, got {self.max_output_bytes}"
            )
        if self.max_buffer_bytes < self.max_message_bytes + 64:
            raise ValueError(
                f"max_buffer_bytes ({self.max_buffer_bytes}) must exceed max_message_bytes"
                f" ({self.max_message_bytes}) by at least 64"
            )


@dataclass(slots=True, eq=False)
class _Conn:
    sock: socket.socket
    opened: float
    """``time.monotonic()`` at accept."""
    pending: bytearray = field(default_factory=bytearray)
    out: bytearray = field(default_factory=bytearray)
    """Bytes for the client that its socket has not taken yet."""
    writing: bool = False
    """Registered for EVENT_WRITE (``out`` is not empty)."""
    client: str | None = None
    session: FixSession | None = None


def _wall() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def connection_cap(configured: int) -> int:
    """``configured``, kept below the process's open-file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, soft - FD_RESERVE))


class PaperServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.policy = LogonPolicy(config.clients)
        self.state = PaperState(config.state_path)
        start = config.start or _wall()
        self.venue = PaperVenue(
            self.state,
            config.specs,
            config.start_prices,
            start=start,
            manual_clock=config.manual_clock,
            control=config.control,
            seed=config.seed,
            sim_config=config.sim_config,
        )
        self.replayed = self.venue.replay()
        self.sessions: dict[str, FixSession] = {}
        self.conns: dict[str, _Conn] = {}
        """Logged-on connections by client CompID."""
        self.open: set[_Conn] = set()
        """Every open connection, logged on or not."""
        self.parked: set[_Conn] = set()
        """Connections the venue is silent to (the ``silence`` control)."""
        self.max_connections = connection_cap(config.max_connections)
        self.refused_connections = 0
        self.refused_logons = 0
        self.internal_errors = 0
        self.selector = selectors.DefaultSelector()
        self.listener = socket.create_server((config.host, config.port))
        self.listener.setblocking(False)  # noqa: FBT003 - the socket API
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self._accepting = True
        self._accept_again = 0.0
        self.port = int(self.listener.getsockname()[1])
        self.stop_flag = threading.Event()
        self._next_tick = _wall()

    def close(self) -> None:
        for conn in list(self.open):
            self._drop(conn, "server closing")
        if self._accepting:
            self.selector.unregister(self.listener)
        self.listener.close()
        self.selector.close()
        self.state.close()

    # -- the loop -----------------------------------------------------------------------
    def run(self, max_seconds: float | None = None) -> None:
        deadline = None if max_seconds is None else _wall() + dt.timedelta(seconds=max_seconds)
        while not self.stop_flag.is_set() and (deadline is None or _wall() < deadline):
            for key, events in self.selector.select(timeout=0.02):
                if key.data is None:
                    self._accept()
                    continue
                if events & selectors.EVENT_WRITE and key.data in self.open:
                    self._write(key.data)
                if events & selectors.EVENT_READ and key.data in self.open:
                    self._read(key.data)  # (not dropped earlier in this round)
            self._wire_controls()
            self._timers()

    def _wire_controls(self) -> None:
        """Apply the venue's clock offset to every session; park the connections the
        venue is silent to, and serve them again when the silence ends."""
        for session in self.sessions.values():
            session.sending_offset = self.venue.clock_offset
        keeper = self.venue.silenced_except
        if keeper is not None and keeper not in self.conns:
            log.warning("paper venue: %s went away: the silence ends", keeper)
            self.venue.silenced_except = keeper = None
        for conn in list(self.open):
            quiet = keeper is not None and conn.client != keeper
            if quiet and conn not in self.parked:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(conn.sock)
                self.parked.add(conn)
            elif not quiet and conn in self.parked:
                self.parked.discard(conn)
                conn.opened = time.monotonic()  # its logon time runs from now
                conn.writing = bool(conn.out)
                events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.writing else 0)
                self.selector.register(conn.sock, events, conn)
                self._flush(conn)

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            # Out of file descriptors (or buffers): refuse by not accepting for a
            # moment; the backlog waits, nothing crashes, and the loop does not spin.
            log.warning("paper venue: cannot accept a connection: %s; pausing accepts", exc)
            self._pause_accepting()
            if exc.errno not in {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}:
                log.warning("paper venue: unexpected accept error %s", exc.errno)
            return
        if len(self.open) >= self.max_connections:
            self.refused_connections += 1
            log.warning(
                "paper venue: connection refused: %d connections open (cap %d)",
                len(self.open),
                self.max_connections,
            )
            sock.close()
            return
        sock.setblocking(False)  # noqa: FBT003 - the socket API
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(sock, time.monotonic())
        self.open.add(conn)
        self.selector.register(sock, selectors.EVENT_READ, conn)

    def _pause_accepting(self) -> None:
        if self._accepting:
            self.selector.unregister(self.listener)
            self._accepting = False
        self._accept_again = time.monotonic() + _ACCEPT_PAUSE

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._drop(conn, f"socket error: {exc}")
            return
        if not data:
            self._drop(conn, "peer closed")
            return
        try:
            self._process(conn, data)
        except Exception:  # a bug must not take the venue down: drop only this client
            self.internal_errors += 1
            log.exception("paper venue: failed to process input from %r", conn.client)
            if conn.client is not None:
                # The transaction rolled back: reload the numbers from the state file.
                self.sessions.pop(conn.client, None)
            self._drop(conn, "internal error")

    def _process(self, conn: _Conn, data: bytes) -> None:
        if conn.session is None:
            conn.pending += data
            if not self._bind(conn):
                return
            data = bytes(conn.pending)
            conn.pending.clear()
        session = conn.session
        assert session is not None  # noqa: S101 - bound above
        with self.state.transaction():
            session.receive(data, _wall())
        self._flush_all()
        if session.state is SessionState.CLOSED:
            self._drop(conn, session.closed_reason)
        elif session.framer.buffered > self.config.max_buffer_bytes:
            self._drop(conn, f"more than {self.config.max_buffer_bytes} bytes of input buffered")

    # -- logon --------------------------------------------------------------------------
    def _bind(self, conn: _Conn) -> bool:
        """Find the client's session from the first frame (a Logon), or refuse."""
        framer = Framer(self.config.max_message_bytes)
        framer.feed(bytes(conn.pending))
        frames = framer.frames()
        if not frames:
            if len(conn.pending) > self.config.max_buffer_bytes:
                self._drop(conn, "no Logon within the input size cap")
            return False
        logon = self._logon_of(frames[0].raw if not frames[0].garbled else b"")
        if logon is None:
            log.warning("paper venue: first message is not a valid Logon; closing")
            self._drop(conn, "first message must be a Logon")
            return False
        client, refusal = self._admit(conn, logon)
        if refusal is not None:
            self._refuse_logon(conn, client, refusal)
            return False
        down = self.venue.down_until.get(client)
        if down is not None and self.venue.clock.now() < down:
            self._drop(conn, "venue is down for this client")
            return False
        session = self.sessions.get(client)
        if session is None:
            store = self.state.session_store(client)
            session = FixSession(
                self.config.comp_id,
                client,
                store,
                heartbeat=self.config.heartbeat,
                messages=store,
                initiator=False,
                max_body=self.config.max_message_bytes,
            )
            self.sessions[client] = session
        session.new_connection()
        session.on_app = lambda m, c=client: self._on_app(c, m)
        conn.client, conn.session = client, session
        self.conns[client] = conn
        return True

    @staticmethod
    def _logon_of(raw: bytes) -> Message | None:
        if not raw:
            return None
        try:
            msg = decode(raw)
            if field_text(msg, 35) != "A" or not field_text(msg, 49):
                return None
            for tag in (56, 553, 554):
                field_text(msg, tag)  # must be text if present
        except FieldError:
            return None
        return msg

    def _admit(self, conn: _Conn, logon: Message) -> tuple[str, str | None]:
        """The client's CompID, and why its logon is refused (``None``: admitted)."""
        client = field_text(logon, 49) or ""
        target = field_text(logon, 56)
        if target != self.config.comp_id:
            return client, f"TargetCompID {target!r} is not this venue ({self.config.comp_id})"
        refusal = self.policy.refusal(client, field_text(logon, 553), field_text(logon, 554))
        if refusal is not None:
            return client, refusal
        old = self.conns.get(client)
        if old is not None and old is not conn and self._still_live(old):
            return client, f"CompID {client} already has a live session; logon refused"
        return client, None

    def _refuse_logon(self, conn: _Conn, client: str, reason: str) -> None:
        """Answer with a Logout giving the reason, then close. No session is touched:
        the Logout carries MsgSeqNum 1 and nothing is stored."""
        self.refused_logons += 1
        log.warning("paper venue: logon of %r refused: %s", client[:64], reason)
        raw = encode(
            "5", [(58, reason[:200])], seq=1, sender=self.config.comp_id, target=client, now=_wall()
        )
        with contextlib.suppress(OSError):
            conn.sock.send(raw)
        self._drop(conn, reason)

    def _still_live(self, old: _Conn) -> bool:
        """Whether the connection a client is logged on with is still there. What it
        has unread is processed first; a connection whose peer closed is dropped."""
        for _ in range(100):
            try:
                data = old.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return old.session is not None and old.session.state is not SessionState.CLOSED
            except OSError as exc:
                self._drop(old, f"socket error: {exc}")
                return False
            if not data:
                break
            if old.session is not None:
                with self.state.transaction():
                    old.session.receive(data, _wall())
                self._flush(old)
                if old.session.state is SessionState.CLOSED:
                    break
        self._drop(old, "closed by the peer before a new logon")
        return False

    def _drop(self, conn: _Conn, why: str) -> None:
        self.open.discard(conn)
        self.parked.discard(conn)
        if conn.client is not None and self.conns.get(conn.client) is conn:
            del self.conns[conn.client]
            if conn.session is not None:
                conn.session.state = SessionState.CLOSED
                conn.session.outbox.clear()
            log.info("paper venue: %s disconnected: %s", conn.client, why)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn.sock)
        conn.sock.close()

    # -- application --------------------------------------------------------------------
    def _on_app(self, client: str, msg: Message) -> None:
        with self.state.savepoint():
            try:
                out = self.venue.handle(client, msg, _wall())
            except (FieldError, BusinessRejectError):
                raise
            except (ValueError, KeyError, ArithmeticError) as exc:
                log.error("paper venue: message from %s not handled: %r", client, exc)  # noqa: TRY400 - bad input, not a crash
                raise FieldError(35, 5, f"cannot process: {exc}") from exc
        self._send(out)

    def _send(self, out: list[Outgoing]) -> None:
        now = _wall()
        for item in out:
            session = self.sessions.get(item.client)
            if session is None:
                if item.client:
                    store = self.state.session_store(item.client)
                    session = FixSession(
                        self.config.comp_id, item.client, store, messages=store, initiator=False
                    )
                    session.state = SessionState.CLOSED
                    self.sessions[item.client] = session
                else:
                    continue
            if not item.store and (not session.active or self._silent_to(item.client)):
                continue  # market data and query answers only go to a live session
            session.send_app(item.msg_type, item.fields, now, store=item.store)
            if not session.active:
                session.outbox.clear()  # kept for resend; delivered on the next logon

    def _silent_to(self, client: str) -> bool:
        conn = self.conns.get(client)
        return conn is not None and conn in self.parked

    def _flush_all(self) -> None:
        """Write what the sessions have queued: only ever after the state committed."""
        for conn in list(self.conns.values()):
            self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        session = conn.session
        if session is None or not session.outbox or conn in self.parked:
            return
        conn.out += session.take_outbox()
        self._write(conn)

    def _write(self, conn: _Conn) -> None:
        """Write what the socket takes now; wait for it to take the rest."""
        try:
            while conn.out:
                sent = conn.sock.send(conn.out)
                del conn.out[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            self._drop(conn, f"send failed: {exc}")
            return
        if len(conn.out) > self.config.max_output_bytes:
            self._drop(conn, f"client not reading: {len(conn.out)} bytes queued")
            return
        want = bool(conn.out)
        if want != conn.writing:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            self.selector.modify(conn.sock, events, conn)
            conn.writing = want

    def _timers(self) -> None:
        now = _wall()
        if not self._accepting and time.monotonic() >= self._accept_again:
            self.selector.register(self.listener, selectors.EVENT_READ, None)
            self._accepting = True
        if not self.config.manual_clock and now >= self._next_tick:
            self._next_tick = now + dt.timedelta(seconds=self.config.tick_seconds)
            with self.state.transaction():
                self._send(self.venue.tick(now))
            self._flush_all()
        late = time.monotonic() - self.config.logon_timeout
        waiting = [c for c in self.open if c.session is None and c not in self.parked]
        for conn in [c for c in waiting if c.opened < late]:
            self._drop(conn, f"no Logon within {self.config.logon_timeout:g} s")
        for conn in list(self.conns.values()):
            if conn.session is not None and conn not in self.parked:
                conn.session.tick(now)
                self._flush(conn)
                if conn.session.state is SessionState.CLOSED:
                    self._drop(conn, conn.session.closed_reason)
        for client, until in list(self.venue.down_until.items()):
            conn = self.conns.get(client)
            if conn is not None and self.venue.clock.now() < until:
                self._drop(conn, "venue down (control)")


def replayed_digest(state_path: Path, seed: int = 7) -> tuple[int, str]:
    """(inputs replayed, state digest) of a venue rebuilt from ``state_path`` with the
    default contracts, as ``bastion venue serve`` runs it."""
    state = PaperState(state_path)
    try:
        venue = PaperVenue(
            state, dict(DEFAULT_CONTRACTS), dict(START_PRICES), start=_wall(), seed=seed
        )
        count = venue.replay()
        return count, venue.state_digest()
    finally:
        state.close()
