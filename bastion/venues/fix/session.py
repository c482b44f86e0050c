"""The FIX 4.4 session layer, sans-I/O: one class for both ends of a connection.

``FixSession`` is fed bytes and the time (``receive``, ``tick``), and produces bytes to
write (``outbox``) and application messages (the ``on_app`` callback). The caller owns
the socket. What it implements:

- **Logon / Logout.** The initiator sends Logon (HeartBtInt); the acceptor answers it.
  Logout is answered with Logout, then the session is closed.
- **Heartbeat / TestRequest.** With nothing sent for HeartBtInt seconds, a Heartbeat
  goes out. With nothing received for HeartBtInt plus a grace, a TestRequest goes out;
  if its Heartbeat does not come within another HeartBtInt, the peer is dead
  (``closed_reason`` "heartbeat timeout") and the caller drops the connection.
- **Sequence numbers, persisted both sides** (``SeqStore``): outgoing numbers are saved
  before the bytes are handed out; incoming ones after the message was handled.
- **Gaps.** A number above the expected one triggers one ResendRequest (from the
  expected number to infinity); messages above the gap are dropped until the resend
  fills it (the resend covers them). A number below the expected one is a duplicate if
  PossDupFlag=Y (ignored), otherwise a Logout with the reason and the session closes.
- **Resend.** Stored application messages (``MessageStore``) are sent again with
  PossDupFlag=Y and OrigSendingTime; everything else (admin messages, or everything
  when there is no store) is covered by SequenceReset-GapFill. An engine does not
  resend stale orders: it has no store and always gap-fills.
- **Garbled input.** A frame with a bad length or checksum is logged and answered with
  a session Reject; its number is not consumed, so the gap it leaves is filled by a
  resend. A well-framed message with a bad field or an unknown type is rejected
  (Reject with RefSeqNum, RefTagID, SessionRejectReason) and its number is consumed.
  The session lives on in both cases.
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
    Field,
    Framer,
    Message,
    body_fields,
    decode,
    encode,
    fix_time,
    text,
)

__all__ = [
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


class FieldError(Exception):
    """An application message with a bad field: answered with a session Reject."""

    def __init__(self, tag: int, reason: int, message: str) -> None:
        super().__init__(message)
        self.tag = tag
        self.reason = reason  # SessionRejectReason (373): 1 required tag missing, 5 bad value


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
        self.on_heartbeat: Callable[[str], None] = lambda _id: None
        self.next_out, self.next_in = seqs.load()
        self.state = SessionState.IDLE
        self.closed_reason = ""
        self.outbox: list[bytes] = []
        self.framer = Framer()
        self._resend_until: int | None = None
        self._resend_at: dt.datetime | None = None
        self._last_sent: dt.datetime | None = None
        self._last_received: dt.datetime | None = None
        self._test_sent: dt.datetime | None = None
        self._test_id = 0
        self.rejects_sent = 0
        self.garbled = 0

    # -- sending ------------------------------------------------------------------------
    def _send(
        self, msg_type: str, fields: list[Field], now: dt.datetime, *, store: bool = True
    ) -> int:
        seq = self.next_out
        self.next_out += 1
        sent = fix_time(now)
        if store and self.messages is not None and msg_type not in ADMIN:
            self.messages.store(seq, msg_type, [(t, str(v)) for t, v in fields], sent)
        self.seqs.save(self.next_out, self.next_in)
        raw = encode(msg_type, fields, seq=seq, sender=self.sender, target=self.target, now=now)
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
            if key in extra:
                fields.append((tag, extra[key]))
        fields.append((58, why[:200]))
        self.rejects_sent += 1
        log.warning("FIX %s: rejecting message %s: %s", self.sender, ref_seq, why)
        self._send("3", fields, now)

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
                log.warning(
                    "FIX %s: garbled input (%s): %r", self.sender, frame.garbled, frame.raw[:80]
                )
                self._reject(frame.seq or 0, now, f"garbled message: {frame.garbled}")
                continue
            try:
                msg = decode(frame.raw)
            except Exception as exc:  # noqa: BLE001 - any decoder complaint is garbled input
                self.garbled += 1
                self._reject(frame.seq or 0, now, f"garbled message: {exc!r}")
                continue
            self._handle(msg, now)

    def _handle(self, msg: Message, now: dt.datetime) -> None:  # noqa: C901, PLR0911, PLR0912, PLR0915
        self._last_received = now
        self._test_sent = None
        msg_type = text(msg, 35) or ""
        seq_text = text(msg, 34) or ""
        if not seq_text.isdigit():
            self._reject(0, now, "MsgSeqNum missing or not a number", tag=34, reason=1)
            return
        if text(msg, 49) != self.target or text(msg, 56) != self.sender:
            self._reject(int(seq_text), now, "CompID problem", tag=49, reason=9)
            return
        seq = int(seq_text)
        poss_dup = text(msg, 43) == "Y"
        if msg_type == "4" and text(msg, 123) != "Y":  # SequenceReset-Reset: forced
            self._apply_new_seq(msg, now, force=True)
            return
        if seq < self.next_in:
            if poss_dup:
                return  # a duplicate we already handled
            why = f"MsgSeqNum too low, expecting {self.next_in} but received {seq}"
            self.logout(now, why)
            return
        if seq > self.next_in:
            if msg_type == "A":
                self._on_logon(msg, now, consume=False)
            elif msg_type == "5":
                self._close(text(msg, 58) or "logout")
                return
            stale = (
                self._resend_at is None or (now - self._resend_at).total_seconds() > self.heartbeat
            )
            if self._resend_until is None or stale:
                self._resend_until, self._resend_at = seq, now
                self._send("2", [(7, self.next_in), (16, 0)], now)
            return  # the resend will bring this message again
        if msg_type == "4":
            self._apply_new_seq(msg, now, force=False)
            return
        self._consume()
        if msg_type == "A":
            self._on_logon(msg, now, consume=True)
        elif msg_type == "0":
            test_id = text(msg, 112)
            if test_id:
                self.on_heartbeat(test_id)
        elif msg_type == "1":
            self._send("0", [(112, text(msg, 112) or "")], now)
        elif msg_type == "2":
            self._resend(msg, now)
        elif msg_type == "3":
            log.warning("FIX %s: peer rejected %s: %s", self.sender, text(msg, 45), text(msg, 58))
        elif msg_type == "5":
            if self.state is not SessionState.CLOSED:
                self._send("5", [], now)
            self._close(text(msg, 58) or "logout")
        elif self.state is not SessionState.ACTIVE:
            self._reject(seq, now, "application message before logon", msg_type=msg_type, reason=10)
        else:
            try:
                self.on_app(msg)
            except FieldError as exc:
                self._reject(seq, now, str(exc), tag=exc.tag, msg_type=msg_type, reason=exc.reason)

    def _consume(self) -> None:
        self.next_in += 1
        self.seqs.save(self.next_out, self.next_in)
        self._gap_filled()

    def _gap_filled(self) -> None:
        if self._resend_until is not None and self.next_in > self._resend_until:
            self._resend_until = self._resend_at = None

    def _apply_new_seq(self, msg: Message, now: dt.datetime, *, force: bool) -> None:
        new = text(msg, 36) or ""
        if not new.isdigit():
            self._reject(int(text(msg, 34) or 0), now, "NewSeqNo missing", tag=36, reason=1)
            return
        if int(new) > self.next_in or force:
            self.next_in = int(new)
            self.seqs.save(self.next_out, self.next_in)
            self._gap_filled()

    def _on_logon(self, msg: Message, now: dt.datetime, *, consume: bool) -> None:
        hb = text(msg, 108) or ""
        if not self.initiator and hb.isdigit() and int(hb) > 0:
            self.heartbeat = float(hb)
        was = self.state
        self.state = SessionState.ACTIVE
        if was is not SessionState.ACTIVE and not self.initiator:
            self._send("A", [(98, 0), (108, int(self.heartbeat)), *self.logon_fields], now)
        del consume

    def _resend(self, msg: Message, now: dt.datetime) -> None:
        begin = int(text(msg, 7) or "1")
        end_text = int(text(msg, 16) or "0")
        end = self.next_out - 1 if end_text == 0 else min(end_text, self.next_out - 1)
        stored = self.messages.load_messages(begin, end) if self.messages is not None else {}
        seq = begin
        while seq <= end:
            if seq in stored:
                msg_type, fields, sent = stored[seq]
                self.outbox.append(
                    encode(
                        msg_type,
                        fields,
                        seq=seq,
                        sender=self.sender,
                        target=self.target,
                        now=now,
                        poss_dup=True,
                        orig_sending_time=sent,
                    )
                )
                seq += 1
                continue
            run_end = seq
            while run_end + 1 <= end and run_end + 1 not in stored:
                run_end += 1
            self.outbox.append(
                encode(
                    "4",
                    [(123, "Y"), (36, run_end + 1)],
                    seq=seq,
                    sender=self.sender,
                    target=self.target,
                    now=now,
                    poss_dup=True,
                )
            )
            seq = run_end + 1
        self._last_sent = now

    @property
    def active(self) -> bool:
        return self.state is SessionState.ACTIVE

    def take_outbox(self) -> bytes:
        data = b"".join(self.outbox)
        self.outbox.clear()
        return data


def fields_of(msg: Message) -> list[tuple[int, str]]:
    return body_fields(msg)
