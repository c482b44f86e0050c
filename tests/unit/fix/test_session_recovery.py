"""Crossed gaps recover: a ResendRequest is answered whatever the receiver's own gap.

Invariant (FIX 4.4 session rules): a ResendRequest is processed even when its own
number is above the receiver's expected number, before the receiver asks for its own
gap; so two sessions that each miss messages from the other (the state after a venue
crash: venue expects 132 while the engine's next is 205, the engine expects 684 while
the venue's next is 745) both recover, and application messages flow again both ways.
"""

from __future__ import annotations

import datetime as dt

from bastion.venues.fix.session import FixSession, MemorySeqStore
from bastion.venues.fix.wire import Framer, Message, decode, text

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


def _types(raw: bytes) -> list[str]:
    framer = Framer()
    framer.feed(raw)
    return [text(decode(f.raw), 35) or "" for f in framer.frames()]


def _pump(a: FixSession, b: FixSession, now: dt.datetime = T0, rounds: int = 20) -> None:
    for _ in range(rounds):
        moved = False
        if a.outbox:
            b.receive(a.take_outbox(), now)
            moved = True
        if b.outbox:
            a.receive(b.take_outbox(), now)
            moved = True
        if not moved:
            return


def _crossed() -> tuple[FixSession, FixSession, list[Message], list[Message]]:
    """The state the issue saw after a venue crash, reached through a real logon."""
    engine_got: list[Message] = []
    venue_got: list[Message] = []
    store = _Store()
    # Two execution reports the venue sent while the engine was not reading them.
    store.store(700, "8", [(11, "C1-1.1"), (150, "0")], "20260302-14:29:00.000000")
    store.store(701, "8", [(11, "C1-1.1"), (150, "F")], "20260302-14:29:01.000000")
    engine = FixSession(
        "BASTION.ENGINE",
        "PAPER",
        MemorySeqStore(next_out=205, next_in=684),
        heartbeat=5,
        on_app=engine_got.append,
    )
    venue = FixSession(
        "PAPER",
        "BASTION.ENGINE",
        MemorySeqStore(next_out=745, next_in=132),
        heartbeat=5,
        on_app=venue_got.append,
        messages=store,
        initiator=False,
    )
    engine.logon(T0)
    return engine, venue, engine_got, venue_got


def test_session_crossed_gaps_both_recover_and_messages_flow() -> None:
    engine, venue, engine_got, venue_got = _crossed()
    _pump(engine, venue)
    # and the stale-request timer may fire on both sides: it must not stall them either
    later = T0 + dt.timedelta(seconds=6)
    engine.tick(later)
    venue.tick(later)
    _pump(engine, venue, later)
    assert engine.active
    assert venue.active
    assert [text(m, 150) for m in engine_got] == ["0", "F"]  # the resent reports arrived
    assert all(text(m, 43) == "Y" for m in engine_got)
    assert engine.next_in == venue.next_out
    assert venue.next_in == engine.next_out
    engine.send_app("D", [(11, "C1-2.1")], later)
    venue.send_app("8", [(11, "C1-2.1"), (150, "0")], later)
    _pump(engine, venue, later)
    assert [text(m, 11) for m in venue_got] == ["C1-2.1"]
    assert [text(m, 11) for m in engine_got][-1] == "C1-2.1"


def test_session_resend_request_above_own_gap_is_answered_first() -> None:
    engine, venue, _, _ = _crossed()
    venue.receive(engine.take_outbox(), T0)  # the engine's Logon (205, venue expects 132)
    assert _types(venue.take_outbox()) == ["A", "2"]  # logon answer, then its own request
    # The engine asks for 684.. while the venue still waits for 132: answered at once.
    engine.send_app("2", [(7, 684), (16, 0)], T0)
    venue.receive(engine.take_outbox(), T0)
    answered = _types(venue.take_outbox())
    assert answered[:3] == ["4", "8", "8"]  # gap fill 684..699, then the stored reports
    assert venue.next_in == 132  # still waiting for its own gap: nothing was consumed


def test_session_new_connection_asks_for_a_gap_at_once() -> None:
    """The acceptor keeps one session per client across connections: a ResendRequest
    asked on a connection that then dropped must not hold back the next one's."""
    engine, venue, _, _ = _crossed()
    venue.receive(engine.take_outbox(), T0)
    assert _types(venue.take_outbox()) == ["A", "2"]  # asked for 132.. on this connection
    # The connection drops before the answer; the engine logs on again at once.
    venue.new_connection()
    again = FixSession(
        "BASTION.ENGINE", "PAPER", MemorySeqStore(next_out=207, next_in=747), heartbeat=5
    )
    again.logon(T0 + dt.timedelta(seconds=1))
    venue.receive(again.take_outbox(), T0 + dt.timedelta(seconds=1))
    assert _types(venue.take_outbox()) == ["A", "2"]  # asked again, not a heartbeat later
