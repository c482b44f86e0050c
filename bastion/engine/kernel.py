"""The kernel: the one place the engine is built, for every mode.

``build_engine(config, venue, clock)`` builds the store, the OMS, the locks, the risk
engine, the one send path, the order stack, the reconciler, the kill switch, the
trading days and the loss and margin duties, and wires them into an ``Engine``. The
backtest, the sim session, paper and live sessions, the smoke order, flatten, kill and
the reconciliation corrections all get their engine here; they differ only in the
clock, the venue and the durability mode (``EngineConfig``). ``RiskEngine(...)`` and
``OrderManager(...)`` are built here and in unit tests, nowhere else.

The venue given is the only object with order calls; it goes into the send path
(``OrderGateway``), and every other part receives it wrapped as a ``QueryView`` (a
``SilentVenueView`` when the profile sets a silence limit: a silent venue is not asked).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from bastion.clock import Clock
from bastion.config import Profile, RiskConfig
from bastion.domain.contracts import ContractSpec
from bastion.domain.fx import FxTable
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.market import MarketView
from bastion.domain.orders import BrokerOrder
from bastion.domain.records import Note
from bastion.engine.days import DayCalendar, TradingDays, calendars_for, expiry_calendar_for
from bastion.engine.engine import Engine, EquitySource, Heartbeat
from bastion.engine.lock import EngineLock
from bastion.engine.send import OrderGateway
from bastion.engine.silence import SilentVenueView
from bastion.oms.manager import OrderManager
from bastion.oms.retry import RetryTracker
from bastion.orders.algos import AlgoChoice
from bastion.orders.holds import DenialHolds
from bastion.orders.limits import TradeLimits
from bastion.orders.rolls import ContractSchedule
from bastion.orders.stack import StackHandler
from bastion.recon.locks import LockBook, LockingGate
from bastion.recon.reconciler import Reconciler
from bastion.risk.engine import RiskEngine
from bastion.risk.expiry import ExpiryCalendar
from bastion.risk.kill import KillSwitch
from bastion.risk.port import RiskGate
from bastion.store.sqlite import SqliteStore, StoreMode
from bastion.store.targets import TargetStore
from bastion.venues.port import QueryView, VenuePort

__all__ = ["EngineConfig", "algo_choices", "build_engine", "config_from_profile"]


@dataclass(slots=True)
class EngineConfig:
    """What the kernel needs besides the venue and the clock."""

    risk: RiskConfig
    specs: Mapping[InstrumentId, ContractSpec]
    schedule: ContractSchedule
    store_path: Path | str
    """The journal; ``":memory:"`` for an in-memory store (tests, simulation)."""
    durability: StoreMode = StoreMode.LIVE
    market: MarketView | None = None
    """Defaults to the venue's own market view."""
    reconcile_every: dt.timedelta = dt.timedelta(seconds=10)
    account_every: dt.timedelta = dt.timedelta(seconds=5)
    reconnect_every: dt.timedelta = dt.timedelta(seconds=1)
    external_check_every: int = 1
    default_algo: str = "market"
    lost_grace: dt.timedelta = dt.timedelta(seconds=30)
    """An order marked LOST counts as working this long, then the venue is asked again
    (``StackHandler.lost_grace``; the profile's ``venue.lost_grace_seconds``)."""
    algos: Mapping[InstrumentId, AlgoChoice] = field(default_factory=dict)
    """Each instrument's execution algo and its parameters (the profile's ``execution``)."""
    position_limits: Mapping[InstrumentId, int] = field(default_factory=dict)
    risk_level: tuple[str, str] | None = None
    """(level, source) to set at start: a sim's built-in plan, or a signal plan's."""
    calendars: Mapping[InstrumentId, DayCalendar] | None = None
    """Exchange calendars per instrument; defaults to the bundled specs' calendars."""
    account_instrument: InstrumentId | None = None
    wrap_gate: Callable[[RiskGate], RiskGate] | None = None
    """Wrap the engine's gate (the pre-submit gate of a plan session)."""
    equity_source: EquitySource | None = None
    """Equity marks; defaults to the venue's account snapshots."""
    heartbeat_sink: Callable[[Heartbeat], None] | None = None
    max_clock_skew: dt.timedelta = dt.timedelta(seconds=5)
    warn_clock_skew: dt.timedelta | None = None
    """A skew from this much (below ``max_clock_skew``) is journaled as a warning."""
    silence_limit: dt.timedelta | None = None
    fx: FxTable | None = None
    """Rates to the account's base currency; defaults to none (every contract in the
    first spec's currency, any other refused)."""
    expiry: ExpiryCalendar | bool | None = True
    """Contract dates for the expiry guard; ``True``: from the bundled specs."""
    role: str = "engine"
    """What this engine is for (engine, smoke, flatten, kill, ...), in the store's lock."""
    profile_name: str = ""
    lock_held: bool = False
    """The caller already holds the store's one-engine lock (the watchdog, which takes
    it to act for a dead engine): the kernel does not take it again."""


def config_from_profile(
    profile: Profile,
    specs: Mapping[InstrumentId, ContractSpec],
    schedule: ContractSchedule,
    **overrides: object,
) -> EngineConfig:
    """An ``EngineConfig`` from a profile: its risk limits, store and position limits."""
    from bastion.marketdata.fx import profile_fx

    config = EngineConfig(
        risk=profile.risk,
        specs=specs,
        schedule=schedule,
        store_path=profile.store.path,
        position_limits=dict.fromkeys(specs, profile.risk.max_position_lots),
        account_instrument=InstrumentId(profile.instruments[0]),
        profile_name=profile.name,
        max_clock_skew=dt.timedelta(seconds=profile.venue.max_clock_skew_seconds),
        warn_clock_skew=_warn_skew(profile),
        silence_limit=None
        if profile.venue.silence_seconds is None
        else dt.timedelta(seconds=profile.venue.silence_seconds),
        fx=profile_fx(profile),
        algos=algo_choices(profile, specs),
        lost_grace=dt.timedelta(seconds=profile.venue.lost_grace_seconds),
    )
    for name, value in overrides.items():
        setattr(config, name, value)
    return config


def _warn_skew(profile: Profile) -> dt.timedelta | None:
    """The warning mark: ``alerts.clock_skew_seconds`` when it is below the venue's
    halt limit; at or above it there is no warning band (a halt always alerts)."""
    mark = profile.alerts.clock_skew_seconds
    return dt.timedelta(seconds=mark) if mark < profile.venue.max_clock_skew_seconds else None


def algo_choices(
    profile: Profile, specs: Mapping[InstrumentId, ContractSpec]
) -> dict[InstrumentId, AlgoChoice]:
    """The profile's execution algo for each instrument (``execution``)."""
    out = {}
    for iid in specs:
        chosen = profile.execution.for_instrument(iid).model_dump()
        name = chosen.pop("algo")
        out[iid] = AlgoChoice(name, chosen)
    return out


def _venue_equity(venue: QueryView, fx: FxTable, today: Callable[[], dt.date]) -> EquitySource:
    """Equity and margin from the venue's account snapshot, in the base currency: a
    snapshot in another currency is converted at its rate; without one the equity is
    unknown (the reason), never taken one for one."""

    def read() -> tuple[Decimal, Decimal | None] | str:
        snapshot = venue.account()
        if snapshot.value is None:
            return f"the venue's account snapshot is unknown ({snapshot.reason or 'no value'})"
        account = snapshot.value
        day = today()
        rate = fx.factor(account.currency, day)
        if rate is None:
            problem = fx.problem(account.currency, day)
            return f"the venue account is in {account.currency}: {problem}"
        return account.equity * rate, account.margin_used * rate

    return read


def _positions_of(venue: QueryView) -> Callable[[], Mapping[ContractId, int] | None]:
    """R7.4's broker truth for closing orders: the venue's positions when asked."""

    def read() -> Mapping[ContractId, int] | None:
        snap = venue.positions()
        return None if snap.value is None else {c: r.net for c, r in snap.value.items()}

    return read


def _risk_epoch(risk: RiskEngine, locks: LockBook, oms: OrderManager) -> Callable[[], object]:
    """What can lift a risk refusal: trading states, locks, the risk level, the limits
    (a new object when reloaded) and the fills. A change ends the stack's holds."""

    def epoch() -> object:
        return (
            tuple((str(scope), status.state) for scope, status in risk.board.all().items()),
            tuple(sorted(locks.locks())),
            risk.level,
            id(risk.limits),
            risk.limits_error,
            len(oms.book.exec_ids),
        )

    return epoch


def _broker_orders(oms: OrderManager) -> list[BrokerOrder]:
    """Every broker order the journal knows, working or ended."""
    book = oms.book
    ended = (o for o in book.history.values() if isinstance(o, BrokerOrder))
    return [*book.broker_orders.values(), *ended]


def build_engine(config: EngineConfig, venue: VenuePort, clock: Clock) -> Engine:
    """The engine for one mode: see the module docstring."""
    lock: EngineLock | None = None
    if isinstance(config.store_path, Path):
        config.store_path.parent.mkdir(parents=True, exist_ok=True)
        if not config.lock_held:
            lock = EngineLock.acquire(config.store_path, config.profile_name, role=config.role)
    try:
        store = SqliteStore(config.store_path, mode=config.durability, clock=clock)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    view = (
        QueryView(venue)
        if config.silence_limit is None
        else SilentVenueView(venue, clock, config.silence_limit)
    )
    market = config.market if config.market is not None else view.market
    oms = OrderManager(store)
    locks = LockBook(store)
    calendars = config.calendars if config.calendars is not None else calendars_for(config.specs)
    days = TradingDays(calendars, config.account_instrument)
    expiry = expiry_calendar_for(config.specs) if config.expiry is True else (config.expiry or None)
    risk = RiskEngine(
        config.risk,
        config.specs,
        ledger=oms,
        store=store,
        clock=clock,
        market=market,
        venue_limits={venue.name: venue.rate_limits},
        trading_day=days.account_day,
        previous_day=days.previous_account_day,
        refresh_seconds=None,  # the engine loop refreshes when another process wrote
        fx=config.fx,
        instrument_day=days.day_of,
        expiry=expiry,
    )
    if config.risk_level is not None:
        risk.set_risk_level(*config.risk_level)
    reconciler = Reconciler(oms, locks, clock, journal=store, interval=config.reconcile_every)
    if config.durability is StoreMode.BACKTEST:
        # One process, nothing else writes fills: index what the journal holds once, then
        # what this OMS journals as it goes (reading a batched journal back commits it).
        reconciler.catch_up(store)
        reconciler.journal = None
        oms.record_listeners.append(reconciler.feed)
    gate: RiskGate = LockingGate(risk, locks, _positions_of(view))
    if config.wrap_gate is not None:
        gate = config.wrap_gate(gate)
    gateway = OrderGateway(oms, venue, gate, clock)
    stack = StackHandler(
        oms=oms,
        sender=gateway,
        venue=view,
        schedule=config.schedule,
        market=market,
        clock=clock,
        specs=config.specs,
        limits=TradeLimits.from_risk(
            lambda: risk.limits, days.account_day, lambda: _broker_orders(oms)
        ),
        position_limits=dict(config.position_limits),
        default_algo=config.default_algo,
        algos=dict(config.algos),
        lost_grace=config.lost_grace,
        holds=DenialHolds(epoch=_risk_epoch(risk, locks, oms)),
        retries=RetryTracker(state=store),
    )
    engine = Engine(
        clock=clock,
        store=store,
        oms=oms,
        locks=locks,
        risk=risk,
        gateway=gateway,
        venue=view,
        stack=stack,
        reconciler=reconciler,
        kill_switch=KillSwitch(risk, oms, view, gateway),
        targets=TargetStore(store, instruments=list(config.specs)),
        days=days,
        equity_source=config.equity_source
        or _venue_equity(view, risk.fx, lambda: days.account_day(clock.now())),
        account_every=config.account_every,
        reconnect_every=config.reconnect_every,
        external_check_every=config.external_check_every,
        pass_listeners=[] if config.heartbeat_sink is None else [config.heartbeat_sink],
        lock=lock,
        silence_limit=config.silence_limit,
        max_skew=config.max_clock_skew,
        warn_skew=config.warn_clock_skew,
    )
    if lock is not None and lock.taken_over is not None:
        dead = lock.taken_over
        engine.oms.record(
            Note(
                timestamp=clock.now(),
                kind="engine.lock",
                text=f"engine lock taken over from a process that is gone ({dead.line()})",
                data={"host": dead.host, "pid": str(dead.pid), "role": dead.role},
            )
        )
    generation = store.get_state("store.generation")
    stack.generation = int(generation) if generation and generation.isdigit() else 0
    engine.load_targets()
    return engine
