"""Invariant: round trips partition a contract's fills from flat to flat; a fill that
crosses zero closes one trip and opens the next, its commission split by lots; the
trips' P&L adds up to the ledger's; time in market is the share of the span with a
position open."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bastion.domain.enums import Side
from bastion.domain.ids import ContractId, InstrumentId
from bastion.reports.ledger import Ledger
from bastion.reports.trades import instrument_rows, round_trips, time_in_market
from tests.unit.reports.test_ledger import SPECS, T0, fact


def test_round_trips_flip_splits_commission_and_opens_next() -> None:
    facts = [
        fact("SP500/202406", Side.BUY, 2, 100, n=0, commission="4"),
        fact("SP500/202406", Side.SELL, 5, 104, n=10, commission="10"),
        fact("SP500/202406", Side.BUY, 3, 102, n=20, commission="6"),
    ]
    first, second = round_trips(facts, SPECS)
    assert (first.direction, first.lots, first.closed) == ("long", 2, T0 + dt.timedelta(minutes=10))
    assert first.commissions == Decimal(8)  # 4 to open, 2 lots' share (4) of the 10
    assert first.gross == Decimal("100.00")  # 2 lots x 4 ticks x 12.50
    assert (second.direction, second.lots) == ("short", 3)
    assert second.commissions == Decimal(12)  # 3 lots' share (6) of the 10, then 6
    assert second.entry_ticks == 104
    assert second.exit_ticks == 102
    ledger = Ledger(SPECS)
    for f in facts:
        ledger.apply(f)
    (usd,) = ledger.summary({}, base="USD", capital=Decimal(1)).currencies
    assert first.net + second.net == usd.net


def test_round_trips_open_trip_marked() -> None:
    (trip,) = round_trips(
        [fact("rb/202410", Side.SELL, 1, 3_900)], SPECS, {ContractId("rb/202410"): 3_880}
    )
    assert trip.closed is None
    assert trip.gross == Decimal("200.00")
    (row,) = instrument_rows([trip])
    assert (row.instrument, row.trips, row.closed_trips, row.win_rate) == ("rb", 1, 0, None)


def test_time_in_market_share_of_span_with_position() -> None:
    facts = [
        fact("SP500/202406", Side.BUY, 1, 100, n=15),
        fact("SP500/202406", Side.SELL, 1, 101, n=45),
        fact("rb/202410", Side.BUY, 1, 100, n=30),
    ]
    shares = time_in_market(facts, (T0, T0 + dt.timedelta(minutes=60)))
    assert shares == {InstrumentId("SP500"): 0.5, InstrumentId("rb"): 0.5}
