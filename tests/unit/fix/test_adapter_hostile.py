"""The FIX adapter facing a hostile venue: nothing crashes its I/O thread, nothing vanishes.

Invariants: an ExecutionReport with an unknown or missing ExecType, garbled fields
(``32=abc``, ``31=Infinity``, bytes that are not text), an acknowledgement without an
OrderID, or a fill in an unknown contract becomes a VenueAnomaly event (counted, with
the ids that could be read) that the OMS journals as an anomaly note and applies to no
order; a BusinessMessageReject or session Reject of one of our orders becomes an
anomaly naming that order; informational ExecTypes (pending new) are no event; garbled
market data is counted; over a real socket, a venue sending all of this leaves the
adapter connected on its first logon, and the next good report still arrives.
"""

from __future__ import annotations

import datetime as dt
import queue
import selectors
import socket
import threading
from collections.abc import Iterator

import pytest

from bastion.domain.records import Note
from bastion.domain.venue_events import FillReport, VenueAnomaly, VenueEvent
from bastion.oms.manager import ApplyOutcome, OrderManager
from bastion.testing.fix_wire import raw_message
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue
from bastion.venues.fix.session import FixSession, MemorySeqStore
from bastion.venues.fix.wire import decode
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS

T0 = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)
Pairs = list[tuple[int, str | int | bytes]]


def _report(**override: str | bytes | None) -> Pairs:
    fields: dict[int, str | bytes | None] = {
        37: "V1",
        11: "C1-1.1",
        17: "E1",
        150: "F",
        39: "2",
        55: "ES",
        200: "202606",
        54: "1",
        38: "1",
        14: "1",
        151: "0",
        6: "0",
        32: "1",
        31: "4000.25",
        60: "20260302-14:30:00.000000",
    }
    for tag, value in override.items():
        fields[int(tag.lstrip("t"))] = value
    return [(t, v) for t, v in fields.items() if v is not None]


def _apply(venue: FixVenue, msg_type: str, pairs: Pairs) -> list[VenueEvent]:
    raw = raw_message(msg_type, pairs, seq=5, sender="PAPER", target="BASTION", now=T0)
    venue._on_app(decode(raw))
    return venue.poll_events()


@pytest.mark.parametrize(
    ("override", "kind"),
    [
        ({"t150": "Z"}, "unknown_exec_type"),
        ({"t150": "H"}, "unreadable_report"),  # a trade bust naming no ExecRefID (19)
        ({"t150": "G", "t19": "E0", "t32": "abc"}, "unreadable_report"),
        ({"t150": None}, "unknown_exec_type"),
        ({"t32": "abc"}, "unreadable_report"),
        ({"t32": "Infinity"}, "unreadable_report"),
        ({"t31": "Infinity"}, "unreadable_report"),
        ({"t31": "4000.30"}, "unreadable_report"),
        ({"t32": "0"}, "unreadable_report"),
        ({"t17": None}, "unreadable_report"),
        ({"t11": b"\xff\xfe"}, "unreadable_report"),
        ({"t60": "yesterday"}, "unreadable_report"),
        ({"t150": "0", "t37": None}, "unreadable_report"),
        ({"t55": "ZZ"}, "unknown_contract"),
    ],
)
def test_adapter_unplaceable_report_is_an_anomaly_event(
    override: dict[str, str | bytes | None], kind: str
) -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    (event,) = _apply(venue, "8", _report(**override))
    assert isinstance(event, VenueAnomaly)
    assert event.kind == kind
    assert event.exec_id == ("E1" if "t17" not in override else None)
    assert venue.anomalies == 1
    assert venue.unreadable_reports == 1


def test_adapter_anomaly_is_journaled_by_the_oms_and_changes_no_order() -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    (event,) = _apply(venue, "8", _report(t150="Z"))
    oms = OrderManager()
    result = oms.apply(event)
    assert result.outcome is ApplyOutcome.ANOMALY
    assert result.order is None
    (note,) = oms.ledger.records  # type: ignore[attr-defined]
    assert isinstance(note, Note)
    assert note.kind == "anomaly"
    assert note.data["kind"] == "unknown_exec_type"
    assert note.data["client_order_id"] == "C1-1.1"
    assert oms.book.positions.contract == {}


def test_adapter_pending_new_is_no_event() -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    assert _apply(venue, "8", _report(t150="A", t39="A")) == []
    assert venue.anomalies == 0


def test_adapter_report_for_unknown_order_is_an_ordinary_event() -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    (event,) = _apply(venue, "8", _report(t11="NOT-OURS"))
    assert isinstance(event, FillReport)
    assert OrderManager().apply(event).outcome is ApplyOutcome.FOREIGN


@pytest.mark.parametrize(("msg_type", "kind"), [("j", "business_reject"), ("3", None)])
def test_adapter_refusal_of_our_order_is_an_anomaly_naming_it(
    msg_type: str, kind: str | None
) -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    venue._sent_order_ids[7] = "C1-1.1"
    pairs: Pairs = [(45, 7), (372, "D"), (380, 5), (58, "ClOrdID (11) is missing or empty")]
    if msg_type == "3":
        venue._on_session_reject(
            decode(raw_message("3", pairs, seq=5, sender="PAPER", target="BASTION", now=T0))
        )
        events = venue.poll_events()
    else:
        events = _apply(venue, "j", pairs)
    (event,) = events
    assert isinstance(event, VenueAnomaly)
    assert event.kind == (kind or "session_reject")
    assert event.client_order_id == "C1-1.1"
    assert "missing or empty" in event.message


def test_adapter_garbled_market_data_is_counted() -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    pairs: Pairs = [(262, "md"), (55, "ES"), (200, "202606"), (268, 2), (269, "0"), (270, "abc")]
    pairs += [(271, 1), (269, "1"), (270, "4000.25"), (271, 1), (60, "20260302-14:30:00")]
    assert _apply(venue, "W", pairs) == []
    assert venue.unreadable_quotes == 1


class _HostileVenue:
    """A FIX acceptor on loopback whose application messages the test writes by hand."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.session = FixSession(
            "PAPER", "BASTION", MemorySeqStore(), heartbeat=30, initiator=False
        )
        self._inject: queue.Queue[tuple[list[tuple[str, Pairs]], threading.Event]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def send(self, messages: list[tuple[str, Pairs]]) -> None:
        """Write ``messages`` with the session's next numbers; returns once written."""
        done = threading.Event()
        self._inject.put((messages, done))
        assert done.wait(10)

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        conn.setblocking(False)  # noqa: FBT003 - the socket API
        selector = selectors.DefaultSelector()
        selector.register(conn, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                if selector.select(timeout=0.02):
                    try:
                        data = conn.recv(65536)
                    except OSError:  # the adapter reset the connection as it left
                        return
                    if not data:
                        return
                    self.session.receive(data, dt.datetime.now(dt.UTC))
                while not self._inject.empty():
                    messages, done = self._inject.get()
                    for msg_type, pairs in messages:
                        seq = self.session.next_out
                        self.session.next_out += 1
                        now = dt.datetime.now(dt.UTC)
                        raw = raw_message(
                            msg_type, pairs, seq=seq, sender="PAPER", target="BASTION", now=now
                        )
                        self.session.outbox.append(raw)
                    conn.setblocking(True)  # noqa: FBT003
                    conn.sendall(self.session.take_outbox())
                    conn.setblocking(False)  # noqa: FBT003
                    done.set()
                if self.session.outbox:
                    conn.setblocking(True)  # noqa: FBT003
                    conn.sendall(self.session.take_outbox())
                    conn.setblocking(False)  # noqa: FBT003
        finally:
            selector.close()
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.listener.close()


@pytest.fixture
def hostile() -> Iterator[_HostileVenue]:
    venue = _HostileVenue()
    yield venue
    venue.close()


def test_adapter_io_thread_survives_a_hostile_venue(hostile: _HostileVenue) -> None:
    fix = FixVenue(
        FixConfig(port=hostile.port, heartbeat_seconds=30, connect_timeout=10),
        dict(DEFAULT_CONTRACTS),
    )
    assert fix.connect()
    try:
        md: Pairs = [(262, "md"), (55, "ES"), (200, "202606"), (268, 1), (269, "0")]
        md += [(270, "Infinity"), (271, "x"), (60, "20260302-14:30:00")]
        hostile.send(
            [
                ("W", md),
                ("W", [(262, b"\xff"), (55, "ES")]),  # refused by the session: counted
                ("8", _report(t11=b"\xff")),
                ("8", _report(t150="Q")),
                ("AP", [(710, "Q1"), (727, "abc"), (703, "TQ"), (704, "Infinity")]),
                ("AO", [(710, "nobody"), (727, "1" * 40)]),
                ("1", [(112, b"\xff")]),
                ("2", [(7, "abc"), (16, 0)]),
                ("8", _report(t11="NOT-OURS", t17="E9")),
            ]
        )
        assert fix.sync(10)
        events = fix.poll_events()
        kinds = [e.kind if isinstance(e, VenueAnomaly) else type(e).__name__ for e in events]
        assert kinds == ["unreadable_report", "unknown_exec_type", "FillReport"]
        assert fix.is_connected
        assert fix.connection_epoch == 1  # never dropped and logged on again
        assert fix.unreadable_quotes == 1
        assert fix.unreadable_reports == 3  # the refused W, the refused report, Q
    finally:
        fix.disconnect()


def _msg(msg_type: str, pairs: Pairs):  # type: ignore[no-untyped-def]
    return decode(raw_message(msg_type, pairs, seq=5, sender="PAPER", target="BASTION", now=T0))


def test_adapter_unreadable_query_answers_are_unknown_never_partial() -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    position = _msg("AP", [(710, "Q1"), (55, "ES"), (200, "202606"), (703, "TQ"), (704, "inf")])
    snap = venue._read_answer("positions", lambda: venue._positions([position]))
    assert snap.value is None
    assert "could not be read" in snap.reason
    account = _msg("BA", [(909, "Q2"), (15, "USD"), (900, "lots")])
    from bastion.venues.fix.parsing import account_from_report

    assert venue._read_answer("account", lambda: account_from_report(account)).value is None
    ack = _msg("AQ", [(568, "Q3"), (749, 0), (748, 1), (20021, "1")])
    foreign = _msg("AE", [(568, "Q3"), (17, "E1"), (55, "ZZ"), (200, "209912"), (32, 1)])
    page = venue._read_answer("trade capture", lambda: venue._fills(ack, [foreign]))
    assert page.value is None  # a page with a fill left out would hide it from reconciliation
    assert venue.unreadable_reports == 3


def test_adapter_garbled_counts_in_query_answers_do_not_raise() -> None:
    from bastion.venues.fix.execution import _Pending

    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    pending = _Pending()
    venue._pending["Q1"] = pending
    venue._on_app(_msg("AO", [(710, "Q1"), (727, "9" * 40), (728, 0)]))
    assert pending.done.is_set()  # answered (with nothing usable), not stuck or crashed
    assert venue.anomalies == 0


def test_adapter_refuses_a_non_positive_price_before_sending() -> None:
    """The engine never puts a price the venue must refuse on the wire."""
    from bastion.domain.enums import OrderType, Side
    from bastion.domain.reasons import Reason
    from bastion.domain.venue_events import Rejected
    from bastion.testing.venue_stubs import make_order

    es = next(iter(DEFAULT_CONTRACTS))
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=-16000, contract_id=es)
    result = venue.submit(order)
    assert not result.taken
    assert result.reason is Reason.INVALID_ORDER
    assert "must be positive" in result.message
    (event,) = venue.poll_events()
    assert isinstance(event, Rejected)
