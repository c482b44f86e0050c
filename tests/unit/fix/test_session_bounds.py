"""Nothing from the wire can crash the session, stretch its numbers or lower them.

Invariants: sequence numbers read from the wire are 1..MAX_SEQ, otherwise a Reject
names the tag and nothing is stored; SequenceReset-Reset may only raise the expected
number (a lower NewSeqNo is rejected, FIX 4.4); a malformed numeric field (``7=abc``,
``16=Infinity``), a value that is not text (``\\xff``) or a pair that is not
``tag=value`` gets a session Reject naming the tag, never an exception, and the session
stays active with its number consumed; a refused logon's Logout closes the initiator
with the venue's reason whatever its number; 10,000 TestRequests are all answered.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bastion.testing.fix_wire import messages_in, raw_message
from bastion.venues.fix.session import FixSession, MemorySeqStore, SessionState
from bastion.venues.fix.wire import MAX_SEQ, Framer, Message, encode, text

T0 = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)


def _active_venue() -> tuple[FixSession, list[Message]]:
    got: list[Message] = []
    venue = FixSession(
        "PAPER", "BASTION", MemorySeqStore(), heartbeat=5, on_app=got.append, initiator=False
    )
    venue.receive(
        encode("A", [(98, 0), (108, 5)], seq=1, sender="BASTION", target="PAPER", now=T0), T0
    )
    venue.take_outbox()
    assert venue.active
    return venue, got


def _raw(msg_type: str, pairs: list[tuple[int | str | bytes, int | str | bytes]], seq: int = 2):
    return raw_message(msg_type, pairs, seq=seq, sender="BASTION", target="PAPER", now=T0)


def _one_reject(venue: FixSession) -> Message:
    (reject,) = [m for m in messages_in(venue.take_outbox()) if text(m, 35) == "3"]
    return reject


def test_session_reset_to_huge_new_seq_no_is_rejected_and_nothing_stored() -> None:
    venue, _ = _active_venue()
    venue.receive(_raw("4", [(36, "100000000000000000000")]), T0)
    reject = _one_reject(venue)
    assert text(reject, 371) == "36"
    assert venue.next_in == 3  # rejected in sequence: its number is used up, nothing more
    assert venue.seqs.load() == (venue.next_out, 3)
    assert venue.active


def test_session_reset_backwards_is_rejected_as_lowering() -> None:
    venue, _ = _active_venue()
    venue.receive(_raw("4", [(36, 7)]), T0)  # a legal raise first
    assert venue.next_in == 7
    venue.receive(_raw("4", [(36, 1)], seq=7), T0)
    reject = _one_reject(venue)
    assert text(reject, 371) == "36"
    assert text(reject, 373) == "5"
    assert "lower" in (text(reject, 58) or "")
    assert venue.next_in == 8  # not lowered; the rejected reset used up its own number
    assert venue.active


@pytest.mark.parametrize(
    ("pairs", "tag"),
    [
        ([(7, "abc"), (16, 0)], "7"),
        ([(7, 1), (16, "Infinity")], "16"),
        ([(7, b"\xff"), (16, 0)], "7"),
        ([(7, 1), (16, 0), (58, b"\xff\xfe")], "58"),
        ([(7, str(MAX_SEQ + 1)), (16, 0)], "7"),
        ([(7, 5), (16, 3)], "16"),
        ([(16, 0)], "7"),
    ],
)
def test_session_malformed_resend_request_is_rejected_naming_the_tag(
    pairs: list[tuple[int, str | int | bytes]], tag: str
) -> None:
    venue, _ = _active_venue()
    venue.receive(_raw("2", pairs), T0)
    reject = _one_reject(venue)
    assert text(reject, 371) == tag
    assert text(reject, 45) == "2"
    assert venue.next_in == 3  # consumed: no gap opens
    assert venue.active


def test_session_huge_msg_seq_num_is_rejected_and_not_consumed() -> None:
    venue, _ = _active_venue()
    venue.receive(raw_message("0", [], seq="9" * 30, sender="BASTION", target="PAPER", now=T0), T0)
    assert text(_one_reject(venue), 371) == "34"
    assert venue.next_in == 2
    assert venue.active


def test_session_bad_pair_is_rejected_and_consumed() -> None:
    venue, got = _active_venue()
    venue.receive(_raw("D", [("abc", "1"), (11, "X1")]), T0)
    assert text(_one_reject(venue), 373) == "0"
    assert venue.next_in == 3
    assert got == []
    venue.receive(_raw("D", [(11, "X2")], seq=3), T0)
    assert [text(m, 11) for m in got] == ["X2"]


def test_session_gap_fill_not_forward_is_rejected_and_consumed() -> None:
    venue, _ = _active_venue()
    venue.receive(_raw("4", [(123, "Y"), (36, 2)]), T0)
    assert text(_one_reject(venue), 371) == "36"
    assert venue.next_in == 3


def test_session_logon_with_huge_heartbeat_is_refused_with_logout() -> None:
    venue = FixSession("PAPER", "BASTION", MemorySeqStore(), heartbeat=5, initiator=False)
    venue.receive(_raw("A", [(98, 0), (108, "9" * 40)], seq=1), T0)
    (logout,) = messages_in(venue.take_outbox())
    assert text(logout, 35) == "5"
    assert "HeartBtInt" in (text(logout, 58) or "")
    assert venue.state is SessionState.CLOSED


def test_session_logout_answering_logon_closes_with_the_venues_reason() -> None:
    engine = FixSession("BASTION", "PAPER", MemorySeqStore(next_out=40, next_in=30))
    engine.logon(T0)
    refusal = encode(
        "5", [(58, "CompID BASTION is not allowed")], seq=1, sender="PAPER", target="BASTION",
        now=T0,
    )  # fmt: skip
    engine.receive(refusal, T0)
    assert engine.state is SessionState.CLOSED
    assert "not allowed" in engine.closed_reason
    assert engine.take_outbox().count(b"35=5") == 0  # no 'too low' logout of our own


def test_session_ten_thousand_test_requests_are_all_answered() -> None:
    venue, _ = _active_venue()
    burst = b"".join(
        encode("1", [(112, f"T{n}")], seq=n + 2, sender="BASTION", target="PAPER", now=T0)
        for n in range(10_000)
    )
    venue.receive(burst, T0)
    framer = Framer()
    framer.feed(venue.take_outbox())
    answers = messages_in(b"".join(f.raw for f in framer.frames()))
    assert [text(m, 112) for m in answers] == [f"T{n}" for n in range(10_000)]
    assert venue.next_in == 10_002
