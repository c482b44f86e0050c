"""Raw FIX bytes for tests and the fuzzer: any field values, any order, any bytes.

``encode`` in ``bastion.venues.fix.wire`` builds only well-formed messages; hostile
input needs more. ``frame(body)`` wraps arbitrary body bytes with a correct
BeginString, BodyLength and CheckSum (so the session sees them, not the framer);
``raw_message`` builds the standard header from plain values and appends the pairs as
given (bytes are kept as they are, empty values included); ``RawFixClient`` speaks them
to a venue over loopback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
from collections.abc import Callable

from bastion.venues.fix.wire import Framer, Message, decode, fix_time, text

__all__ = ["RawFixClient", "frame", "messages_in", "raw_message"]

Value = str | int | bytes


def _bytes(value: Value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def frame(body: bytes, begin: bytes = b"FIX.4.4") -> bytes:
    """``body`` (fields after BodyLength, each ending in SOH) with a correct frame."""
    head = b"8=" + begin + b"\x019=" + str(len(body)).encode() + b"\x01"
    data = head + body
    return data + b"10=%03d\x01" % (sum(data) % 256)


def raw_message(
    msg_type: Value,
    pairs: list[tuple[Value, Value]],
    *,
    seq: Value,
    sender: Value,
    target: Value,
    now: dt.datetime,
    poss_dup: bool = False,
) -> bytes:
    header: list[tuple[Value, Value]] = [(35, msg_type), (49, sender), (56, target), (34, seq)]
    header.append((52, fix_time(now)))
    if poss_dup:
        header.append((43, "Y"))
    body = b"".join(_bytes(t) + b"=" + _bytes(v) + b"\x01" for t, v in header + pairs)
    return frame(body)


def messages_in(data: bytes) -> list[Message]:
    """The good frames in ``data``, decoded (garbled ones are left out)."""
    framer = Framer()
    framer.feed(data)
    return [decode(f.raw) for f in framer.frames() if not f.garbled]


class RawFixClient:
    """A FIX client over loopback that sends whatever it is told, byte for byte, and
    reads what comes back; it keeps its own outgoing number (``next_out``)."""

    def __init__(
        self,
        port: int,
        sender: str,
        target: str = "PAPER",
        *,
        next_out: int = 1,
        timeout: float = 10.0,
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sender, self.target = sender, target
        self.next_out = next_out
        self.framer = Framer()
        self.closed = False
        self.seen: list[Message] = []
        self._unread: list[Message] = []

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(
        self,
        msg_type: Value,
        pairs: list[tuple[Value, Value]],
        *,
        seq: Value | None = None,
        poss_dup: bool = False,
    ) -> None:
        """Send one message with a correct frame; ``seq`` overrides (and does not use
        up) the client's own next number."""
        if seq is None:
            seq = self.next_out
            self.next_out += 1
        now = dt.datetime.now(dt.UTC)
        self.send_raw(
            raw_message(
                msg_type,
                pairs,
                seq=seq,
                sender=self.sender,
                target=self.target,
                now=now,
                poss_dup=poss_dup,
            )
        )

    def read_until(self, want: Callable[[Message], bool]) -> list[Message]:
        """Messages read until one ``want`` accepts (it is the last), the connection
        closes or the socket times out (then the last one is not a match)."""
        got: list[Message] = []
        while True:
            self._unread += [decode(f.raw) for f in self.framer.frames() if not f.garbled]
            while self._unread:
                msg = self._unread.pop(0)
                got.append(msg)
                self.seen.append(msg)
                if want(msg):
                    return got
            if self.closed:
                return got
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, ConnectionError):
                data = b""
            if not data:
                self.closed = True
            self.framer.feed(data)

    def read_type(self, *types: str) -> list[Message]:
        return self.read_until(lambda m: text(m, 35) in types)

    def logon(self, extra: list[tuple[Value, Value]] | None = None) -> Message | None:
        """Send a Logon; the venue's answer (Logon, or the refusing Logout), if any."""
        self.send("A", [(98, 0), (108, 30), *(extra or [])])
        got = self.read_type("A", "5")
        return got[-1] if got and text(got[-1], 35) in {"A", "5"} else None

    def wait_closed(self) -> bool:
        """Read until the venue closes the connection; whether it did."""
        self.read_until(lambda _m: False)
        return self.closed

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
