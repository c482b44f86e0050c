"""The FIX 4.4 session layer, sans-I/O: one class for both ends of a connection.

``FixSession`` is fed bytes and the time (``receive``, ``tick``), and produces bytes to
write (``outbox``) and application messages (the ``on_app`` callback). The caller owns
the socket. What it implements:

- **Logon / Logout.** The initiator sends Logon (HeartBtInt); the acceptor answers it
  (HeartBtInt must be 0..300 s, otherwise the logon is refused with a Logout). Logout is
  answered with Logout, then the session is closed. A Logout in answer to our own Logon
  is a refusal: its number is not checked, and its text is the ``closed_reason``.
- **Heartbeat / TestRequest.** With nothing sent for HeartBtInt seconds, a Heartbeat
  goes out. With nothing received for HeartBtInt plus a grace, a TestRequest goes out;
  if its Heartbeat does not come within another HeartBtInt, the peer is dead
  (``closed_reason`` "heartbeat timeout") and the caller drops the connection.
- **Sequence numbers, persisted both sides** (``SeqStore``): outgoing numbers are saved
  before the bytes are handed out; incoming ones after the message was handled. Every
  number read from the wire must be 1..``MAX_SEQ``; anything else is a bad value.
- **Gaps.** A number above the expected one triggers one ResendRequest (from the
  expected number to infinity); messages above the gap are dropped until the resend
  fills it (the resend covers them), **except a ResendRequest, which is answered at
  once** whatever our own gap (FIX 4.4 session rules): two sides that each miss the
  other's messages (crossed gaps, as after a crash) both recover. A number below the
  expected one is a duplicate if PossDupFlag=Y (ignored), otherwise a Logout with the
  reason and the session closes.
- **SequenceReset.** GapFill moves the expected number forward (a NewSeqNo not above
  its own number is rejected and the message consumed); Reset may only raise the
  expected number: a NewSeqNo below it is rejected ("attempt to lower sequence number"),
  equal to it changes nothing.
- **Resend.** Stored application messages (``MessageStore``) are sent again with
  PossDupFlag=Y and OrigSendingTime; everything else (admin messages, or everything
  when there is no store) is covered by SequenceReset-GapFill. An engine does not
  resend stale orders: it has no store and always gap-fills.
- **Bad input never raises.** A frame with a bad length or checksum is logged and
  answered with a session Reject; its number is not consumed, so the gap it leaves is
  filled by a resend. A well-framed message with a bad field (not a number, out of
  range, not text, an unknown type) is rejected (Reject with RefSeqNum, RefTagID naming
  the tag, SessionRejectReason) and its number is consumed. An application message the
  application cannot act on (``BusinessRejectError``, e.g. an empty ClOrdID) is answered
  with BusinessMessageReject (35=j) and its number is consumed too. The session lives
  on in every case. Complaints are logged (the first 20 of each kind, then one in
  1000, with the count) and counted (``rejects_sent``, ``garbled``, ...).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from bastion.venues.fix.wire import (
    BusinessRejectError,
    Field,
    FieldError,
    Frame,
    Framer,
    Message,
    body_fields,
    check_text,
    decode,
    encode,
    fix_time,
    parse_fix_time,
    seq_value,
    text,
)

__all__ = [
    "MAX_HEARTBEAT",
    "BusinessRejectError",
    "FieldError",
    "FileSeqStore",
    "FixSession",
    "MemorySeqStore",
    "MessageStore",
    "SeqStore",
    "SessionState",
]

log = logging.getLogger("bastion.fix.session")

ADMIN = frozenset({"0", "1", "2", "3", "4", "5", "A"})
MAX_HEARTBEAT = 300
"""The longest HeartBtInt (108) an acceptor agrees to, in seconds."""
MAX_TEST_ID = 256
"""The longest TestReqID (112) echoed back in a Heartbeat."""
_RESEND_CHUNK = 1000
"""Stored messages are loaded for a resend this many at a time (memory stays bounded)."""


class SessionState(StrEnum):
    IDLE = "idle"
    LOGON_SENT = "logon_sent"
    ACTIVE = "active"
    CLOSED = "closed"


class SeqStore(Protocol):
    def load(self) -> tuple[int, int]:
        """(next outgoing, next expected incoming)."""
        ...

    def save(self, next_out: int, next_in: int) -> None: ...


class MemorySeqStore:
    def __init__(self, next_out: int = 1, next_in: int = 1) -> None:
        self.values = (next_out, next_in)

    def load(self) -> tuple[int, int]:
        return self.values

    def save(self, next_out: int, next_in: int) -> None:
        self.values = (next_out, next_in)


class FileSeqStore:
    """Sequence numbers in a small JSON file, replaced atomically on every change.

    The adapter's I/O thread and the caller's thread both save: a lock serialises them
    and each write goes through its own temporary file, so two writers can never leave
    a torn file behind (which would stop every later logon)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> tuple[int, int]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return 1, 1
        return int(data["next_out"]), int(data["next_in"])

    def save(self, next_out: int, next_in: int) -> None:
        with self._lock:
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"next_out": next_out, "next_in": next_in}))
            tmp.replace(self.path)


class MessageStore(Protocol):
    def store(self, seq: int, msg_type: str, fields: list[tuple[int, str]], sent: str) -> None: ...

    def load_messages(
        self, begin: int, end: int
    ) -> dict[int, tuple[str, list[tuple[int, str]], str]]:
        """Stored application messages with begin <= seq <= end."""
        ...


AppHandler = Callable[[Message], None]


TRANSACT_TIME = 60


def _shifted(field: Field, offset: dt.timedelta) -> Field:
    """A TransactTime (60) moved by ``offset``; any other field as it is."""
    tag, value = field
    if tag != TRANSACT_TIME or not isinstance(value, str):
        return field
    try:
        return tag, fix_time(parse_fix_time(value) + offset)
    except ValueError:
        return field  # not a time: sent as it is


def _test_id(msg: Message) -> str:
    """The TestReqID (112) of a TestRequest, which its Heartbeat echoes."""
    test_id = text(msg, 112)
    if not test_id:
        raise FieldError(112, 1, "TestRequest without TestReqID (112)")
    if len(test_id) > MAX_TEST_ID:
        raise FieldError(112, 5, f"TestReqID (112) longer than {MAX_TEST_ID} characters")
    return test_id


def _worth_logging(count: int) -> bool:
    """Log the first 20 of a kind of complaint, then one in 1000: a peer sending
    garbage cannot fill the disk with our log."""
    return count <= 20 or count % 1000 == 0


def _peer_text(msg: Message, tag: int) -> str:
    """A field of the peer's message for our logs: never raises."""
    value = msg.get(tag)
    return "" if value is None else bytes(value)[:200].decode("utf-8", "replace")


class FixSession:
    def __init__(
        self,
        sender: str,
        target: str,
        seqs: SeqStore,
        *,
        heartbeat: float = 30.0,
        on_app: AppHandler | None = None,
        messages: MessageStore | None = None,
        initiator: bool = True,
        max_body: int | None = None,
    ) -> None:
        self.sender, self.target = sender, target
        self.heartbeat = heartbeat
        self.logon_fields: list[Field] = []
        """Extra Logon fields, e.g. Username (553) and Password (554) for a real broker.
        Logon is an admin message: never stored for resend, never logged."""
        self.seqs = seqs
        self.messages = messages
        self.initiator = initiator
        self.on_app: AppHandler = on_app if on_app is not None else (lambda _m: None)
        self.sending_offset = dt.timedelta(0)
        """Added to the SendingTime (52) and TransactTime (60) of what this side sends: a
        clock that is off (the paper venue's ``clock`` control) stamps both; timers keep
        the real time."""
        self.on_message: Callable[[Message], None] = lambda _m: None
        """Called with every in-sequence message the peer sends, admin messages too
        (the adapter reads the peer's SendingTime from each)."""
        self.on_heartbeat: Callable[[str], None] = lambda _id: None
        self.on_reject: Callable[[Message], None] = lambda _m: None
        """Called with each session Reject (35=3) the peer sends us."""
        self.on_bad_app: Callable[[Message, FieldError], None] = lambda _m, _e: None
        """Called with each application message we rejected for a bad field (the
        adapter turns it into an anomaly: a report refused here must not vanish)."""
        self.next_out, self.next_in = seqs.load()
        self.state = SessionState.IDLE
        self.closed_reason = ""
        self.outbox: list[bytes] = []
        self._max_body = max_body
        self.framer = Framer() if max_body is None else Framer(max_body)
        self._resend_until: int | None = None
        self._resend_at: dt.datetime | None = None
        self._last_sent: dt.datetime | None = None
        self._last_received: dt.datetime | None = None
        self._test_sent: dt.datetime | None = None
        self._test_id = 0
        self.rejects_sent = 0
        self.rejects_received = 0
        self.business_rejects_sent = 0
        self.garbled = 0

    def new_connection(self) -> None:
        """The peer connects again (an acceptor keeps one session per client): forget
        what belonged to the old connection (half-read bytes, unsent output, a
        ResendRequest asked on it, an unanswered TestRequest); the numbers stay. A gap
        found after the next logon is asked for at once, not a heartbeat later."""
        self.framer = Framer() if self._max_body is None else Framer(self._max_body)
        self.outbox.clear()
        self._resend_until = self._resend_at = None
        self._test_sent = self._last_received = None
        self.state = SessionState.IDLE
        self.closed_reason = ""

    # -- sending ------------------------------------------------------------------------
    def _send(
        self, msg_type: str, fields: list[Field], now: dt.datetime, *, store: bool = True
    ) -> int:
        seq = self.next_out
        self.next_out += 1
        stamp = now + self.sending_offset
        if self.sending_offset:
            fields = [_shifted(f, self.sending_offset) for f in fields]
        sent = fix_time(stamp)
        if store and self.messages is not None and msg_type not in ADMIN:
            self.messages.store(seq, msg_type, [(t, str(v)) for t, v in fields], sent)
        self.seqs.save(self.next_out, self.next_in)
        raw = encode(msg_type, fields, seq=seq, sender=self.sender, target=self.target, now=stamp)
        self.outbox.append(raw)
        self._last_sent = now
        return seq

    def send_app(
        self, msg_type: str, fields: list[Field], now: dt.datetime, *, store: bool = True
    ) -> int:
        """Send an application message; its number is persisted before it leaves.
        ``store=False`` (market data) leaves it out of resends: a gap fill covers it."""
        return self._send(msg_type, fields, now, store=store)

    def logon(self, now: dt.datetime) -> None:
        self.state = SessionState.LOGON_SENT
        self._last_received = now
        self._send("A", [(98, 0), (108, int(self.heartbeat)), *self.logon_fields], now)

    def logout(self, now: dt.datetime, reason: str = "") -> None:
        self._send("5", [(58, reason)] if reason else [], now)
        self._close(reason or "logout")

    def test_request(self, now: dt.datetime, test_id: str) -> None:
        self._send("1", [(112, test_id)], now)

    def _close(self, reason: str) -> None:
        if self.state is not SessionState.CLOSED:
            self.state = SessionState.CLOSED
            self.closed_reason = reason
            log.info("FIX session %s->%s closed: %s", self.sender, self.target, reason)

    def _reject(self, ref_seq: int, now: dt.datetime, why: str, **extra: str | int) -> None:
        fields: list[Field] = [(45, ref_seq)]
        for tag, key in ((371, "tag"), (372, "msg_type"), (373, "reason")):
            if key in extra and extra[key] != "":
                fields.append((tag, extra[key]))
        fields.append((58, why[:200]))
        self.rejects_sent += 1
        if _worth_logging(self.rejects_sent):
            log.warning(
                "FIX %s: rejecting message %s: %s (%d rejects so far)",
                self.sender,
                ref_seq,
                why[:200],
                self.rejects_sent,
            )
        self._send("3", fields, now)

    def _business_reject(
        self, ref_seq: int, msg_type: str, exc: BusinessRejectError, now: dt.datetime
    ) -> None:
        fields: list[Field] = [(45, ref_seq), (372, msg_type)]
        if exc.ref_id:
            fields.append((379, exc.ref_id))
        fields += [(380, exc.reason), (58, str(exc)[:200])]
        self.business_rejects_sent += 1
        if _worth_logging(self.business_rejects_sent):
            log.warning("FIX %s: business reject of message %s: %s", self.sender, ref_seq, exc)
        self._send("j", fields, now)

    # -- timers ---------------------------------------------------------------------------
    def tick(self, now: dt.datetime) -> None:
        if self.state is not SessionState.ACTIVE:
            if (
                self.state is SessionState.LOGON_SENT
                and self._last_received is not None
                and (now - self._last_received).total_seconds() > 2 * self.heartbeat
            ):
                self._close("no logon answer")
            return
        hb = self.heartbeat
        if self._last_sent is None or (now - self._last_sent).total_seconds() >= hb:
            self._send("0", [], now)
        quiet = (now - self._last_received).total_seconds() if self._last_received else 0.0
        if self._test_sent is not None:
            if (now - self._test_sent).total_seconds() >= hb:
                self._close("heartbeat timeout")
        elif quiet >= hb * 1.2:
            self._test_id += 1
            self._test_sent = now
            self.test_request(now, f"TEST-{self._test_id}")

    # -- receiving ------------------------------------------------------------------------
    def receive(self, data: bytes, now: dt.datetime) -> None:
        self.framer.feed(data)
        for frame in self.framer.frames():
            if self.state is SessionState.CLOSED:
                return
            if frame.garbled:
                self.garbled += 1
                if _worth_logging(self.garbled):
                    log.warning(
                        "FIX %s: garbled input (%s): %r", self.sender, frame.garbled, frame.raw[:80]
                    )
                self._reject(frame.seq or 0, now, f"garbled message: {frame.garbled}")
                continue
            try:
                msg = decode(frame.raw)
            except FieldError as exc:
                self._malformed(frame, exc, now)
                continue
            self._handle(msg, now)

    def _malformed(self, frame: Frame, exc: FieldError, now: dt.datetime) -> None:
        """A well-framed message that is not all tag=value pairs: rejected, and its
        number consumed when it is the one expected (the framing vouches for it)."""
        self.garbled += 1
        seq = frame.seq or 0
        if seq == self.next_in:
            self._consume()
        self._reject(seq, now, str(exc), tag=exc.tag, reason=exc.reason)

    def _handle(self, msg: Message, now: dt.datetime) -> None:  # noqa: C901, PLR0911
        self._last_received = now
        self._test_sent = None
        try:
            seq = seq_value(msg, 34)
        except FieldError as exc:
            # The number cannot be trusted, so it is not consumed.
            self._reject(0, now, f"MsgSeqNum: {exc}", tag=34, reason=exc.reason)
            return
        if _peer_text(msg, 49) != self.target or _peer_text(msg, 56) != self.sender:
            self._reject(seq, now, "CompID problem", tag=49, reason=9)
            return
        msg_type = _peer_text(msg, 35)
        poss_dup = _peer_text(msg, 43) == "Y"
        if msg_type == "4" and _peer_text(msg, 123) != "Y":  # SequenceReset-Reset: forced
            self._sequence_reset(msg, seq, now)
            return
        if msg_type == "5" and self.state is SessionState.LOGON_SENT:
            self._close(f"logon refused: {_peer_text(msg, 58) or 'logout'}")
            return
        if seq < self.next_in:
            if poss_dup:
                return  # a duplicate we already handled
            why = f"MsgSeqNum too low, expecting {self.next_in} but received {seq}"
            self.logout(now, why)
            return
        if seq > self.next_in:
            if msg_type == "A":
                self._guarded(seq, msg_type, now, lambda: self._on_logon(msg, now))
                if self.state is SessionState.CLOSED:
                    return
            elif msg_type == "5":
                self._close(_peer_text(msg, 58) or "logout")
                return
            elif msg_type == "2":
                self._answer_early_resend(msg, seq, now)
            self._request_resend(seq, now)
            return  # the resend will bring this message again (or gap-fill it)
        if msg_type == "4":
            self._guarded(seq, msg_type, now, lambda: self._gap_fill(msg, seq, now))
            return
        self._consume()
        self._guarded(seq, msg_type, now, lambda: self._dispatch(msg, msg_type, seq, now), msg)

    def _guarded(
        self,
        seq: int,
        msg_type: str,
        now: dt.datetime,
        action: Callable[[], None],
        msg: Message | None = None,
    ) -> None:
        """Run one step of handling a message; a bad field becomes a Reject naming the
        tag, an application refusal a BusinessMessageReject."""
        try:
            action()
        except FieldError as exc:
            self._reject(seq, now, str(exc), tag=exc.tag, msg_type=msg_type, reason=exc.reason)
            if msg is not None and msg_type not in ADMIN:
                self.on_bad_app(msg, exc)
        except BusinessRejectError as exc:
            self._business_reject(seq, msg_type, exc, now)

    def _dispatch(self, msg: Message, msg_type: str, seq: int, now: dt.datetime) -> None:
        check_text(msg)
        self.on_message(msg)
        if msg_type == "A":
            self._on_logon(msg, now)
        elif msg_type == "0":
            test_id = text(msg, 112)
            if test_id:
                self.on_heartbeat(test_id)
        elif msg_type == "1":
            self._send("0", [(112, _test_id(msg))], now)
        elif msg_type == "2":
            self._resend(*self._resend_range(msg), now)
        elif msg_type == "3":
            self._on_peer_reject(msg)
        elif msg_type == "5":
            if self.state is not SessionState.CLOSED:
                self._send("5", [], now)
            self._close(text(msg, 58) or "logout")
        elif not msg_type:
            raise FieldError(35, 11, "MsgType (35) missing or empty")
        elif self.state is not SessionState.ACTIVE:
            self._reject(seq, now, "application message before logon", msg_type=msg_type, reason=10)
        else:
            self.on_app(msg)

    def _on_peer_reject(self, msg: Message) -> None:
        self.rejects_received += 1
        if _worth_logging(self.rejects_received):
            log.warning(
                "FIX %s: peer rejected %s: %s",
                self.sender,
                _peer_text(msg, 45),
                _peer_text(msg, 58),
            )
        self.on_reject(msg)

    def _consume(self) -> None:
        self.next_in += 1
        self.seqs.save(self.next_out, self.next_in)
        self._gap_filled()

    def _gap_filled(self) -> None:
        if self._resend_until is not None and self.next_in > self._resend_until:
            self._resend_until = self._resend_at = None

    def _request_resend(self, seq: int, now: dt.datetime) -> None:
        stale = self._resend_at is None or (now - self._resend_at).total_seconds() > self.heartbeat
        if self._resend_until is None or stale:
            self._resend_until, self._resend_at = seq, now
            self._send("2", [(7, self.next_in), (16, 0)], now)

    def _gap_fill(self, msg: Message, seq: int, now: dt.datetime) -> None:
        """SequenceReset-GapFill in sequence: the expected number moves to NewSeqNo,
        which must be above the message's own number."""
        try:
            new = seq_value(msg, 36)
        except FieldError:
            self._consume()
            raise
        if new <= seq:
            self._consume()
            raise FieldError(36, 5, f"GapFill NewSeqNo {new} is not above MsgSeqNum {seq}")
        self.next_in = new
        self.seqs.save(self.next_out, self.next_in)
        self._gap_filled()

    def _sequence_reset(self, msg: Message, seq: int, now: dt.datetime) -> None:
        """SequenceReset-Reset (any MsgSeqNum): may only raise the expected number. A
        rejected one that came in sequence uses up its number, like any rejected
        message, so no gap opens behind it."""
        try:
            new = seq_value(msg, 36)
        except FieldError as exc:
            self._refuse_reset(seq, now, str(exc), exc.reason)
            return
        if new < self.next_in:
            why = f"attempt to lower sequence number, invalid value NewSeqNo={new}"
            self._refuse_reset(seq, now, why, 5)
            return
        if new > self.next_in:
            self.next_in = new
            self.seqs.save(self.next_out, self.next_in)
            self._gap_filled()

    def _refuse_reset(self, seq: int, now: dt.datetime, why: str, reason: int) -> None:
        if seq == self.next_in:
            self._consume()
        self._reject(seq, now, why, tag=36, msg_type="4", reason=reason)

    def _on_logon(self, msg: Message, now: dt.datetime) -> None:
        if not self.initiator and self.state is not SessionState.ACTIVE:
            hb = text(msg, 108) or ""
            if not hb.isascii() or not hb.isdigit() or int(hb[-9:]) > MAX_HEARTBEAT:
                self.logout(now, f"logon refused: HeartBtInt (108) must be 0..{MAX_HEARTBEAT}")
                return
            if int(hb) > 0:
                self.heartbeat = float(hb)
        was = self.state
        self.state = SessionState.ACTIVE
        if was is not SessionState.ACTIVE and not self.initiator:
            self._send("A", [(98, 0), (108, int(self.heartbeat)), *self.logon_fields], now)

    def _resend_range(self, msg: Message) -> tuple[int, int]:
        begin = seq_value(msg, 7)
        end = seq_value(msg, 16, required=False, zero=True)
        if end and end < begin:
            raise FieldError(16, 5, f"EndSeqNo {end} is below BeginSeqNo {begin}")
        return begin, end

    def _answer_early_resend(self, msg: Message, seq: int, now: dt.datetime) -> None:
        """A ResendRequest above our own gap is answered at once (its number is not
        consumed: the peer's resend or gap fill covers it later)."""
        try:
            check_text(msg)
            begin, end = self._resend_range(msg)
        except FieldError as exc:
            log.warning("FIX %s: unreadable ResendRequest %s: %s", self.sender, seq, exc)
            return
        self._resend(begin, end, now)

    def _resend(self, begin: int, end_asked: int, now: dt.datetime) -> None:
        end = self.next_out - 1 if end_asked == 0 else min(end_asked, self.next_out - 1)
        if begin > end:
            log.info("FIX %s: resend of %s.. asked; nothing sent yet there", self.sender, begin)
            return
        seq = begin
        while seq <= end:
            chunk_end = min(seq + _RESEND_CHUNK - 1, end)
            stored = self.messages.load_messages(seq, chunk_end) if self.messages else {}
            seq = self._resend_chunk(seq, chunk_end, end, stored, now)
        self._last_sent = now

    def _resend_chunk(
        self,
        seq: int,
        chunk_end: int,
        end: int,
        stored: dict[int, tuple[str, list[tuple[int, str]], str]],
        now: dt.datetime,
    ) -> int:
        """Resend ``seq..chunk_end``; returns the next number to resend. A run of
        unstored numbers becomes one GapFill (without a store: one for everything)."""
        while seq <= chunk_end:
            if seq in stored:
                msg_type, fields, sent = stored[seq]
                self.outbox.append(
                    encode(
                        msg_type,
                        fields,
                        seq=seq,
                        sender=self.sender,
                        target=self.target,
                        now=now + self.sending_offset,
                        poss_dup=True,
                        orig_sending_time=sent,
                    )
                )
                seq += 1
                continue
            run_end = end if self.messages is None else seq
            while run_end < chunk_end and run_end + 1 not in stored:
                run_end += 1
            self.outbox.append(
                encode(
                    "4",
                    [(123, "Y"), (36, run_end + 1)],
                    seq=seq,
                    sender=self.sender,
                    target=self.target,
                    now=now + self.sending_offset,
                    poss_dup=True,
                )
            )
            seq = run_end + 1
        return seq

    @property
    def active(self) -> bool:
        return self.state is SessionState.ACTIVE

    def take_outbox(self) -> bytes:
        data = b"".join(self.outbox)
        self.outbox.clear()
        return data


def fields_of(msg: Message) -> list[tuple[int, str]]:
    return body_fields(msg)
