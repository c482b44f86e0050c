"""FIX 4.4 framing and message building on top of ``simplefix``.

``Framer`` cuts a byte stream into frames and checks each one's BodyLength and CheckSum
(simplefix's parser does not verify the checksum); a frame that fails is reported as
garbled with whatever sequence number could be read from it, and the stream resumes at
the next ``8=FIX`` start. ``decode`` turns a good frame into a ``simplefix.FixMessage``;
``encode`` builds a message with the standard header. Nothing here knows the session
rules or the order stack.

Bounds (nothing from the wire is trusted): a frame may claim at most ``max_body`` bytes
(the message size cap, 64 KiB by default); BeginString and BodyLength must each end
within a few bytes, so a flood of digits is garbled at once instead of being buffered;
the framer therefore never holds more than one frame's worth of bytes. A message cut
short is garbled as soon as the next message starts inside it (raw data fields, which
could hold such bytes, are not used). ``decode`` keeps
every tag=value pair of a good frame (empty values too: the layer that reads a field
judges it) and refuses only a pair that is not ``tag=value`` with a positive tag.
Reading a field that is not UTF-8 text raises ``FieldError`` naming the tag, which the
session answers with a Reject.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import simplefix

__all__ = [
    "BEGIN_STRING",
    "MAX_BODY",
    "MAX_SEQ",
    "BusinessRejectError",
    "FieldError",
    "Frame",
    "Framer",
    "Message",
    "check_text",
    "decode",
    "encode",
    "fix_time",
    "parse_fix_time",
    "seq_value",
]

BEGIN_STRING = "FIX.4.4"
MAX_BODY = 65536
"""The default message size cap: the most a frame's BodyLength may claim, in bytes."""
MAX_SEQ = 2**31 - 1
"""The highest sequence number either side accepts (MsgSeqNum, BeginSeqNo, EndSeqNo,
NewSeqNo, RefSeqNum); anything above is a bad value, never stored."""
_START = b"8=FIX"
_SEQ_RE = re.compile(rb"\x0134=(\d{1,10})\x01")
_HEAD_FIELD_MAX = 16
"""BeginString and BodyLength end within this many bytes, or the frame is garbled."""
_TAG_RE = re.compile(rb"[0-9]{1,9}")
_NEXT_HEAD_RE = re.compile(rb"8=FIX[^\x01]{0,12}\x019=")


class FieldError(Exception):
    """A message with a field that cannot be accepted: answered with a session Reject
    naming the tag (RefTagID 371) and SessionRejectReason (373)."""

    def __init__(self, tag: int, reason: int, message: str) -> None:
        super().__init__(message)
        self.tag = tag
        self.reason = reason
        """SessionRejectReason: 0 invalid tag number, 1 required tag missing, 4 tag
        without a value, 5 value out of range, 6 incorrect data format, 9 CompID
        problem, 11 invalid MsgType, 13 tag repeated, 99 other."""


class BusinessRejectError(Exception):
    """An application message the session accepted but the application cannot act on
    (no ClOrdID to answer with): answered with BusinessMessageReject (35=j), and its
    sequence number is consumed like any other message's."""

    def __init__(self, reason: int, message: str, ref_id: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        """BusinessRejectReason (380): 0 other, 1 unknown id, 3 unsupported message
        type, 5 conditionally required field missing."""
        self.ref_id = ref_id


Message = simplefix.FixMessage
Field = tuple[int, str | int]


@dataclass(frozen=True, slots=True)
class Frame:
    raw: bytes
    garbled: str = ""
    """Why the frame is unusable ('' when it is good)."""
    seq: int | None = None
    """The MsgSeqNum found in the frame (1..MAX_SEQ), if any."""


def _checksum(data: bytes) -> int:
    return sum(data) % 256


class Framer:
    """Incremental: ``feed(bytes)`` then iterate ``frames()``. Bounded: a frame may not
    claim more than ``max_body`` bytes (a garbled length never stalls the stream), and
    after ``frames()`` at most one incomplete frame stays buffered (``buffered``)."""

    def __init__(self, max_body: int = MAX_BODY) -> None:
        self._buf = bytearray()
        self._max_body = max_body

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame."""
        return len(self._buf)

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
        head = self._head()
        if head is None or isinstance(head, Frame):
            return head
        end = head
        if len(buf) < end + 7:
            # A message cut short is followed by the next one: do not wait for bytes
            # that will never come. "8=FIX...<SOH>9=" cannot occur inside a message
            # (no value holds SOH; tag 9 is only ever the second field).
            cut = _NEXT_HEAD_RE.search(buf, 1, end + 7)
            if cut is None:
                return None
            junk = bytes(buf[: cut.start()])
            del buf[: cut.start()]
            return Frame(junk, "message cut short: the next one starts inside it", _seq_of(junk))
        trailer = bytes(buf[end : end + 7])
        if not (
            trailer.startswith(b"10=") and trailer.endswith(b"\x01") and trailer[3:6].isdigit()
        ):
            return self._garbled("BodyLength does not end at the CheckSum field")
        raw = bytes(buf[: end + 7])
        del buf[: end + 7]
        if int(trailer[3:6]) != _checksum(raw[:end]):
            return Frame(raw, "CheckSum mismatch", _seq_of(raw))
        return Frame(raw, "", _seq_of(raw))

    def _head(self) -> int | Frame | None:  # noqa: PLR0911 - one return per framing outcome
        """Where the body of the frame at the start of the buffer ends (the CheckSum
        field starts there), a garbled frame, or ``None`` while the header is incomplete.
        BeginString and BodyLength must each end within a few bytes."""
        buf = self._buf
        first = buf.find(b"\x01", 0, _HEAD_FIELD_MAX)
        if first < 0:
            if len(buf) >= _HEAD_FIELD_MAX:
                return self._garbled("BeginString too long")
            return None
        if len(buf) < first + 3:
            return None
        if not buf.startswith(b"9=", first + 1):
            return self._garbled("no BodyLength after BeginString")
        second = buf.find(b"\x01", first + 1, first + 1 + _HEAD_FIELD_MAX)
        if second < 0:
            if len(buf) >= first + 1 + _HEAD_FIELD_MAX:
                return self._garbled(f"BodyLength too long {bytes(buf[first + 3 : first + 15])!r}")
            return None
        text = bytes(buf[first + 3 : second])
        if not text.isdigit() or int(text) > self._max_body:
            return self._garbled(f"bad BodyLength {text[:12]!r}")
        return second + 1 + int(text)

    def _garbled(self, why: str) -> Frame:
        junk = self._skip_to_next_start(1)
        return Frame(junk, why, _seq_of(junk))


def _seq_of(raw: bytes) -> int | None:
    found = _SEQ_RE.search(raw)
    if found is None:
        return None
    number = int(found.group(1))
    return number if 0 < number <= MAX_SEQ else None


def decode(raw: bytes) -> Message:
    """Every ``tag=value`` pair of a framed message, in order (tags normalised, so
    ``0011`` is 11). Raises ``FieldError`` (reason 0) for a pair without ``=`` or with a
    tag that is not a positive number; the value of a good pair is never judged here."""
    msg = simplefix.FixMessage()
    body = raw[:-1] if raw.endswith(b"\x01") else raw
    for part in body.split(b"\x01"):
        tag, sep, value = part.partition(b"=")
        if not sep or not _TAG_RE.fullmatch(tag) or int(tag) == 0:
            raise FieldError(0, 0, f"not a tag=value pair: {part[:16]!r}")
        msg.pairs.append((str(int(tag)).encode(), value))
    return msg


def seq_value(msg: Message, tag: int, *, required: bool = True, zero: bool = False) -> int:
    """A sequence-number field (34, 7, 16, 36, 45): digits only, 1..``MAX_SEQ`` (0 too
    when ``zero``). Raises ``FieldError`` naming the tag otherwise; an absent optional
    field reads as 0."""
    value = text(msg, tag)
    if value is None or value == "":
        if required:
            raise FieldError(tag, 1 if value is None else 4, f"tag {tag} is required")
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise FieldError(tag, 6, f"tag {tag} is not a sequence number: {value[:16]!r}")
    number = int(value)
    if number > MAX_SEQ or (number == 0 and not zero):
        raise FieldError(tag, 5, f"tag {tag} is out of range 1..{MAX_SEQ}: {value}")
    return number


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
    out = []
    for t, v in msg.pairs:
        tag = int(t)
        if tag not in header:
            out.append((tag, _decoded(tag, v)))
    return out


def _decoded(tag: int, value: bytes) -> str:
    try:
        return bytes(value).decode()
    except UnicodeDecodeError:
        raise FieldError(tag, 6, f"tag {tag} is not text: {bytes(value)[:16]!r}") from None


def text(msg: Message, tag: int, default: str | None = None) -> str | None:
    """The field's value as text; raises ``FieldError`` (reason 6) if it is not UTF-8."""
    value = msg.get(tag)
    return default if value is None else _decoded(tag, value)


def check_text(msg: Message) -> None:
    """Raise ``FieldError`` for the first field whose value is not UTF-8 text."""
    for t, v in msg.pairs:
        _decoded(int(t), v)


def texts(msg: Message, tag: int) -> Sequence[str]:
    out: list[str] = []
    n = 1
    while (value := msg.get(tag, n)) is not None:
        out.append(_decoded(tag, value))
        n += 1
    return out
