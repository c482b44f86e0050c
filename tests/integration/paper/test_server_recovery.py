"""A client that reconnects with a gap is asked for it at once (found by the fuzzer).

Invariant: the venue keeps one FIX session per client across connections, but what
belonged to a dropped connection (a ResendRequest asked on it) does not carry over: a
client logging on again with a gap gets a ResendRequest right after its Logon answer,
and its next messages are handled once it fills the gap, not a heartbeat later.
"""

from __future__ import annotations

from pathlib import Path

from bastion.testing.fix_wire import RawFixClient
from bastion.testing.paper_server import PaperServerThread
from bastion.venues.fix.wire import text
from bastion.venues.paper.server import ServerConfig


def test_server_reconnect_with_a_gap_gets_a_resend_request_at_once(tmp_path: Path) -> None:
    venue = PaperServerThread(
        ServerConfig(state_path=tmp_path / "venue.db", manual_clock=True, heartbeat=30)
    )
    try:
        first = RawFixClient(venue.port, "BASTION.ENGINE")
        answer = first.logon()
        assert answer is not None
        assert text(answer, 35) == "A"
        first.send("0", [], seq=3)  # 2 never arrives
        asked = first.read_type("2")
        assert asked
        assert text(asked[-1], 7) == "2"
        first.close()  # gone before answering it

        again = RawFixClient(venue.port, "BASTION.ENGINE", next_out=4)
        try:
            answer = again.logon()
            assert answer is not None
            assert text(answer, 35) == "A"
            asked = again.read_type("2")
            assert asked, "no ResendRequest after the new logon"
            assert text(asked[-1], 7) == "2"
            again.send("4", [(123, "Y"), (36, 5)], seq=2, poss_dup=True)
            again.next_out = 5
            again.send("1", [(112, "caught-up")])
            got = again.read_until(lambda m: text(m, 112) == "caught-up")
            assert got
            assert text(got[-1], 112) == "caught-up"
        finally:
            again.close()
    finally:
        venue.stop()
