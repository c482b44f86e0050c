"""Invariant: the FIX adapter measures the venue's clock against the engine's clock
(the one it is built with; a simulated clock in tests and sim runs, never the wall's
behind the engine's back) from each message's SendingTime (52), and ignores resent
messages (43=Y), whose SendingTime is the original's; the engine halts new orders on
what it reports (tests/integration/engine/test_duties.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from bastion.clock import SimClock
from bastion.domain.ids import ClientOrderId
from bastion.testing.fix_wire import messages_in
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue
from bastion.venues.fix.session import FixSession, MemorySeqStore
from bastion.venues.fix.wire import decode, encode, fix_time, text
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


def _message(sent: dt.datetime, *, resent: bool = False) -> bytes:
    return encode("0", [], seq=7, sender="PAPER", target="BASTION", now=sent, poss_dup=resent)


@pytest.fixture
def venue() -> FixVenue:
    config = FixConfig(port=1, sender_comp_id="BASTION")
    return FixVenue(config, dict(DEFAULT_CONTRACTS), clock=SimClock(NOW))


def test_sending_time_ahead_of_ours_is_a_positive_skew(venue: FixVenue) -> None:
    assert venue.clock_skew is None  # nothing heard yet: unknown, not zero
    venue._note_clock(decode(_message(NOW + dt.timedelta(seconds=12.5))))
    assert venue.clock_skew == dt.timedelta(seconds=12.5)
    venue._note_clock(decode(_message(NOW - dt.timedelta(seconds=3))))
    assert venue.clock_skew == dt.timedelta(seconds=-3)


def test_a_resent_message_does_not_move_the_skew(venue: FixVenue) -> None:
    venue._note_clock(decode(_message(NOW)))
    venue._note_clock(decode(_message(NOW - dt.timedelta(hours=2), resent=True)))
    assert venue.clock_skew == dt.timedelta(0)


def test_the_skew_is_read_on_the_engines_clock_not_the_wall_clock() -> None:
    """A venue whose clock agrees with an engine on a simulated clock has no skew, however
    far both are from the wall clock (before, the wall clock was used: a halt)."""
    clock = SimClock(NOW)
    venue = FixVenue(FixConfig(port=1, sender_comp_id="BASTION"), {}, clock=clock)
    venue._note_clock(decode(_message(NOW)))
    assert venue.clock_skew == dt.timedelta(0)
    clock.advance(dt.timedelta(hours=3))
    venue._note_clock(decode(_message(NOW + dt.timedelta(hours=3, seconds=1))))
    assert venue.clock_skew == dt.timedelta(seconds=1)


def test_a_venue_clock_offset_moves_sending_time_and_transact_time_alike() -> None:
    """A venue whose clock is off (the paper venue's ``clock offset=S``) stamps its
    SendingTime (52) and its TransactTime (60) by the same clock, so an engine whose
    clock agrees with the venue's reads quotes and reports as fresh (before, only 52
    moved: a quote from a venue ahead of the wall clock looked a day old)."""
    venue = FixSession("PAPER", "BASTION", MemorySeqStore(), heartbeat=5, initiator=False)
    venue.sending_offset = dt.timedelta(days=1, seconds=3)
    venue.send_app("8", [(37, "V1"), (60, fix_time(NOW)), (58, "20240102-00:00:00")], NOW)
    (msg,) = messages_in(venue.take_outbox())
    later = NOW + dt.timedelta(days=1, seconds=3)
    assert text(msg, 52) == fix_time(later)
    assert text(msg, 60) == fix_time(later)
    assert text(msg, 58) == "20240102-00:00:00"  # only times in 60 move


def test_answers_and_the_adapters_own_events_are_timed_on_the_engines_clock() -> None:
    """A query's answer is as of the engine's time (the kill switch trusts only a
    positions answer taken after it started), and so is a refusal the adapter makes
    itself (a disconnected venue: nothing was sent)."""
    clock = SimClock(NOW)
    venue = FixVenue(FixConfig(port=1, sender_comp_id="BASTION"), {}, clock=clock)
    assert venue._read_answer("positions", dict).taken_at == NOW
    clock.advance(dt.timedelta(days=2))
    assert venue.cancel(ClientOrderId("C1")).taken is False
    (event,) = venue.poll_events()
    assert event.timestamp == NOW + dt.timedelta(days=2)
