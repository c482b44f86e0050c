"""The paper venue's TCP server: FIX sessions over loopback, one thread, ``selectors``.

Each connection's first frame must be a Logon; its SenderCompID picks the client's FIX
session (numbers and stored messages persist in ``PaperState``). A second logon for a
client that is still connected first drains and closes the old connection, so nothing
the old connection sent is processed after the new one's queries. Every incoming
message is handled inside one state transaction, and the answer is written only after
it committed. The loop is bounded by ``run(max_seconds=...)`` or a stop flag.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import selectors
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId
from bastion.venues.fix.session import FieldError, FixSession, SessionState
from bastion.venues.fix.wire import Framer, Message, decode, text
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS, START_PRICES
from bastion.venues.paper.state import PaperState
from bastion.venues.paper.venue import Outgoing, PaperVenue
from bastion.venues.sim.config import SimVenueConfig

__all__ = ["PaperServer", "ServerConfig"]

log = logging.getLogger("bastion.paper.server")


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


@dataclass(slots=True)
class _Conn:
    sock: socket.socket
    framer: Framer = field(default_factory=Framer)
    pending: bytes = b""
    client: str | None = None
    session: FixSession | None = None


def _wall() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PaperServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
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
        self.selector = selectors.DefaultSelector()
        self.listener = socket.create_server((config.host, config.port))
        self.listener.setblocking(False)  # noqa: FBT003 - the socket API
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.port = int(self.listener.getsockname()[1])
        self.stop_flag = threading.Event()
        self._next_tick = _wall()

    def close(self) -> None:
        for conn in list(self.conns.values()):
            self._drop(conn, "server closing")
        self.selector.unregister(self.listener)
        self.listener.close()
        self.selector.close()
        self.state.close()

    # -- the loop -----------------------------------------------------------------------
    def run(self, max_seconds: float | None = None) -> None:
        deadline = None if max_seconds is None else _wall() + dt.timedelta(seconds=max_seconds)
        while not self.stop_flag.is_set() and (deadline is None or _wall() < deadline):
            for key, _ in self.selector.select(timeout=0.02):
                if key.data is None:
                    self._accept()
                else:
                    self._read(key.data)
            self._timers()

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)  # noqa: FBT003 - the socket API
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.selector.register(sock, selectors.EVENT_READ, _Conn(sock))

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
            log.exception("paper venue: failed to process input from %s", conn.client)
            self._drop(conn, "internal error")

    def _process(self, conn: _Conn, data: bytes) -> None:
        if conn.session is None:
            conn.pending += data
            if not self._bind(conn):
                return
            data, conn.pending = conn.pending, b""
        session = conn.session
        assert session is not None  # noqa: S101 - bound above
        with self.state.transaction():
            session.receive(data, _wall())
        self._flush_all()
        if session.state is SessionState.CLOSED:
            self._drop(conn, session.closed_reason)

    def _bind(self, conn: _Conn) -> bool:
        """Find the client's session from the first frame (a Logon)."""
        framer = Framer()
        framer.feed(conn.pending)
        frames = framer.frames()
        if not frames:
            return False
        first = frames[0]
        msg = None if first.garbled else decode(first.raw)
        client = text(msg, 49) if msg is not None else None
        if (
            msg is None
            or text(msg, 35) != "A"
            or not client
            or text(msg, 56) != self.config.comp_id
        ):
            log.warning("paper venue: first message is not a valid Logon; closing")
            self._drop(conn, "first message must be a Logon")
            return False
        down = self.venue.down_until.get(client)
        if down is not None and self.venue.clock.now() < down:
            self._drop(conn, "venue is down for this client")
            return False
        old = self.conns.get(client)
        if old is not None and old is not conn:
            self._drain_old(old)
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
            )
            self.sessions[client] = session
        session.state = SessionState.IDLE
        session.closed_reason = ""
        session.framer = Framer()
        session.on_app = lambda m, c=client: self._on_app(c, m)
        conn.client, conn.session = client, session
        self.conns[client] = conn
        return True

    def _drain_old(self, old: _Conn) -> None:
        """Process what the old connection still has unread, then close it."""
        for _ in range(100):
            try:
                data = old.sock.recv(65536)
            except (BlockingIOError, InterruptedError, OSError):
                break
            if not data:
                break
            if old.session is not None:
                with self.state.transaction():
                    old.session.receive(data, _wall())
        self._drop(old, "replaced by a new logon")

    def _drop(self, conn: _Conn, why: str) -> None:
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
        try:
            out = self.venue.handle(client, msg, _wall())
        except FieldError:
            raise
        except (ValueError, KeyError) as exc:
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
            if not item.store and not session.active:
                continue  # market data and query answers only go to a live session
            session.send_app(item.msg_type, item.fields, now, store=item.store)
            if not session.active:
                session.outbox.clear()  # kept for resend; delivered on the next logon

    def _flush_all(self) -> None:
        """Write what the sessions have queued: only ever after the state committed."""
        for conn in list(self.conns.values()):
            self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        session = conn.session
        if session is None or not session.outbox:
            return
        data = session.take_outbox()
        try:
            conn.sock.sendall(data)
        except OSError as exc:
            self._drop(conn, f"send failed: {exc}")

    def _timers(self) -> None:
        now = _wall()
        if not self.config.manual_clock and now >= self._next_tick:
            self._next_tick = now + dt.timedelta(seconds=self.config.tick_seconds)
            with self.state.transaction():
                self._send(self.venue.tick(now))
            self._flush_all()
        for conn in list(self.conns.values()):
            if conn.session is not None:
                conn.session.tick(now)
                self._flush(conn)
                if conn.session.state is SessionState.CLOSED:
                    self._drop(conn, conn.session.closed_reason)
        for client, until in list(self.venue.down_until.items()):
            conn = self.conns.get(client)
            if conn is not None and self.venue.clock.now() < until:
                self._drop(conn, "venue down (control)")
