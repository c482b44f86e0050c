"""The FIX fuzzer's client: logs on properly, then sends what ``FixMutator`` plans.

``run_fuzz(port, seed=..., messages=...)`` logs on to a paper venue as a configured
client (``BASTION.ENGINE`` by default) with a real ``FixSession`` (so the venue's
ResendRequests, TestRequests and Logouts are answered as an engine would), then sends
planned messages in batches. After each batch it checks the venue is alive and caught
up (a TestRequest whose Heartbeat must come back within ``hang_timeout``, asked again
after any resend); a venue that closes the connection (a Logout it was sent, a number
too low) is logged on to again, taking the number the venue expects when it says so.
Every ``side_every`` messages a second connection tries what must be refused: an
unknown CompID, a hijack of the live CompID, junk, a flood of length digits, an idle
socket. ``FuzzFigures`` counts what was sent and how the venue answered.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import re
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.testing.fix_mutator import FixMutator, Planned, Rel
from bastion.testing.fix_wire import RawFixClient, frame
from bastion.venues.fix.session import FixSession, MemorySeqStore, SessionState
from bastion.venues.fix.wire import Message, fix_time

__all__ = ["FuzzFigures", "run_fuzz"]

_EXPECTING = re.compile(r"expecting (\d+)")
_SIDE_KINDS = ("unknown_comp_id", "hijack", "junk", "flood", "idle")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class FuzzFigures:
    messages: int = 0
    mutated: int = 0
    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    answers: collections.Counter[str] = field(default_factory=collections.Counter)
    """How the venue answered: session_reject:<373>, business_reject, order_rejected,
    cancel_rejected, execution_report, logout, ..."""
    logons: int = 0
    hangs: int = 0
    side: collections.Counter[str] = field(default_factory=collections.Counter)
    unexpected: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            "mutated": self.mutated,
            "sent_by_kind": dict(sorted(self.sent.items())),
            "answers_by_kind": dict(sorted(self.answers.items())),
            "logons": self.logons,
            "hangs": self.hangs,
            "side_connections": dict(sorted(self.side.items())),
            "unexpected": self.unexpected[:20],
            "seconds": round(self.seconds, 2),
        }


class _Client:
    def __init__(self, port: int, comp_id: str, figures: FuzzFigures, hang_timeout: float):
        self.port, self.comp_id, self.figures = port, comp_id, figures
        self.hang_timeout = hang_timeout
        self.seqs = MemorySeqStore()
        self.sock: socket.socket | None = None
        self.session: FixSession | None = None
        self._selector = selectors.DefaultSelector()
        self._sync_id = 0
        self._answered: set[str] = set()
        self._gap_filled = False

    # -- connection -------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return self.session is not None and self.session.active and self.sock is not None

    def connect(self) -> None:
        """Log on, whatever it takes (a refused logon is retried; the venue's expected
        number is taken when it names one)."""
        deadline = time.monotonic() + max(self.hang_timeout, 5.0)
        while time.monotonic() < deadline:
            if self._try_logon():
                self.figures.logons += 1
                return
            time.sleep(0.02)
        self.figures.hangs += 1
        why = self.session.closed_reason if self.session is not None else "no session"
        self.figures.unexpected.append(f"could not log on: {why}")

    def _try_logon(self) -> bool:
        self._close_socket()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock.setblocking(False)  # noqa: FBT003 - the socket API
        self._selector.register(self.sock, selectors.EVENT_READ)
        # HeartBtInt 5 s: when a mutated number makes the venue wait for a resend that
        # never comes (it took a PossDup message the fuzzer thought too low), the venue
        # asks again after one interval, well inside the hang timeout.
        session = FixSession(self.comp_id, "PAPER", self.seqs, heartbeat=5, on_app=self._on_app)
        session.on_reject = self._on_reject
        session.on_heartbeat = self._answered.add
        self.session = session
        session.logon(_now())
        self._write()
        self._pump(lambda: session.state is not SessionState.LOGON_SENT, 10.0)
        if session.active:
            return True
        self._resync(session.closed_reason)
        return False

    def _resync(self, reason: str) -> None:
        found = _EXPECTING.search(reason)
        if found is not None and self.session is not None:
            expected = int(found.group(1))
            if expected > self.session.next_out:
                self.seqs.save(expected, self.session.next_in)

    def _close_socket(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(self.sock)
            self.sock.close()
            self.sock = None

    def close(self) -> None:
        if self.up and self.session is not None:
            self.session.logout(_now(), "fuzz run over")
            self._write()
            self._pump(lambda: False, 0.2)
        self._close_socket()
        self._selector.close()

    # -- traffic ----------------------------------------------------------------------
    def _write(self) -> None:
        if self.session is None or self.sock is None or not self.session.outbox:
            return
        data = self.session.take_outbox()
        if b"\x0135=4\x01" in data:
            self._gap_filled = True  # a resend answer: it may cover a TestRequest
        self._send_bytes(data)

    def _send_bytes(self, data: bytes) -> None:
        sock = self.sock
        if sock is None:
            return
        view = memoryview(data)
        deadline = time.monotonic() + self.hang_timeout
        while view:
            try:
                sent = sock.send(view)
                view = view[sent:]
            except (BlockingIOError, InterruptedError):
                if time.monotonic() > deadline:
                    self.figures.hangs += 1
                    self.figures.unexpected.append("venue stopped reading")
                    self._close_socket()
                    return
                self._pump(lambda: False, 0.01)  # read while we wait: never both blocked
            except OSError:
                self._close_socket()
                return

    def _pump(self, done: Callable[[], bool], seconds: float) -> None:
        """Read and answer the venue until ``done()`` or ``seconds`` pass."""
        deadline = time.monotonic() + seconds
        while not done() and self.sock is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if not self._selector.select(timeout=min(left, 0.1)):
                continue
            try:
                data = self.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                self._closed_by_venue()
                return
            session = self.session
            assert session is not None  # noqa: S101 - set with the socket
            session.receive(data, _now())
            session.tick(_now())
            self._write()
            if session.state is SessionState.CLOSED:
                self._closed_by_venue()
                return

    def _closed_by_venue(self) -> None:
        session = self.session
        reason = session.closed_reason if session is not None else ""
        self.figures.answers["logout_or_close"] += 1
        if session is not None:
            self._resync(reason)
        self._close_socket()

    def _on_app(self, msg: Message) -> None:
        msg_type = bytes(msg.get(35) or b"").decode("ascii", "replace")
        if msg_type == "8":
            exec_type = bytes(msg.get(150) or b"").decode("ascii", "replace")
            kind = {"8": "order_rejected", "I": "status"}.get(exec_type, "execution_report")
        else:
            kind = {"9": "cancel_rejected", "j": "business_reject"}.get(msg_type, msg_type)
        self.figures.answers[kind] += 1

    def _on_reject(self, msg: Message) -> None:
        reason = bytes(msg.get(373) or b"garbled").decode("ascii", "replace")
        self.figures.answers[f"session_reject:{reason}"] += 1

    def send(self, planned: Planned) -> None:
        if not self.up:
            self.connect()
        if self.session is None or self.sock is None:
            return
        self._send_bytes(self._stamp(planned, self.session))
        self._pump(lambda: True, 0)

    def sync(self) -> bool:
        """Whether the venue answers a TestRequest after what was sent (it is asked
        again after any resend, which may have covered it with a gap fill)."""
        deadline = time.monotonic() + self.hang_timeout
        while time.monotonic() < deadline:
            if not self.up:
                self.connect()
                continue
            want = self._ask()
            self._pump(self._answer_to(want), max(0.0, deadline - time.monotonic()))
            if want in self._answered:
                self._answered.clear()
                return True
        return False

    def _ask(self) -> str:
        session = self.session
        assert session is not None  # noqa: S101 - up
        self._sync_id += 1
        want = f"sync-{self._sync_id}"
        self._gap_filled = False
        session.test_request(_now(), want)
        self._write()
        return want

    def _answer_to(self, want: str) -> Callable[[], bool]:
        return lambda: want in self._answered or not self.up or self._gap_filled

    # -- building the bytes -----------------------------------------------------------
    def _stamp(self, p: Planned, session: FixSession) -> bytes:
        seq = session.next_out + p.seq_shift
        if p.consumes:
            session.next_out += 1
            self.seqs.save(session.next_out, session.next_in)
        pairs = [(tag, self._resolve(value, seq, session)) for tag, value in p.pairs]
        header: list[tuple[bytes, bytes]] = [
            (b"35", p.msg_type),
            (b"49", self.comp_id.encode() if p.sender is None else p.sender),
            (b"56", b"PAPER" if p.target is None else p.target),
            (b"34", str(seq).encode() if p.seq_text is None else p.seq_text),
            (b"52", fix_time(_now()).encode() if p.sending_time is None else p.sending_time),
        ]
        if p.poss_dup:
            header.append((b"43", b"Y"))
        body = b"".join(t + b"=" + v + b"\x01" for t, v in header + pairs)
        return _damaged(frame(body), p.frame_damage)

    @staticmethod
    def _resolve(value: bytes | Rel, seq: int, session: FixSession) -> bytes:
        if isinstance(value, bytes):
            return value
        base = session.next_in if value.peer else seq
        return str(max(1, base + value.offset)).encode()


def _damaged(raw: bytes, damage: str) -> bytes:
    if damage == "checksum":
        return raw[:-4] + b"%03d\x01" % ((int(raw[-4:-1]) + 1) % 256)
    if damage == "length":
        head, _, rest = raw.partition(b"\x019=")
        length, _, tail = rest.partition(b"\x01")
        return head + b"\x019=" + str(int(length) + 3).encode() + b"\x01" + tail
    if damage == "truncate":
        return raw[: len(raw) // 2]
    if damage == "junk":
        return b"GARBAGE\x01\x02\x03" + raw
    if damage == "oversize":
        return frame(b"35=0\x0158=" + b"z" * 70_000 + b"\x01")
    return raw


def _side_connection(port: int, kind: str, live_comp_id: str, figures: FuzzFigures) -> None:
    """A second connection that must be refused or closed by the venue."""
    comp_id = "INTRUDER" if kind == "unknown_comp_id" else live_comp_id
    client = RawFixClient(port, comp_id, next_out=1, timeout=30)
    try:
        if kind in {"unknown_comp_id", "hijack"}:
            answer = client.logon()
            text = bytes(answer.get(58) or b"").decode() if answer is not None else ""
            expected = "not allowed" if kind == "unknown_comp_id" else "already has a live session"
            ok = expected in text and client.wait_closed()
        elif kind == "junk":
            client.send_raw(b"\x00junk\x01" * 1000)
            ok = client.wait_closed()
        elif kind == "flood":
            with contextlib.suppress(OSError):
                client.send_raw(b"8=FIX.4.4\x019=" + b"7" * (1024 * 1024))
            ok = client.wait_closed()
        else:
            ok = True  # idle: just opened and closed
        figures.side[f"{kind}:{'refused' if ok else 'NOT REFUSED'}"] += 1
        if not ok:
            figures.unexpected.append(f"side connection {kind} was not refused")
    finally:
        client.close()


def run_fuzz(
    port: int,
    *,
    seed: int,
    messages: int,
    comp_id: str = "BASTION.ENGINE",
    batch: int = 40,
    hang_timeout: float = 30.0,
    side_every: int = 2500,
    mutate: float = 0.6,
    progress: Callable[[FuzzFigures], None] | None = None,
) -> FuzzFigures:
    """Fuzz the venue listening on ``port`` with ``messages`` planned messages."""
    figures = FuzzFigures()
    mutator = FixMutator(seed, mutate=mutate)
    client = _Client(port, comp_id, figures, hang_timeout)
    started = time.monotonic()
    side = 0
    recent: collections.deque[str] = collections.deque(maxlen=8)
    try:
        client.connect()
        while figures.messages < messages:
            for _ in range(min(batch, messages - figures.messages)):
                planned = mutator.next_message()
                figures.messages += 1
                figures.mutated += bool(planned.mutations)
                figures.sent[planned.kind] += 1
                recent.append(f"{planned.kind}>{planned.msg_type!r} {planned.mutations}")
                client.send(planned)
            if progress is not None:
                progress(figures)
            if not client.sync():
                figures.hangs += 1
                figures.unexpected.append(
                    f"no answer to a TestRequest after {figures.messages}: {list(recent)}"
                )
                client.connect()
            if side_every and figures.messages // side_every > side:
                side = figures.messages // side_every
                kind = _SIDE_KINDS[side % len(_SIDE_KINDS)]
                if client.up:
                    _side_connection(port, kind, comp_id, figures)
                    if kind == "hijack" and not client.sync():
                        figures.unexpected.append("the live session stopped after a hijack attempt")
    finally:
        client.close()
        figures.seconds = time.monotonic() - started
    return figures
