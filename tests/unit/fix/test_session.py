"""The FIX session layer keeps both sides in step whatever the wire does.

Invariants: logon makes both ends active; a garbled frame is answered with a session
Reject and the session lives (its number is not consumed, so a resend fills it); a
number too low without PossDupFlag ends the session with a Logout giving the reason,
with PossDupFlag it is ignored; a gap is filled by a resend of stored application
messages (PossDup) and gap fills for the rest; a silent peer gets a TestRequest and is
declared dead after another interval; an unknown message type is rejected and the
session lives; sequence numbers persist across restarts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bastion.venues.fix.session import FileSeqStore, FixSession, MemorySeqStore, SessionState
from bastion.venues.fix.wire import Framer, Message, decode, encode, text

T0 = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)


class _Store:
    def __init__(self) -> None:
        self.saved: dict[int, tuple[str, list[tuple[int, str]], str]] = {}

    def store(self, seq: int, msg_type: str, fields: list[tuple[int, str]], sent: str) -> None:
        self.saved[seq] = (msg_type, fields, sent)

    def load_messages(
        self, begin: int, end: int
    ) -> dict[int, tuple[str, list[tuple[int, str]], str]]:
        return {s: v for s, v in self.saved.items() if begin <= s <= end}


def _pair() -> tuple[FixSession, FixSession, list[Message], list[Message]]:
    got_client: list[Message] = []
    got_server: list[Message] = []
    client = FixSession("BASTION", "PAPER", MemorySeqStore(), heartbeat=5, on_app=got_client.append)
    server = FixSession(
        "PAPER",
        "BASTION",
        MemorySeqStore(),
        heartbeat=5,
        on_app=got_server.append,
        messages=_Store(),
        initiator=False,
    )
    client.logon(T0)
    _pump(client, server)
    return client, server, got_client, got_server


def _pump(a: FixSession, b: FixSession, now: dt.datetime = T0) -> None:
    for _ in range(10):
        moved = False
        if a.outbox:
            b.receive(a.take_outbox(), now)
            moved = True
        if b.outbox:
            a.receive(b.take_outbox(), now)
            moved = True
        if not moved:
            return


def _types(raw: bytes) -> list[str]:
    framer = Framer()
    framer.feed(raw)
    return [text(decode(f.raw), 35) or "" for f in framer.frames()]


def test_session_logon_makes_both_ends_active() -> None:
    client, server, _, _ = _pair()
    assert client.active
    assert server.active
    assert (client.next_out, client.next_in) == (2, 2)


def test_session_garbled_frame_is_rejected_and_session_lives() -> None:
    _client, server, _, got = _pair()
    raw = encode("D", [(11, "X1")], seq=2, sender="BASTION", target="PAPER", now=T0)
    bad = raw[:-4] + b"000\x01"  # wrong checksum
    server.receive(bad, T0)
    reply = server.take_outbox()
    assert _types(reply) == ["3"]
    assert server.active
    assert server.next_in == 2  # not consumed: a resend fills it
    assert server.garbled == 1
    server.receive(raw, T0)
    assert [text(m, 11) for m in got] == ["X1"]


def test_session_unknown_message_type_is_rejected_and_session_lives() -> None:
    from bastion.venues.fix.session import FieldError

    client, server, _, _ = _pair()

    def refuse(_m: Message) -> None:
        raise FieldError(35, 11, "message type 'ZZ' is not supported")

    server.on_app = refuse
    client.send_app("ZZ", [(1, "x")], T0)
    server.receive(client.take_outbox(), T0)
    out = server.take_outbox()
    framer = Framer()
    framer.feed(out)
    (frame,) = framer.frames()
    msg = decode(frame.raw)
    assert text(msg, 35) == "3"
    assert text(msg, 373) == "11"
    assert text(msg, 45) == "2"
    assert server.active
    assert server.next_in == 3


def test_session_seq_too_low_without_possdup_logs_out_with_reason() -> None:
    _client, server, _, _ = _pair()
    stale = encode("D", [(11, "X1")], seq=1, sender="BASTION", target="PAPER", now=T0)
    server.receive(stale, T0)
    framer = Framer()
    framer.feed(server.take_outbox())
    (frame,) = framer.frames()
    msg = decode(frame.raw)
    assert text(msg, 35) == "5"
    assert "too low" in (text(msg, 58) or "")
    assert server.state is SessionState.CLOSED


def test_session_seq_too_low_with_possdup_is_ignored() -> None:
    _client, server, _, got = _pair()
    dup = encode("D", [(11, "X1")], seq=1, sender="BASTION", target="PAPER", now=T0, poss_dup=True)
    server.receive(dup, T0)
    assert server.active
    assert got == []
    assert server.take_outbox() == b""


def test_session_gap_is_filled_by_resend_with_possdup_and_gap_fill() -> None:
    client, server, got, _ = _pair()
    server.send_app("8", [(11, "A")], T0)
    server.outbox.clear()  # lost on the wire
    server.send_app("0", [], T0)  # an admin-type seq handled as app here is stored; fine
    server.outbox.clear()
    server.send_app("8", [(11, "B")], T0)
    client.receive(server.take_outbox(), T0)  # seq 4 arrives: gap 2..3
    assert _types(client.outbox[-1]) == ["2"]
    _pump(client, server)
    assert [text(m, 11) for m in got] == ["A", "B"]
    assert all(text(m, 43) == "Y" for m in got[:1])
    assert client.next_in == server.next_out


def test_session_silent_peer_gets_test_request_then_is_dead() -> None:
    client, _server, _, _ = _pair()
    client.tick(T0 + dt.timedelta(seconds=6.1))
    assert "1" in _types(client.take_outbox())
    client.tick(T0 + dt.timedelta(seconds=12))
    assert client.state is SessionState.CLOSED
    assert client.closed_reason == "heartbeat timeout"


def test_session_quiet_sender_sends_heartbeat() -> None:
    _client, server, _, _ = _pair()
    server.tick(T0 + dt.timedelta(seconds=5))
    assert _types(server.take_outbox())[0] == "0"


def test_session_numbers_persist_in_file(tmp_path: Path) -> None:
    store = FileSeqStore(tmp_path / "seq.json")
    first = FixSession("BASTION", "PAPER", store)
    first.logon(T0)
    first.send_app("D", [(11, "X")], T0)
    again = FixSession("BASTION", "PAPER", FileSeqStore(tmp_path / "seq.json"))
    assert again.next_out == 3


def test_framer_split_input_and_junk_are_handled() -> None:
    raw = encode("0", [], seq=1, sender="A", target="B", now=T0)
    framer = Framer()
    framer.feed(b"junk" + raw[:10])
    assert [f.garbled for f in framer.frames()] == ["bytes outside a FIX frame"]
    framer.feed(raw[10:])
    (frame,) = framer.frames()
    assert frame.garbled == ""
    assert frame.raw == raw


def test_session_numbers_file_survives_concurrent_writers(tmp_path: Path) -> None:
    """Two threads saving at once (the I/O thread and the caller) never tear the file."""
    import threading

    store = FileSeqStore(tmp_path / "seq.json")

    def hammer(offset: int) -> None:
        for n in range(300):
            store.save(n + offset, n)

    threads = [threading.Thread(target=hammer, args=(k * 1000,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out, _ = store.load()  # parses: never a torn file
    assert out in {299, 1299}
    assert not list(tmp_path.glob("*.tmp"))
