"""Raw FIX bytes for tests and the fuzzer: any field values, any order, any bytes.

``encode`` in ``bastion.venues.fix.wire`` builds only well-formed messages; hostile
input needs more. ``frame(body)`` wraps arbitrary body bytes with a correct BeginString,
BodyLength and CheckSum (so the session sees them, not the framer); ``raw_message``
builds the standard header from plain values and appends the pairs as given (bytes are
kept as they are, empty values included).
"""

from __future__ import annotations

import datetime as dt

from bastion.venues.fix.wire import Framer, Message, decode, fix_time

__all__ = ["frame", "messages_in", "raw_message"]

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
