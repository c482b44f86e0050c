"""The paper venue bounds everything a connection can make it hold, and says no cleanly.

Invariants: a connection that does not log on within the logon timeout is closed; a
BodyLength followed by 64 MiB of digits before logon is not buffered (the venue closes
the connection long before) and other clients are served; a message over the size cap
gets a Reject and the session lives; connections over the cap are closed at once, the
venue keeps serving, and a client logs on once others have left; a SequenceReset to
NewSeqNo=1e20 is rejected naming tag 36 (no OverflowError in the state file) and the
CompID logs on again afterwards; ResendRequests with ``7=abc``, ``16=Infinity`` or
``\\xff`` bytes get a Reject naming the tag and the connection is kept.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.testing.fix_wire import RawFixClient
from bastion.testing.paper_server import PaperServerThread
from bastion.venues.fix.wire import text
from bastion.venues.paper.server import ServerConfig


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperServerThread]:
    thread = PaperServerThread(
        ServerConfig(
            state_path=tmp_path / "venue.db",
            manual_clock=True,
            max_connections=8,
            logon_timeout=0.3,
        )
    )
    yield thread
    thread.stop()


def _logged_on(venue: PaperServerThread, sender: str = "BASTION.ENGINE") -> RawFixClient:
    client = RawFixClient(venue.port, sender)
    answer = client.logon()
    assert answer is not None
    assert text(answer, 35) == "A"
    return client


def _round_trip(client: RawFixClient, test_id: str) -> bool:
    client.send("1", [(112, test_id)])
    got = client.read_until(lambda m: text(m, 112) == test_id)
    return bool(got) and text(got[-1], 112) == test_id


def test_server_connection_without_logon_is_closed_after_the_timeout(
    venue: PaperServerThread,
) -> None:
    idle = RawFixClient(venue.port, "BASTION.ENGINE")
    try:
        assert idle.wait_closed()
    finally:
        idle.close()


def test_server_flood_of_length_digits_before_logon_is_not_buffered(
    venue: PaperServerThread,
) -> None:
    sock = socket.create_connection(("127.0.0.1", venue.port), timeout=10)
    sent, refused = 0, False
    try:
        sock.sendall(b"8=FIX.4.4\x019=")
        chunk = b"9" * 65536
        for _ in range(1024):  # 64 MiB
            try:
                sock.sendall(chunk)
            except OSError:  # the venue closed the connection
                refused = True
                break
            sent += len(chunk)
    finally:
        sock.close()
    assert refused
    assert sent < 64 * 1024 * 1024
    client = _logged_on(venue)
    try:
        assert _round_trip(client, "after-flood")
    finally:
        client.close()


def test_server_message_over_the_size_cap_is_rejected_and_session_lives(
    venue: PaperServerThread,
) -> None:
    client = _logged_on(venue)
    try:
        client.send("D", [(11, "BIG"), (58, "x" * 70_000)])
        got = client.read_type("3")
        assert got
        assert "garbled" in (text(got[-1], 58) or "")
        client.next_out -= 1  # the oversized message was not consumed
        assert _round_trip(client, "after-big")
    finally:
        client.close()


def test_server_connections_over_the_cap_are_refused_and_venue_serves_on(
    venue: PaperServerThread,
) -> None:
    idle = [socket.create_connection(("127.0.0.1", venue.port), timeout=10) for _ in range(20)]
    try:
        closed = 0
        for sock in idle:
            sock.settimeout(0.05)
            try:
                closed += sock.recv(1) == b""
            except TimeoutError:
                pass
            except ConnectionError:
                closed += 1
        assert closed >= 12  # everything over the cap of 8 was closed at once
        assert venue.alive
    finally:
        for sock in idle:
            sock.close()
    client = _logged_on(venue)
    try:
        assert _round_trip(client, "after-cap")
        assert venue.server.refused_connections >= 12
    finally:
        client.close()


def test_server_reset_to_huge_new_seq_no_does_not_lock_the_comp_id_out(
    venue: PaperServerThread,
) -> None:
    client = _logged_on(venue)
    try:
        client.send("4", [(36, "100000000000000000000")])
        got = client.read_type("3")
        assert text(got[-1], 371) == "36"
        assert _round_trip(client, "after-reset")
        client.send("5", [])
        client.read_type("5")
    finally:
        client.close()
    again = RawFixClient(venue.port, "BASTION.ENGINE", next_out=client.next_out)
    try:
        answer = again.logon()
        assert answer is not None
        assert text(answer, 35) == "A"
        assert _round_trip(again, "logged-on-again")
    finally:
        again.close()


@pytest.mark.parametrize(
    ("pairs", "tag"),
    [
        ([(7, "abc"), (16, 0)], "7"),
        ([(7, 1), (16, "Infinity")], "16"),
        ([(7, 1), (16, 0), (38, "Infinity")], None),
        ([(7, b"\xff"), (16, 0)], "7"),
    ],
)
def test_server_malformed_resend_request_is_rejected_and_connection_kept(
    venue: PaperServerThread, pairs: list[tuple[int, str | int | bytes]], tag: str | None
) -> None:
    client = _logged_on(venue)
    try:
        client.send("2", pairs)
        if tag is not None:
            got = client.read_type("3")
            assert text(got[-1], 371) == tag
        assert _round_trip(client, "kept")
        assert venue.server.internal_errors == 0
    finally:
        client.close()
