"""Invariant (issue 15, loss limits in the base currency): when the engine's equity mark
cannot be valued in the account's base currency (the venue account's currency, or a
currency with P&L in it, has no usable rate), loss limits and margin are never silently
skipped: the engine alerts (once when it starts, and once each trading day it lasts),
the account opens nothing while reducing orders still trade, and openings come back by
themselves, journaled, once equity is valued again. On the kernel's engine with a
simulated clock, against a sim venue whose account is kept in CNY."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from bastion.backtest.build import BACKTEST_RISK
from bastion.clock import SimClock
from bastion.domain.fx import FxRate, FxTable
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.records import BrokerOrderCreated, Note
from bastion.engine.engine import Engine
from bastion.engine.kernel import EngineConfig, build_engine
from bastion.marketdata.specs import SpecRegistry
from bastion.ops.paper import targets_for
from bastion.orders.rolls import FixedSchedule
from bastion.risk.checks import Check
from bastion.store import SqliteStore, StoreMode
from bastion.testing.venue_stubs import quote
from bastion.venues.sim import SimVenue, SimVenueConfig

SP500 = InstrumentId("SP500")
SP_SPEC = SpecRegistry.bundled()[SP500].contract
SP_H = ContractId("SP500/202406")
MONDAY = dt.datetime(2024, 3, 4, 20, tzinfo=dt.UTC)  # 14:00 in Chicago
WEDNESDAY = dt.datetime(2024, 3, 6, 20, tzinfo=dt.UTC)
THURSDAY = dt.datetime(2024, 3, 7, 20, tzinfo=dt.UTC)
BLIND = "account equity cannot be valued in USD"


def _engine(tmp_path: Path, rates: dict[str, FxRate]) -> tuple[Engine, SimVenue, SimClock]:
    clock = SimClock(MONDAY)
    account = SimVenueConfig(
        currency="CNY", initial_cash=Decimal(10**9), rates={"USD": Decimal("7.2")}
    )
    sim = SimVenue({SP_H: SP_SPEC}, clock, account)
    sim.connect()
    config = EngineConfig(
        risk=BACKTEST_RISK,
        specs={SP500: SP_SPEC},
        schedule=FixedSchedule(contracts={SP500: SP_H}),
        store_path=tmp_path / "sim" / "journal.db",
        durability=StoreMode.LIVE,
        risk_level=("base", "test"),
        account_every=dt.timedelta(0),
        # A dated rate (a rates file) that goes stale after one calendar day.
        fx=FxTable("USD", rates, max_age_days=1, where="test rates"),
    )
    return build_engine(config, sim, clock), sim, clock


def _at(engine: Engine, sim: SimVenue, clock: SimClock, when: dt.datetime, lots: int) -> None:
    """A few passes at ``when`` with a fresh quote, trading toward ``lots`` of SP500."""
    clock.advance_to(when)
    for _ in range(4):
        clock.advance(dt.timedelta(seconds=1))
        sim.on_quote(quote(20000, 20001, at=clock.now(), contract_id=SP_H))
        engine.iterate(targets_for("s", {"SP500": lots}, when))


def _notes(store: SqliteStore, kind: str, text: str) -> list[str]:
    records = (e.record for e in store.entries())
    return [r.text for r in records if isinstance(r, Note) and r.kind == kind and text in r.text]


def _orders(store: SqliteStore) -> int:
    return sum(1 for e in store.entries() if isinstance(e.record, BrokerOrderCreated))


def test_equity_unvalued_stale_rate_alerts_and_halts_openings_until_valued(
    tmp_path: Path,
) -> None:
    rates = {"CNY": FxRate("CNY", Decimal("0.1385"), dt.date(2024, 3, 4), "test")}
    engine, sim, clock = _engine(tmp_path, rates)
    position = engine.oms.book.positions
    _at(engine, sim, clock, MONDAY, 2)
    assert position.contract_position(SP_H) == 2
    assert engine.risk.equity is not None
    assert not _notes(engine.store, "alert", BLIND)

    # Wednesday: Monday's CNY rate is two days old, over the limit of one. Equity in
    # USD cannot be valued: the engine says so and nothing new opens.
    sent = _orders(engine.store)
    _at(engine, sim, clock, WEDNESDAY, 4)
    alerts = _notes(engine.store, "alert", BLIND)
    assert len(alerts) == 1, alerts
    assert "no fresh rate from CNY to USD" in alerts[0]
    assert "loss limits" in alerts[0]
    assert position.contract_position(SP_H) == 2
    assert engine.risk.denials[Check.EQUITY] >= 1
    assert engine.risk.equity is None, "margin checks must not use the last known equity"
    assert _orders(engine.store) == sent, "an opening order reached the venue"

    # Reducing still trades; the same day alerts once.
    _at(engine, sim, clock, WEDNESDAY + dt.timedelta(minutes=30), 1)
    assert position.contract_position(SP_H) == 1
    assert len(_notes(engine.store, "alert", BLIND)) == 1

    # Still blind the next trading day: one more alert, that day.
    _at(engine, sim, clock, THURSDAY, 3)
    again = _notes(engine.store, "alert", BLIND)
    assert len(again) == 2, again
    assert "(still)" in again[1]
    assert position.contract_position(SP_H) == 1

    # A fresh rate: equity is valued again, journaled, and openings resume by themselves.
    rates["CNY"] = FxRate("CNY", Decimal("0.1390"), dt.date(2024, 3, 7), "test")
    _at(engine, sim, clock, THURSDAY + dt.timedelta(minutes=30), 3)
    valued = _notes(engine.store, "risk.equity", "valued again")
    assert len(valued) == 1
    assert "no fresh rate from CNY to USD" in valued[0]
    assert engine.risk.equity_unknown is None
    assert position.contract_position(SP_H) == 3
    engine.close()


def test_equity_unvalued_day_close_skipped_loss_limit_checked_when_valued(
    tmp_path: Path,
) -> None:
    """A loss made while equity could not be valued is not lost: the first valued mark
    goes to the loss limits (here the drawdown from the peak trips at once)."""
    rates = {"CNY": FxRate("CNY", Decimal("0.1385"), dt.date(2024, 3, 4), "test")}
    engine, sim, clock = _engine(tmp_path, rates)
    _at(engine, sim, clock, MONDAY, 2)
    _at(engine, sim, clock, WEDNESDAY, 2)
    assert _notes(engine.store, "alert", BLIND)
    engine.risk.limit_book.set("max_drawdown", "1000", "test: tighten", clock.now())
    # The rate is refreshed at a much weaker CNY: the same CNY equity is worth far less.
    rates["CNY"] = FxRate("CNY", Decimal("0.1000"), dt.date(2024, 3, 6), "test")
    _at(engine, sim, clock, WEDNESDAY + dt.timedelta(minutes=30), 2)
    breached = _notes(engine.store, "risk.loss", "breached")
    assert breached, "the loss made while blind was never checked"
    engine.close()
