"""FIX 4.4 framing and message building on top of ``simplefix``.

``Framer`` cuts a byte stream into frames and checks each one's BodyLength and CheckSum
(simplefix's parser does not verify the checksum); a frame that fails is reported as
garbled with whatever sequence number could be read from it, and the stream resumes at
the next ``8=FIX`` start. ``decode`` turns a good frame into a ``simplefix.FixMessage``;
``encode`` builds a message with the standard header. Nothing here knows the session
rules or the order stack.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import simplefix

__all__ = [
    "BEGIN_STRING",
    "Frame",
    "Framer",
    "Message",
    "decode",
    "encode",
    "fix_time",
    "parse_fix_time",
]

BEGIN_STRING = "FIX.4.4"
_START = b"8=FIX"
_SEQ_RE = re.compile(rb"\x0134=(\d+)\x01")

Message = simplefix.FixMessage
Field = tuple[int, str | int]


@dataclass(frozen=True, slots=True)
class Frame:
    raw: bytes
    garbled: str = ""
    """Why the frame is unusable ('' when it is good)."""
    seq: int | None = None
    """The MsgSeqNum found in a garbled frame, if any."""


def _checksum(data: bytes) -> int:
    return sum(data) % 256


class Framer:
    """Incremental: ``feed(bytes)`` then iterate ``frames()``. Bounded: a frame may not
    claim more than ``max_body`` bytes (a garbled length never stalls the stream)."""

    def __init__(self, max_body: int = 65536) -> None:
        self._buf = bytearray()
        self._max_body = max_body

    def feed(self, data: bytes) -> None:
        self._buf.extend(data)

    def frames(self) -> list[Frame]:
        out: list[Frame] = []
        while True:
            frame = self._next()
            if frame is None:
                return out
            out.append(frame)

    def _skip_to_next_start(self, frm: int) -> bytes:
        nxt = self._buf.find(_START, frm)
        end = len(self._buf) if nxt < 0 else nxt
        junk = bytes(self._buf[:end])
        del self._buf[:end]
        return junk

    def _next(self) -> Frame | None:  # noqa: PLR0911 - one return per framing outcome
        buf = self._buf
        start = buf.find(_START)
        if start < 0:
            if len(buf) > 8:
                junk = bytes(buf[:-8])
                del buf[:-8]
                return Frame(junk, "bytes outside a FIX frame")
            return None
        if start > 0:
            junk = bytes(buf[:start])
            del buf[:start]
            return Frame(junk, "bytes outside a FIX frame")
        first = buf.find(b"\x01")
        if first < 0 or len(buf) < first + 3:
            return None
        if not buf.startswith(b"9=", first + 1):
            return self._garbled("no BodyLength after BeginString")
        second = buf.find(b"\x01", first + 1)
        if second < 0:
            return None
        text = bytes(buf[first + 3 : second])
        if not text.isdigit() or int(text) > self._max_body:
            return self._garbled(f"bad BodyLength {text[:12]!r}")
        end = second + 1 + int(text)
        if len(buf) < end + 7:
            return None
        trailer = bytes(buf[end : end + 7])
        if not (
            trailer.startswith(b"10=") and trailer.endswith(b"\x01") and trailer[3:6].isdigit()
        ):
            return self._garbled("BodyLength does not end at the CheckSum field")
        raw = bytes(buf[: end + 7])
        del buf[: end + 7]
        if int(trailer[3:6]) != _checksum(raw[:end]):
            return Frame(raw, "CheckSum mismatch", _seq_of(raw))
        return Frame(raw)

    def _garbled(self, why: str) -> Frame:
        junk = self._skip_to_next_start(1)
        return Frame(junk, why, _seq_of(junk))


def _seq_of(raw: bytes) -> int | None:
    found = _SEQ_RE.search(raw)
    return int(found.group(1)) if found else None


def decode(raw: bytes) -> Message:
    parser = simplefix.FixParser()
    parser.append_buffer(raw)
    msg = parser.get_message()
    if msg is None:  # pragma: no cover - the framer only passes complete frames
        raise ValueError("incomplete FIX frame")
    return msg


def fix_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y%m%d-%H:%M:%S.%f")


def parse_fix_time(text: str) -> dt.datetime:
    fmt = "%Y%m%d-%H:%M:%S.%f" if "." in text else "%Y%m%d-%H:%M:%S"
    return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)


def encode(
    msg_type: str,
    fields: Iterable[Field],
    *,
    seq: int,
    sender: str,
    target: str,
    now: dt.datetime,
    poss_dup: bool = False,
    orig_sending_time: str | None = None,
) -> bytes:
    msg = simplefix.FixMessage()
    msg.append_pair(8, BEGIN_STRING, header=True)
    msg.append_pair(35, msg_type, header=True)
    msg.append_pair(49, sender, header=True)
    msg.append_pair(56, target, header=True)
    msg.append_pair(34, seq, header=True)
    msg.append_pair(52, fix_time(now), header=True)
    if poss_dup:
        msg.append_pair(43, "Y", header=True)
        if orig_sending_time:
            msg.append_pair(122, orig_sending_time, header=True)
    for tag, value in fields:
        if value != "":  # FIX has no empty values: an absent field is left out
            msg.append_pair(tag, value)
    return bytes(msg.encode())


def body_fields(msg: Message) -> list[tuple[int, str]]:
    """The message's fields other than the standard header and trailer, in order."""
    header = {8, 9, 10, 34, 35, 43, 49, 52, 56, 97, 122}
    return [(int(t), v.decode()) for t, v in msg.pairs if int(t) not in header]


def text(msg: Message, tag: int, default: str | None = None) -> str | None:
    value = msg.get(tag)
    return default if value is None else bytes(value).decode()


def texts(msg: Message, tag: int) -> Sequence[str]:
    out: list[str] = []
    n = 1
    while (value := msg.get(tag, n)) is not None:
        out.append(bytes(value).decode())
        n += 1
    return out
