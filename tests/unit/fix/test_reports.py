"""Reports the engine cannot place are surprises, never raised and never dropped.

Invariants: an ExecutionReport for a contract Bastion does not know becomes a
VenueAnomaly event (counted, with the report's ids) that the OMS records as an anomaly
without touching any order; a report for an unknown ClOrdID becomes an event that the
OMS classes as FOREIGN without changing any order; venue reject texts map to the
reason taxonomy.
"""

from __future__ import annotations

import datetime as dt

from bastion.domain.ids import UNATTRIBUTED
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import FillReport, VenueAnomaly
from bastion.oms.manager import ApplyOutcome, OrderManager, Surprise
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.errors import reason_for
from bastion.venues.fix.execution import FixVenue
from bastion.venues.fix.wire import decode, encode
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS

T0 = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)


def _fill_report(symbol: str, maturity: str, coid: str) -> object:
    fields = [
        (37, "V1"),
        (11, coid),
        (17, "E1"),
        (150, "F"),
        (39, "2"),
        (55, symbol),
        (200, maturity),
        (54, "1"),
        (38, 1),
        (14, 1),
        (151, 0),
        (6, 0),
        (32, 1),
        (31, "4000.25"),
        (60, "20260302-14:30:00.000000"),
    ]
    return decode(encode("8", fields, seq=5, sender="PAPER", target="BASTION", now=T0))


def test_report_unknown_contract_is_an_anomaly_event() -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    venue._on_app(_fill_report("ZZ", "209912", "C1-1.1"))  # type: ignore[arg-type]
    (event,) = venue.poll_events()
    assert isinstance(event, VenueAnomaly)
    assert event.kind == "unknown_contract"
    assert (event.client_order_id, event.exec_id) == ("C1-1.1", "E1")
    assert venue.unreadable_reports == 1
    oms = OrderManager()
    assert oms.apply(event).outcome is ApplyOutcome.ANOMALY
    assert oms.book.positions.contract == {}


def test_report_unknown_clordid_is_foreign_to_the_oms() -> None:
    venue = FixVenue(FixConfig(), dict(DEFAULT_CONTRACTS))
    venue._on_app(_fill_report("ES", "202606", "NOT-OURS"))  # type: ignore[arg-type]
    (event,) = venue.poll_events()
    assert isinstance(event, FillReport)
    assert event.fill.price_ticks == 16001
    surprises: list[Surprise] = []
    oms = OrderManager(on_surprise=surprises.append)
    assert oms.apply(event).outcome is ApplyOutcome.FOREIGN
    # The venue traded: the contract position follows it, held by the reserved
    # unattributed strategy, and the engine is told (it locks the instrument).
    assert oms.book.positions.contract == {("ES", "ES/202606"): 1}
    assert oms.book.positions.strategy == {(UNATTRIBUTED, "ES"): 1}
    assert [s.kind for s in surprises] == ["foreign_fill"]
    assert oms.apply(event).outcome is ApplyOutcome.DUPLICATE_FILL


def test_reject_reason_maps_codes_texts_and_unknowns() -> None:
    assert reason_for("99", "insufficient_margin: needs 20000") is Reason.INSUFFICIENT_MARGIN
    assert reason_for("2", "exchange closed") is Reason.MARKET_CLOSED
    assert reason_for("0", "Price exceeds the daily band") is Reason.PRICE_OUTSIDE_BAND
    assert reason_for("6", None) is Reason.DUPLICATE
    assert reason_for("99", "computer says no") is Reason.UNKNOWN
