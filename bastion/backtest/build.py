"""Wiring: build the deterministic core for a backtest from its parts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from bastion.backtest.pnl import PnlBook
from bastion.backtest.runner import BarMarket, Engine
from bastion.clock import Clock, SimClock
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.market import MarketView
from bastion.oms import OrderManager
from bastion.oms.ledger import Ledger
from bastion.orders.rolls import ContractSchedule
from bastion.orders.stack import StackHandler
from bastion.risk.port import PassThroughRisk, RiskGate
from bastion.store import SqliteStore, StoreMode
from bastion.strategy.examples import BarStrategy
from bastion.venues.port import VenuePort
from bastion.venues.sim import SimVenue, SimVenueConfig, SlippageConfig, SlippageKind

__all__ = ["RiskFactory", "build_engine", "frictionless_venue_config"]

RiskFactory = Callable[[OrderManager, MarketView, Clock, VenuePort], RiskGate]
"""Builds the risk gate from the parts ``build_engine`` makes (book, market, clock, venue)."""


def frictionless_venue_config(commission: Decimal, slippage_ticks: int = 0) -> SimVenueConfig:
    """Market orders fill at the next bar's open (plus ``slippage_ticks``), no volume cap,
    no latency; ``commission`` per contract per side."""
    slippage = (
        SlippageConfig(kind=SlippageKind.FIXED_TICKS, ticks=slippage_ticks)
        if slippage_ticks
        else SlippageConfig()
    )
    return SimVenueConfig(
        commission_per_contract=commission,
        participation_rate=1.0,
        slippage=slippage,
        initial_cash=Decimal(10**12),
        provisional_ids=False,
    )


def build_engine(
    *,
    specs: Mapping[InstrumentId, ContractSpec],
    contracts: Sequence[tuple[InstrumentId, ContractId]],
    schedule: ContractSchedule,
    strategies: Sequence[BarStrategy],
    start: dt.datetime,
    journal: Path | None,
    venue_config: SimVenueConfig,
    risk: RiskGate | None = None,
    risk_factory: RiskFactory | None = None,
    algo: str = "market",
    clock: Clock | None = None,
) -> tuple[Engine, Ledger]:
    """``clock`` defaults to a ``SimClock`` at ``start`` (a backtest); the live runner
    passes a wall or replay clock, which every part then shares."""
    clock = clock if clock is not None else SimClock(start)
    ledger: Ledger = (
        SqliteStore(journal, mode=StoreMode.BACKTEST, clock=clock) if journal else _memory()
    )
    venue = SimVenue({cid: specs[iid] for iid, cid in contracts}, clock, venue_config)
    venue.connect()
    market = BarMarket()
    oms = OrderManager(ledger)
    if risk is None:
        risk = risk_factory(oms, market, clock, venue) if risk_factory else PassThroughRisk()
    stack = StackHandler(
        oms=oms,
        venue=venue,
        risk=risk,
        schedule=schedule,
        market=market,
        clock=clock,
        specs=specs,
        default_algo=algo,
    )
    engine = Engine(
        stack=stack,
        venue=venue,
        clock=clock,
        market=market,
        pnl=PnlBook(specs),
        strategies=strategies,
    )
    return engine, ledger


def _memory() -> Ledger:
    from bastion.oms.ledger import MemoryLedger

    return MemoryLedger()
