"""A backtest's engine: the kernel's engine, a sim venue fed by bars, and the bar driver.

``build_engine`` is what backtests, the sim session, the benches and tests use to get a
``BarRunner``: the engine comes from ``bastion.engine.kernel`` (the real risk engine,
the locks, the one send path, every duty), on a simulated clock by default, with a
journal in backtest durability (batched) or in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import msgspec

from bastion.backtest.pnl import PnlBook
from bastion.backtest.runner import BarMarket, BarRunner
from bastion.clock import Clock, SimClock
from bastion.config import RiskConfig
from bastion.domain.contracts import ContractSpec
from bastion.domain.fx import FxTable
from bastion.domain.ids import ContractId, InstrumentId
from bastion.engine.kernel import EngineConfig
from bastion.engine.kernel import build_engine as build_kernel_engine
from bastion.orders.algos import AlgoChoice
from bastion.orders.rolls import CalendarSchedule, ContractSchedule
from bastion.risk.port import RiskGate
from bastion.store import StoreMode
from bastion.strategy.examples import BarStrategy
from bastion.venues.sim import SimVenue, SimVenueConfig, SlippageConfig, SlippageKind

__all__ = ["BACKTEST_RISK", "build_engine", "frictionless_venue_config"]

BACKTEST_RISK = RiskConfig(
    max_order_lots=1000,
    max_position_lots=1000,
    max_notional=Decimal(10**12),
    price_tolerance_percent=Decimal(100),
    stale_data_seconds=3600.0,
    expiry_guard_days=0,
)
"""Risk limits of a backtest with no profile: wide, so they decide nothing a strategy
test did not ask for; every check still runs (the cost is part of what is measured)."""


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
    risk: RiskConfig = BACKTEST_RISK,
    risk_level: tuple[str, str] = ("base", "backtest: built-in strategies"),
    wrap_gate: Callable[[RiskGate], RiskGate] | None = None,
    algo: str = "market",
    clock: Clock | None = None,
    capital: Decimal | None = None,
    position_limits: Mapping[InstrumentId, int] | None = None,
    fx: FxTable | None = None,
    adjustments: Mapping[ContractId, int] | None = None,
    algos: Mapping[InstrumentId, AlgoChoice] | None = None,
    account_instrument: InstrumentId | None = None,
) -> BarRunner:
    """``clock`` defaults to a ``SimClock`` at ``start`` (a backtest); the live runner
    passes a wall or replay clock, which every part then shares. ``capital`` (the
    equity the risk engine sees before any P&L) defaults to the venue's initial cash.
    ``fx``: rates to the base currency (default: every spec in the venue's currency,
    another currency has no rate and opens nothing). ``adjustments``: each contract's
    back-adjustment in ticks, for the strategies' signals (``BarRunner``)."""
    clock = clock if clock is not None else SimClock(start)
    if fx is None:
        currencies = {spec.currency for spec in specs.values()}
        only = next(iter(currencies)) if len(currencies) == 1 else venue_config.currency
        fx = FxTable.identity(only)
    if venue_config.currency != fx.base or (fx.rates and not venue_config.rates):
        # The sim venue's account is in the engine's base currency, at the same rates.
        venue_config = msgspec.structs.replace(
            venue_config,
            currency=fx.base,
            rates=venue_config.rates or {c: r.rate for c, r in fx.rates.items()},
        )
    venue = SimVenue({cid: specs[iid] for iid, cid in contracts}, clock, venue_config)
    venue.connect()
    market = BarMarket()
    config = EngineConfig(
        risk=risk,
        specs=specs,
        schedule=schedule,
        store_path=journal if journal is not None else ":memory:",
        durability=StoreMode.BACKTEST,
        market=market,
        # A venue in the same process: reconcile once per simulated hour; the equity
        # mark (loss limits, margin) on every bar; other processes' requests every
        # 256 passes.
        reconcile_every=dt.timedelta(hours=1),
        account_every=dt.timedelta(0),
        reconnect_every=dt.timedelta(0),
        external_check_every=256,
        default_algo=algo,
        algos=algos or {},
        position_limits=position_limits or {},
        risk_level=risk_level,
        wrap_gate=wrap_gate,
        fx=fx,
        account_instrument=account_instrument,
    )
    engine = build_kernel_engine(config, venue, clock)
    days = engine.days
    runner = BarRunner(
        engine=engine,
        venue=venue,
        market=market,
        pnl=PnlBook(specs, fx, lambda: days.account_day(clock.now())),
        strategies=strategies,
        capital=capital if capital is not None else venue_config.initial_cash,
        schedule=schedule if isinstance(schedule, CalendarSchedule) else None,
        adjustments=adjustments or {},
    )
    engine.equity_source = runner.equity_mark
    return runner
