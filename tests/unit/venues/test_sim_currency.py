"""Invariant (issue 15): the sim venue's account is in its own currency: a contract in
another currency is valued (P&L, commission, margin) at the configured rate, and a
contract whose currency has no rate is refused on arrival, never valued one for one;
the engine's equity mark converts a venue's snapshot to the account's base currency, or
says why it cannot."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from bastion.domain.enums import Side
from bastion.domain.fx import FxTable
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import FillReport, Rejected
from bastion.engine.kernel import _venue_equity
from bastion.testing.venue_stubs import CONTRACT, make_order, make_sim_venue, quote, stub_spec
from bastion.venues.port import QueryView
from bastion.venues.sim.config import SimVenueConfig

CNY = {CONTRACT: dataclasses.replace(stub_spec(), currency="CNY")}


def test_sim_account_values_other_currency_at_rate() -> None:
    config = SimVenueConfig(
        currency="USD",
        initial_cash=Decimal(1_000_000),
        rates={"CNY": Decimal("0.5")},
        commission_per_contract=Decimal(2),
    )
    venue, clock = make_sim_venue(config, specs=CNY)
    venue.on_quote(quote(16000, 16001, at=clock.now()))
    venue.submit(make_order(Side.BUY, 2))
    assert [e for e in venue.poll_events() if isinstance(e, FillReport)]
    venue.on_quote(quote(16100, 16101, at=clock.now()))
    account = venue.account().value
    assert account is not None
    assert account.currency == "USD"
    # bought 2 at 16001, marked at the new mark; each tick is 12.50 CNY = 6.25 USD;
    # commission 2 x 2 CNY = 2 USD.
    mark = venue.market.quote(CONTRACT)
    assert mark is not None
    ticks = (mark.reference_ticks or 0) - 16001
    assert account.equity == Decimal(1_000_000) + 2 * ticks * Decimal("6.25") - 2
    assert account.commissions == Decimal(2)


def test_sim_venue_refuses_contract_without_rate() -> None:
    venue, clock = make_sim_venue(SimVenueConfig(currency="USD"), specs=CNY)
    venue.on_quote(quote(16000, 16001, at=clock.now()))
    venue.submit(make_order(Side.BUY, 1))
    (rejected,) = [e for e in venue.poll_events() if isinstance(e, Rejected)]
    assert rejected.reason is Reason.INVALID_ORDER
    assert "no rate from CNY to USD at the sim venue" in rejected.message


def test_engine_equity_mark_converts_venue_snapshot() -> None:
    venue, _ = make_sim_venue(SimVenueConfig(currency="CNY", initial_cash=Decimal(1000)))
    day = dt.date(2026, 3, 2)
    converted = _venue_equity(
        QueryView(venue), FxTable.fixed("USD", {"CNY": Decimal("0.5")}), lambda: day
    )()
    assert converted == (Decimal(500), Decimal(0))
    unvalued = _venue_equity(QueryView(venue), FxTable.identity("USD"), lambda: day)()
    assert isinstance(unvalued, str)
    assert "the venue account is in CNY: no rate from CNY to USD" in unvalued
