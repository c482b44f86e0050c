"""The paper venue checks every order field before anything is logged or rests.

Invariants: a price that is zero or negative is refused with a Reject naming its tag
unless the contract's spec allows negative prices (then the order reaches the book);
an offset (20077) outside O/C/T/Y is refused naming 20077; quantities and prices that
are not finite whole numbers in range (``Infinity``, ``1e30``, ``NaN``) are refused
naming their tag, never a traceback; a missing or empty ClOrdID / OrigClOrdID is a
BusinessMessageReject (35=j) that uses up its sequence number, so no gap opens (the
next message is handled without a ResendRequest); nothing refused enters the input log.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId, InstrumentId
from bastion.testing.fix_wire import RawFixClient
from bastion.testing.paper_server import PaperServerThread
from bastion.venues.fix.wire import Message, text
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS, START_PRICES
from bastion.venues.paper.server import ServerConfig

CL = ContractId("CL/202606")
CL_SPEC = ContractSpec(
    instrument_id=InstrumentId("CL"),
    exchange="PAPER",
    currency="USD",
    tick_size=Decimal("0.01"),
    multiplier=Decimal(1000),
    allows_negative_prices=True,
)


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperServerThread]:
    thread = PaperServerThread(
        ServerConfig(
            state_path=tmp_path / "venue.db",
            manual_clock=True,
            specs={**DEFAULT_CONTRACTS, CL: CL_SPEC},
            start_prices={**START_PRICES, CL: 6000},
        )
    )
    yield thread
    thread.stop()


@pytest.fixture
def client(venue: PaperServerThread) -> Iterator[RawFixClient]:
    raw = RawFixClient(venue.port, "BASTION.ENGINE")
    answer = raw.logon()
    assert answer is not None
    assert text(answer, 35) == "A"
    yield raw
    raw.close()


def _order(coid: str | bytes, *extra: tuple[int, str | bytes], symbol: str = "ES") -> list:  # type: ignore[type-arg]
    fields = {11: coid, 1: "acct", 55: symbol, 200: "202606", 54: "1", 38: "1", 40: "2", 59: "0"}
    fields[60] = "20260302-14:30:00.000000"
    fields[44] = "3999.75" if symbol == "ES" else "60.00"
    fields.update(dict(extra))
    return [(t, v) for t, v in fields.items() if v is not None]


def _answer(client: RawFixClient, msg_type: str, pairs: list) -> Message:  # type: ignore[type-arg]
    client.send(msg_type, pairs)
    got = client.read_type("3", "j", "8")
    assert got, "no answer"
    return got[-1]


def _no_gap(client: RawFixClient, venue: PaperServerThread) -> None:
    """The next message is handled at once: the venue asks for no resend."""
    client.send("1", [(112, "next")])
    got = client.read_until(lambda m: text(m, 112) == "next")
    assert [text(m, 35) for m in got] == ["0"]
    assert venue.server.internal_errors == 0


def _in_book(venue: PaperServerThread, coid: str) -> bool:
    sim = venue.server.venue.sim
    return coid in sim.orders or coid in sim.status


@pytest.mark.parametrize("price", ["-4000", "0", "-0.25"])
def test_venue_non_positive_price_is_refused_naming_the_tag(
    venue: PaperServerThread, client: RawFixClient, price: str
) -> None:
    reply = _answer(client, "D", _order("NEG-1", (44, price)))
    assert text(reply, 35) == "3"
    assert text(reply, 371) == "44"
    assert "positive" in (text(reply, 58) or "")
    assert not _in_book(venue, "NEG-1")
    _no_gap(client, venue)


def test_venue_negative_price_allowed_by_the_spec_reaches_the_book(
    venue: PaperServerThread, client: RawFixClient
) -> None:
    reply = _answer(client, "D", _order("CL-NEG", (44, "-37.63"), symbol="CL"))
    assert text(reply, 35) == "8"
    assert _in_book(venue, "CL-NEG")


@pytest.mark.parametrize("offset", ["Z", "", "OPEN", "o"])
def test_venue_unknown_offset_is_refused_naming_20077(
    venue: PaperServerThread, client: RawFixClient, offset: str
) -> None:
    reply = _answer(client, "D", _order("OFF-1", (20077, offset)))
    assert text(reply, 35) == "3"
    assert text(reply, 371) == "20077"
    assert not _in_book(venue, "OFF-1")
    _no_gap(client, venue)


def test_venue_known_offset_is_accepted(venue: PaperServerThread, client: RawFixClient) -> None:
    reply = _answer(client, "D", _order("OFF-T", (20077, "T")))
    assert text(reply, 35) == "8"
    assert _in_book(venue, "OFF-T")


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (38, "Infinity"),
        (38, "1e30"),
        (38, "-1"),
        (38, "1.5"),
        (38, "abc"),
        (44, "NaN"),
        (44, "1e999999"),
        (44, "3999.80"),
        (44, b"\xff"),
        (126, "tomorrow"),
    ],
)
def test_venue_bad_numbers_are_refused_naming_the_tag(
    venue: PaperServerThread, client: RawFixClient, tag: int, value: str | bytes
) -> None:
    reply = _answer(client, "D", _order("BAD-1", (tag, value)))
    assert text(reply, 35) == "3"
    assert text(reply, 371) == str(tag)
    assert not _in_book(venue, "BAD-1")
    _no_gap(client, venue)


@pytest.mark.parametrize(
    ("msg_type", "pairs"),
    [
        ("D", _order(b"")),
        ("D", [p for p in _order("x") if p[0] != 11]),
        ("F", [(11, ""), (41, "C1"), (55, "ES"), (200, "202606"), (54, "1")]),
        ("F", [(11, "C1~X"), (41, ""), (55, "ES"), (200, "202606"), (54, "1")]),
        ("G", [(41, "C1"), *_order("")]),
    ],
)
def test_venue_empty_order_id_is_a_business_reject_that_uses_its_number(
    venue: PaperServerThread,
    client: RawFixClient,
    msg_type: str,
    pairs: list,  # type: ignore[type-arg]
) -> None:
    sent_as = client.next_out
    reply = _answer(client, msg_type, pairs)
    assert text(reply, 35) == "j"
    assert text(reply, 45) == str(sent_as)
    assert text(reply, 372) == msg_type
    assert text(reply, 380) == "5"
    _no_gap(client, venue)
    with contextlib.closing(sqlite3.connect(venue.server.config.state_path)) as db:
        assert db.execute("SELECT count(*) FROM inputs").fetchone() == (0,)


@pytest.mark.parametrize(("tag", "length"), [(11, 65), (1, 65), (58, 257), (200, 300)])
def test_venue_overlong_fields_are_refused_so_no_answer_outgrows_a_message(
    venue: PaperServerThread, client: RawFixClient, tag: int, length: int
) -> None:
    """Found by the fuzzer: a 36 KB ClOrdID echoed twice made a report over the size
    cap, which the engine could never read (a resend brought it back garbled)."""
    reply = _answer(client, "D", _order("LONG-1", (tag, "y" * length)))
    assert text(reply, 35) == "3"
    assert text(reply, 371) == str(tag)
    assert not _in_book(venue, "LONG-1")
    _no_gap(client, venue)
