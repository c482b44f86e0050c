"""Who may log on to the paper venue, and a live session is never hijacked.

Invariants: a Logon from a CompID the venue is not configured for, to another
TargetCompID, or with wrong credentials is answered with a Logout giving the reason and
the connection is closed; a Logon for a CompID whose session is live on another
connection is refused the same way and the live session carries on untouched (its next
message in sequence is handled); once that connection is gone, the CompID logs on
again; the FIX adapter refused at logon reports the venue's reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.secrets import Secret
from bastion.testing.fix_wire import RawFixClient
from bastion.testing.paper_server import PaperServerThread
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue
from bastion.venues.fix.wire import text
from bastion.venues.paper.access import AllowedClient
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from bastion.venues.paper.server import ServerConfig


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperServerThread]:
    thread = PaperServerThread(
        ServerConfig(
            state_path=tmp_path / "venue.db",
            manual_clock=True,
            clients=(AllowedClient("BASTION"), AllowedClient("DESK", "trader", Secret("pw-1"))),
        )
    )
    yield thread
    thread.stop()


def _refused(venue: PaperServerThread, sender: str, **kw: object) -> str:
    client = RawFixClient(venue.port, sender, **kw)  # type: ignore[arg-type]
    try:
        answer = client.logon()
        assert answer is not None
        assert text(answer, 35) == "5"
        assert client.wait_closed()
        return text(answer, 58) or ""
    finally:
        client.close()


def test_server_unknown_comp_id_is_refused_with_logout(venue: PaperServerThread) -> None:
    assert "not allowed" in _refused(venue, "EVIL")
    assert "not allowed" in _refused(venue, "BASTION.EVIL")
    assert "EVIL" not in venue.server.sessions
    assert venue.server.refused_logons == 2


def test_server_wrong_target_comp_id_is_refused(venue: PaperServerThread) -> None:
    assert "not this venue" in _refused(venue, "BASTION.ENGINE", target="OTHER")


def test_server_credentials_are_checked(venue: PaperServerThread) -> None:
    client = RawFixClient(venue.port, "DESK.ENGINE")
    try:
        answer = client.logon([(553, "trader"), (554, "wrong")])
        assert answer is not None
        assert text(answer, 35) == "5"
        assert "wrong" not in (text(answer, 58) or "")
    finally:
        client.close()
    good = RawFixClient(venue.port, "DESK.ENGINE", next_out=2)
    try:
        answer = good.logon([(553, "trader"), (554, "pw-1")])
        assert answer is not None
        assert text(answer, 35) == "A"
    finally:
        good.close()


def test_server_second_logon_for_live_comp_id_is_refused_and_live_session_untouched(
    venue: PaperServerThread,
) -> None:
    live = RawFixClient(venue.port, "BASTION.ENGINE")
    try:
        answer = live.logon()
        assert answer is not None
        assert text(answer, 35) == "A"
        reason = _refused(venue, "BASTION.ENGINE", next_out=2)
        assert "already has a live session" in reason
        live.send("1", [(112, "still-mine")])
        seen = live.read_until(lambda m: text(m, 112) == "still-mine")
        assert [text(m, 35) for m in seen] == ["0"]  # no resend request: numbers untouched
        assert not live.closed
    finally:
        live.close()
    again = RawFixClient(venue.port, "BASTION.ENGINE", next_out=3)
    try:
        answer = again.logon()  # the old connection is gone: this one may log on
        assert answer is not None
        assert text(answer, 35) == "A"
    finally:
        again.close()


def test_adapter_refused_at_logon_reports_the_venues_reason(venue: PaperServerThread) -> None:
    fix = FixVenue(
        FixConfig(
            port=venue.port, sender_comp_id="INTRUDER", reconnect_initial=0.05, connect_timeout=1
        ),
        dict(DEFAULT_CONTRACTS),
    )
    try:
        assert not fix.connect()  # the connect timeout passes: no logon ever succeeds
        assert "not allowed" in fix.last_disconnect_reason
    finally:
        fix.disconnect()
