"""One simulated run: the kernel's engine, the sim venue and a fault schedule, in one
process on a simulated clock.

The world holds everything that outlives an engine: the clock, the ``SimVenue`` (the
exchange and the account, with its fault switchboard), the market's price path (drawn
from the seed alone), and the journal: an in-memory SQLite database shared by name
(``file:...?mode=memory&cache=shared``) that the world keeps open, in live durability (a
commit per record). A **crash** closes the engine's connection without a commit and
drops the engine object with all its memory; the venue sees the client vanish
(``SimVenue.drop_session``); a new engine is built by the kernel on the same store and
recovers against the same venue at its first pass, as a restarted process would.

Each step: the step's faults are applied, the clock moves ``STEP``, the venue gets a
quote, the engine makes one pass (``Engine.iterate``) toward the current targets, and
the auditor checks the invariants (``invariants.py``). A crash fires inside the pass,
right after the commit it was aimed at. After the schedule's last step every fault is
healed, the engine trades a while longer, stops (every order canceled), lets every
late report arrive, and is crashed and rebuilt once more: the final recovery, after
which ``Auditor.final`` checks the end state.

``run(schedule)`` returns a ``RunResult``; a broken invariant is its ``failure``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.clock import SimClock, utc
from bastion.config import RiskConfig
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId, StrategyId
from bastion.domain.records import BrokerOrderCreated, record_type
from bastion.domain.targets import Target
from bastion.engine.days import MidnightCalendar
from bastion.engine.engine import Engine
from bastion.engine.kernel import EngineConfig, build_engine
from bastion.orders.rolls import FixedSchedule
from bastion.risk.port import RiskDecision, RiskGate
from bastion.store.sqlite import SqliteStore
from bastion.testing.dst.door import AuditedVenue
from bastion.testing.dst.faults import apply_fault
from bastion.testing.dst.invariants import AuditGate, Auditor, InvariantBroken
from bastion.testing.dst.schedule import STRATEGIES, Schedule
from bastion.venues.sim import Quote, SimVenue, SimVenueConfig

__all__ = ["CONTRACT", "INSTRUMENT", "STEP", "RunResult", "SimCrash", "World", "run"]

INSTRUMENT = InstrumentId("ES")
CONTRACT = ContractId("ES/202606")
SPEC = ContractSpec(
    instrument_id=INSTRUMENT,
    exchange="SIM",
    currency="USD",
    tick_size=Decimal("0.25"),
    multiplier=Decimal(50),
    margin_rate=Decimal("0.05"),
    price_band=Decimal("0.03"),
)
START = utc(2026, 3, 2, 14, 30)
STEP = dt.timedelta(milliseconds=500)
POSITION_LIMIT = 6
FIRST_PRICE = 16_000
SETTLE_STEPS = 40
"""Steps of trading without faults after the schedule, before the engine stops."""

_runs = itertools.count(1)


class SimCrash(BaseException):
    """The engine's process dies here (a ``BaseException``: nothing in it may catch it)."""

    def __init__(self, lose_reports: bool) -> None:
        super().__init__("simulated crash")
        self.lose_reports = lose_reports


@dataclass
class Market:
    """The quotes the world feeds the venue: a seeded random walk, thinned or locked at
    a price limit while those faults last."""

    rng: random.Random
    price: int = FIRST_PRICE
    thin_until: int = -1
    limit: tuple[int, int] | None = None
    """(direction, until step): locked limit up (+1) or down (-1)."""

    def quote(self, step: int, venue: SimVenue, now: dt.datetime) -> Quote:
        self.price += self.rng.choice((-1, 0, 0, 1))
        bid, ask = self.price, self.price + 1
        bid_size, ask_size = self.rng.randint(3, 20), self.rng.randint(3, 20)
        if step < self.thin_until:
            bid_size = ask_size = 1
        if self.limit is not None and step < self.limit[1]:
            band = venue.markets[CONTRACT].band()
            if band is not None:
                if self.limit[0] > 0:  # limit up: nobody sells at the limit
                    bid, ask, ask_size = band[1] - 1, band[1], 0
                else:  # limit down: nobody buys at the limit
                    bid, ask, bid_size = band[0], band[0] + 1, 0
        return Quote(
            contract_id=CONTRACT,
            bid_ticks=bid,
            ask_ticks=ask,
            bid_size=bid_size,
            ask_size=ask_size,
            timestamp=now,
        )


@dataclass
class RunResult:
    seed: int
    steps: int
    crashes: int
    faults: Counter[str] = field(default_factory=Counter)
    checks: dict[str, int] = field(default_factory=dict)
    failure: InvariantBroken | None = None
    sends: int = 0
    fills: int = 0
    passes: int = 0
    """Engine passes, the settling and the final recovery included."""

    @property
    def ok(self) -> bool:
        return self.failure is None


class World:
    """See the module docstring."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.step = 0
        self.clock = SimClock(START)
        self.contract = CONTRACT
        self.venue = SimVenue(
            {CONTRACT: SPEC},
            self.clock,
            SimVenueConfig(seed=schedule.seed, initial_cash=Decimal(2_000_000)),
        )
        self.venue.set_reference_price(CONTRACT, FIRST_PRICE)
        self.market = Market(random.Random(schedule.seed * 7_919 + 13))  # noqa: S311 - simulation
        self.uri = f"file:bastion-dst-{schedule.seed}-{next(_runs)}?mode=memory&cache=shared"
        self.keeper = sqlite3.connect(self.uri, uri=True, isolation_level=None)
        self.targets: dict[str, tuple[int, int, dt.datetime]] = dict.fromkeys(
            STRATEGIES, (0, 0, START)
        )
        """Each strategy's target (low, high, when it was made)."""
        self.auditor = Auditor(
            venue=self.venue,
            reader=self.keeper,
            engine=lambda: self.engine,
            position_limit=POSITION_LIMIT,
            targets=lambda: {StrategyId(s): t for s, t in self.targets.items()},
        )
        self.venue.faults.on_inject = self.auditor.on_inject
        self.audited = AuditedVenue(
            self.venue, self.auditor.before_submit, self._fills_page, self.auditor.before_cancel
        )
        allowed = self.auditor.allowed
        self.config = EngineConfig(
            risk=RiskConfig(max_position_lots=POSITION_LIMIT, max_order_lots=10),
            specs={INSTRUMENT: SPEC},
            schedule=FixedSchedule(contracts={INSTRUMENT: CONTRACT}),
            store_path=self.uri,
            calendars={INSTRUMENT: MidnightCalendar()},
            risk_level=("base", "simulation"),
            position_limits={INSTRUMENT: POSITION_LIMIT},
            default_algo=schedule.algo,
            wrap_gate=lambda gate: _audit_gate(gate, allowed),
        )
        self._crash_commits: int | None = None
        self._crash_record: str | None = None
        self._crash_lose = False
        self._later: list[tuple[int, Callable[[], None]]] = []
        self._operator: SqliteStore | None = None
        self.crashes = 0
        self.passes = 0
        self.engine: Engine = self._build()

    # -- engines ----------------------------------------------------------------------------
    def _build(self) -> Engine:
        engine = build_engine(self.config, self.audited, self.clock)
        engine.store.on_commit = self._on_commit
        risk = engine.risk
        check_flatten = risk.check_flatten
        allowed = self.auditor.allowed

        def audited_flatten(order: BrokerOrderCreated, held: int) -> RiskDecision:
            decision = check_flatten(order, held)
            if decision.allowed:
                allowed.add(order.client_order_id)
            return decision

        setattr(risk, "check_flatten", audited_flatten)  # noqa: B010 - instrument one instance
        return engine

    def _fills_page(self, next_cursor: int) -> None:
        self.auditor.fills_cursor = next_cursor

    def _on_commit(self) -> None:
        records = self.auditor.on_commit()
        fire = False
        if self._crash_commits is not None:
            self._crash_commits -= 1
            fire = self._crash_commits <= 0
        if self._crash_record is not None:
            fire = fire or any(record_type(r) == self._crash_record for r in records)
        if fire:
            self._crash_commits = self._crash_record = None
            raise SimCrash(self._crash_lose)

    def arm_crash(self, *, commits: int | None, record: str | None, lose: bool) -> None:
        if commits == 0:
            self.crash(lose_reports=lose)
            return
        self._crash_commits, self._crash_record, self._crash_lose = commits, record, lose

    def crash(self, *, lose_reports: bool, final: bool = False) -> None:
        """The engine's process dies: nothing uncommitted survives, the venue session
        drops, and a new engine is built from the journal."""
        old = self.engine
        old.store.on_commit = None
        old.store.connection.close()  # rolls back anything not committed
        self.venue.drop_session(lose_reports=lose_reports)
        self.auditor.cancels.clear()  # a new process knows nothing of the cancels sent
        self.crashes += not final
        self.engine = self._build()
        self.auditor.check_projections(self.engine)

    def operator_store(self) -> SqliteStore:
        """An operator's connection to the journal (another process, as the CLI's)."""
        if self._operator is None:
            self._operator = SqliteStore(self.uri, clock=self.clock)
        return self._operator

    def later(self, steps: int, action: Callable[[], None]) -> None:
        self._later.append((self.step + steps, action))

    # -- the loop ----------------------------------------------------------------------------
    def current_targets(self) -> list[Target]:
        return [
            Target(
                strategy_id=StrategyId(s),
                instrument_id=INSTRUMENT,
                low=low,
                high=high,
                generated_time=made,
            )
            for s, (low, high, made) in sorted(self.targets.items())
        ]

    def _pass(self, *, trade: bool = True) -> None:
        self.passes += 1
        self.clock.advance(STEP)
        self.venue.on_quote(self.market.quote(self.step, self.venue, self.clock.now()))
        try:
            if trade:
                self.engine.iterate(self.current_targets())
            else:
                self.engine.iterate(None, trade=False)
        except SimCrash as crash:
            self.crash(lose_reports=crash.lose_reports)
        self.auditor.after_step(full=self.step % 10 == 0)

    def _run_due(self) -> None:
        due = [action for at, action in self._later if at <= self.step]
        self._later = [(at, action) for at, action in self._later if at > self.step]
        for action in due:
            action()

    def run(self, faults: Counter[str]) -> None:
        by_step: dict[int, list[int]] = {}
        for index, fault in enumerate(self.schedule.faults):
            by_step.setdefault(fault.step, []).append(index)
        self.step = -1
        for _ in range(self.schedule.steps):
            self._tick()
            self._run_due()
            for index in by_step.get(self.step, ()):
                fault = self.schedule.faults[index]
                try:
                    acted = apply_fault(self, fault)
                except SimCrash as crash:  # an operator's write can reach a crash point
                    self.crash(lose_reports=crash.lose_reports)
                    acted = True
                faults[fault.label if acted else f"{fault.label} (no effect)"] += 1
            self._pass()
        self.finish()

    def _tick(self) -> None:
        self.step += 1
        self.auditor.step = self.step

    def heal(self) -> None:
        """Every fault ends: halts and latency are over, cash is back, the market is
        whole, what the venue had armed is disarmed, and a crash still armed happens."""
        faults = self.venue.faults
        faults.drop_next_count = faults.duplicate_next_count = faults.reorder_next_count = 0
        faults.reject_next_reasons.clear()
        faults.fill_after_cancel_count = 0
        faults.latency(0.0, 0.0)
        for _, action in self._later:
            action()
        self._later.clear()
        self.venue.resume(None)
        self.market.thin_until = -1
        self.market.limit = None
        if self._crash_commits is not None or self._crash_record is not None:
            self._crash_commits = self._crash_record = None
            self.crash(lose_reports=self._crash_lose)  # an armed crash happens now

    def finish(self) -> None:
        """Heal, trade on a while, stop, let late reports arrive, crash once more (the
        final recovery) and check the end state."""
        self.heal()
        for _ in range(SETTLE_STEPS):
            self._tick()
            self._pass()
        for stop in range(SETTLE_STEPS):
            self._tick()
            engine = self.engine
            if (
                not engine.oms.book.broker_orders
                and not self.venue.orders
                and not engine.kill_switch.active
                and engine.risk.pending_kill() is None
            ):
                break
            if stop % 10 == 0 and engine.venue.is_connected and not engine.kill_switch.active:
                engine.stack.end_of_day(max_rounds=2)  # the end of a session, as a driver ends it
            self._pass(trade=False)
        for _ in range(int(dt.timedelta(seconds=10) / STEP)):  # every late report arrives
            self._tick()
            self._pass(trade=False)
        self.crash(lose_reports=False, final=True)
        self._pass(trade=False)
        self._pass(trade=False)
        self.auditor.final(self.engine)

    def close(self) -> None:
        self.engine.store.on_commit = None
        self.engine.store.connection.close()
        if self._operator is not None:
            self._operator.connection.close()
        self.keeper.close()


def _audit_gate(gate: RiskGate, allowed: set[ClientOrderId]) -> RiskGate:
    return AuditGate(gate, allowed)


def run(schedule: Schedule) -> RunResult:
    """Run ``schedule`` to its end or its first broken invariant."""
    faults: Counter[str] = Counter()
    world = World(schedule)
    result = RunResult(schedule.seed, schedule.steps, 0, faults)
    try:
        world.run(faults)
    except InvariantBroken as broken:
        result.failure = broken
    finally:
        result.crashes = world.crashes
        result.checks = dict(world.auditor.checks)
        result.sends = world.venue.counters.send_order_calls
        result.fills = len(world.venue.fills)
        result.passes = world.passes
        world.close()
    return result
