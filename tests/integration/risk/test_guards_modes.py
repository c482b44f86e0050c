"""Invariant (R6.7, R6.2, issue 15): the market guards act at their boundaries in every
mode, each with its own source of quotes: a backtest (bars), a sim session built from a
profile (bars), and a session against the paper venue process (FIX quotes). The spread
breaker passes a spread of exactly its limit, pauses one tick wider, and after that
holds new orders for ``spread_hold_seconds`` of normal spreads; the price-sanity band
is the tighter of its percent of the last price and the instrument's tick band."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bastion.backtest.build import build_engine
from bastion.backtest.runner import BarMarket
from bastion.backtest.session import load_bars, prepare_session
from bastion.clock import SimClock
from bastion.config import RiskConfig, parse_profile
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId
from bastion.domain.records import BrokerOrderCreated
from bastion.engine.engine import Engine
from bastion.marketdata.bars import BarStore
from bastion.marketdata.specs import SpecRegistry
from bastion.ops.paper import VenueSession
from bastion.orders.rolls import FixedSchedule
from bastion.risk.checks import Check
from bastion.risk.port import OrderPath, OrderRequest, RiskDecision
from bastion.testing.paper_process import PaperVenueProcess
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from bastion.venues.sim import SimVenueConfig
from tests.conftest import REPO
from tests.integration.sim_profiles import sim_profile

SP500 = InstrumentId("SP500")
JUNE = ContractId("SP500/202406")
GUARDS = {
    "max_spread_ticks": 10,
    "instrument_spread_ticks": {"SP500": 4},
    "spread_hold_seconds": 30,
    "price_tolerance_percent": "5",
    "instrument_tolerance_ticks": {"SP500": 40},
    "stale_data_seconds": 3600,
    "orders_per_second": 1000,
    "order_burst": 1000,
    "max_order_lots": 10,
    "max_notional": 10**9,
}
HOLD = dt.timedelta(seconds=30)
TICK = dt.timedelta(microseconds=1)


@dataclass
class Mode:
    """One mode's engine, and how a test sets its spread and moves its clock."""

    engine: Engine
    set_spread: Callable[[int], None]
    clock: SimClock
    n: int = 0

    def check(self, limit: int | None = None) -> RiskDecision:
        self.n += 1
        order = BrokerOrderCreated(
            timestamp=self.clock.now(),
            client_order_id=ClientOrderId(f"GUARD-{self.n}"),
            contract_id=JUNE,
            side=Side.BUY,
            quantity=1,
            order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
            limit_ticks=limit,
            venue=self.engine.gateway.venue_name,
        )
        return self.engine.risk.check(OrderRequest(order, OrderPath.AUTOMATIC, SP500))

    def reference(self) -> int:
        quote = self.engine.risk.market.quote(JUNE)
        assert quote is not None
        assert quote.reference_ticks is not None
        return quote.reference_ticks


def _boundaries(mode: Mode) -> None:
    mode.set_spread(4)  # SP500's own limit: 4 ticks (the global one is 10)
    assert mode.check().allowed, mode.check().message
    mode.set_spread(5)
    wide = mode.check()
    assert wide.check == Check.MARKET_GUARD, wide.message
    assert "spread is 5 ticks, wider than 4" in wide.message
    mode.set_spread(2)
    held = mode.check()  # the first normal look starts the hold
    assert "wait 30 s after a wide spread" in held.message
    mode.clock.advance(HOLD - TICK)
    assert mode.check().check == Check.MARKET_GUARD
    mode.clock.advance(TICK)
    assert mode.check().allowed
    # The price band: 5 % of the last price is over 1,000 ticks; SP500's 40 ticks apply.
    reference = mode.reference()
    assert mode.check(reference - 40).allowed
    far = mode.check(reference - 41)
    assert far.check == Check.PRICE_DISTANCE
    assert "at most 40 ticks allowed (the tick band)" in far.message


def test_guards_boundaries_backtest(tmp_path: Path, bundled_sample: Path) -> None:
    spec = SpecRegistry.bundled()["SP500"]
    bars = load_bars(
        BarStore(bundled_sample),
        spec,
        dt.datetime(2024, 4, 1, 14, tzinfo=dt.UTC),
        dt.datetime(2024, 4, 1, 15, tzinfo=dt.UTC),
    )
    bars = [b for b in bars if b.bar.contract_id == JUNE]
    runner = build_engine(
        specs={SP500: spec.contract},
        contracts=[(SP500, JUNE)],
        schedule=FixedSchedule(contracts={SP500: JUNE}),
        strategies=[],
        start=bars[0].bar.start,
        journal=None,
        venue_config=SimVenueConfig(),
        risk=RiskConfig.model_validate(GUARDS),
        capital=Decimal(10**7),
    )
    for item in bars[:5]:
        runner.on_bar(item)
    assert isinstance(runner.market, BarMarket)
    clock = runner.clock
    assert isinstance(clock, SimClock)
    _boundaries(Mode(runner.engine, runner.market.set_spread, clock))


def test_guards_boundaries_sim_session(tmp_path: Path, bundled_sample: Path) -> None:
    profile = sim_profile(tmp_path, bundled_sample, instruments=["SP500"], risk=GUARDS)
    prepared = prepare_session(profile, start=dt.date(2024, 4, 1), end=dt.date(2024, 4, 2))
    for item in prepared.bars[:30]:
        prepared.runner.on_bar(item)
    clock = prepared.runner.clock
    assert isinstance(clock, SimClock)
    assert prepared.runner.engine.risk.limits.instrument_spread_ticks == {"SP500": 4}
    _boundaries(Mode(prepared.runner.engine, prepared.runner.market.set_spread, clock))
    prepared.runner.close()


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(tmp_path / "venue.db", control=True, tick_seconds=3600)
    yield process
    process.stop()


def _wait(condition: Callable[[], bool], engine: Engine, what: str) -> None:
    """Run engine passes until ``condition`` (a venue answer arrives on its own thread)."""
    deadline = time.monotonic() + 20
    while not condition():
        engine.iterate(trade=False)
        if time.monotonic() > deadline:
            raise AssertionError(f"the paper venue never gave {what}")
        time.sleep(0.01)


def test_guards_boundaries_paper_venue_session(tmp_path: Path, venue: PaperVenueProcess) -> None:
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"]["port"] = venue.port
    raw["store"] = {"path": str(tmp_path / "paper" / "journal.db")}
    raw["records_dir"] = str(tmp_path / "paper" / "records")
    raw["risk"] = {**raw["risk"], **GUARDS}
    raw.pop("pool", None)
    profile = parse_profile(raw, "test")
    contracts = dict(DEFAULT_CONTRACTS)
    fix = fix_venue_for(profile, contracts, "engine")
    clock = SimClock(dt.datetime.now(dt.UTC))  # the engine's clock, moved by the test
    session = VenueSession(profile, fix, contracts, clock=clock, risk_level="base")
    engine = session.engine
    try:
        _wait(lambda: engine.ready, engine, "a clean recovery and reconciliation")
        mid = 21684

        def set_spread(ticks: int) -> None:
            bid = mid - ticks // 2
            assert fix.control("quote", contract=str(JUNE), bid=bid, ask=bid + ticks)
            _wait(
                lambda: (q := fix.market.quote(JUNE)) is not None and q.spread_ticks == ticks,
                engine,
                f"a quote {ticks} ticks wide",
            )

        set_spread(2)
        _wait(lambda: engine.risk.equity is not None, engine, "an account snapshot")
        _boundaries(Mode(engine, set_spread, clock))
    finally:
        session._log_stream.close()
        engine.close()
        fix.disconnect()
