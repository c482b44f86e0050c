"""A session against a venue in another process (paper, a FIX broker, IB, CTP).

The engine is the kernel's (``bastion.engine``), in live durability (a commit per
record) on the wall clock; this module is only the driver around it: it runs
``Engine.iterate`` every ``poll_seconds`` until the targets are met or the time is up,
writes the JSON log as it goes (R9.3), and at the end cancels what is still working and
runs a final recovery and reconciliation. Every duty (restart recovery and a clean
reconciliation before any order, periodic reconciliation and locks, the kill switch
from another terminal, loss limits and margin reductions, the trading day, the
heartbeat) is the engine's, the same as in a backtest or sim session.

The contract traded for each instrument is the one the targets name (a signal plan's
reference contract), else the only one the profile lists for it; never another
venue's default.

Watch mode (R8.9, send nothing) is ``bastion session --watch`` in ``bastion.gates.watch``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bastion.clock import Clock, WallClock
from bastion.config import Profile
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId, InstrumentId, StrategyId
from bastion.domain.targets import Target
from bastion.engine.engine import Engine, EngineState
from bastion.engine.kernel import build_engine, config_from_profile
from bastion.oms.retry import RestartCounter
from bastion.ops.alerts.notify import Notifier
from bastion.ops.logging import CorrelationIndex, configure_logging, get_logger, log_journal
from bastion.ops.monitor import attach_monitor
from bastion.ops.records import redactor_for
from bastion.orders.rolls import FixedSchedule
from bastion.recon.breaks import ReconReport
from bastion.risk.port import RiskGate
from bastion.venues.port import VenuePort

__all__ = ["VenueSession", "VenueSessionResult", "choose_contracts", "targets_for"]


@dataclass(slots=True)
class VenueSessionResult:
    seconds: float
    ready_seconds: float
    """How long the session was connected, recovered and reconciled clean."""
    targets_met: bool
    state: str
    """What the engine was doing at the end (``EngineState``): trading, HALTED, ..."""
    orders: int
    fills: int
    send_order_calls: int
    cancel_order_calls: int
    positions: dict[str, int]
    venue_positions: dict[str, int] | None
    reconcile_clean: bool
    breaks: list[str]
    unknown: list[str]
    recoveries: list[str]
    disconnects: int
    restarts: int
    journal: Path
    log: Path
    """JSON lines, one per journal record and loop event, with correlation ids (R9.3)."""
    kill_reports: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    locking_breaks: bool = False
    """A break that locks an instrument (positions or fills disagree), as opposed to a
    target not met (``target_vs_actual``), which locks nothing."""

    @property
    def done_for_today(self) -> bool:
        """Reconciled clean and trading normally (the targets may still be unmet)."""
        return self.reconcile_clean and self.state == EngineState.TRADING

    @property
    def done(self) -> bool:
        """Targets met, reconciled clean, and trading normally: nothing left to do."""
        return self.targets_met and self.reconcile_clean and self.state == EngineState.TRADING


def choose_contracts(
    contracts: Mapping[ContractId, ContractSpec],
    instruments: Sequence[str],
    named: Mapping[InstrumentId, ContractId],
) -> tuple[dict[InstrumentId, ContractId], list[str]]:
    """The contract to trade per instrument: the one the plan names, else the only one
    listed for it. Problems say what is missing or ambiguous."""
    chosen: dict[InstrumentId, ContractId] = {}
    problems: list[str] = []
    for raw in instruments:
        iid = InstrumentId(raw)
        listed = sorted(c for c, spec in contracts.items() if spec.instrument_id == iid)
        wanted = named.get(iid)
        if wanted is not None:
            if wanted in contracts:
                chosen[iid] = wanted
            else:
                problems.append(f"{iid}: the plan names {wanted}, which the venue does not list")
        elif len(listed) == 1:
            chosen[iid] = listed[0]
        elif not listed:
            problems.append(f"{iid}: the venue lists no contract")
        else:
            problems.append(f"{iid}: {len(listed)} contracts listed and no plan names one")
    return chosen, problems


class _Stopwatch:
    """How long a condition (connected, recovered, reconciled clean) has held in total."""

    __slots__ = ("_since", "on", "total")

    def __init__(self) -> None:
        self.on = False
        self.total = 0.0
        self._since = 0.0

    def set(self, on: bool) -> None:
        now = time.monotonic()
        if on and not self.on:
            self._since = now
        elif self.on and not on:
            self.total += now - self._since
        self.on = on


class VenueSession:
    def __init__(
        self,
        profile: Profile,
        venue: VenuePort,
        contracts: Mapping[ContractId, ContractSpec],
        *,
        clock: Clock | None = None,
        risk_level: str | None = None,
        risk_level_source: str = "no signal plan",
        wrap_gate: Callable[[RiskGate], RiskGate] | None = None,
        reconcile_every: dt.timedelta = dt.timedelta(seconds=10),
        poll_seconds: float = 0.05,
        after_reconcile: Callable[[ReconReport], None] | None = None,
        named_contracts: Mapping[InstrumentId, ContractId] | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.profile = profile
        self.clock: Clock = clock if clock is not None else WallClock()
        chosen, self.problems = choose_contracts(
            contracts, profile.instruments, named_contracts or {}
        )
        specs = {iid: contracts[cid] for iid, cid in chosen.items()}
        config = config_from_profile(
            profile,
            specs,
            FixedSchedule(contracts=dict(chosen)),
            reconcile_every=reconcile_every,
            wrap_gate=wrap_gate,
            risk_level=(risk_level, risk_level_source) if risk_level is not None else None,
        )
        self.engine: Engine = build_engine(config, venue, self.clock)
        self.monitor = attach_monitor(self.engine, profile, notifier=notifier)
        if risk_level is None:
            self.engine.risk.set_risk_level(None, risk_level_source)
        store = self.engine.store
        self.restarts = RestartCounter(store, limit=1000).note_start(store.last_seq)
        self.engine.reconcile_listeners.append(self._log_reconciliation)
        if after_reconcile is not None:
            self.engine.reconcile_listeners.append(after_reconcile)
        # R9.3: every journal record becomes a JSON log line with its target's correlation
        # id, as the session goes; secrets and account ids are redacted on the way out.
        self.log_path = profile.store.path.parent / "logs" / "engine.jsonl"
        self._log_stream = configure_logging(self.log_path, redactor_for(profile))
        self.log = get_logger("bastion.session")
        self._correlation = CorrelationIndex()
        for entry in store.entries():
            self._correlation.of(entry.record)
        self._logged = store.last_seq
        self.log.info(
            "session_start",
            profile=profile.name,
            journal_seq=self._logged,
            restarts=self.restarts.restarts,
        )
        self._poll = poll_seconds
        self._recoveries_logged = 0

    def _log_reconciliation(self, report: ReconReport) -> None:
        self.log.info(
            "reconciliation",
            clean=report.clean,
            breaks=[b.line() for b in report.breaks],
            unknown=list(report.unknown),
        )

    def _flush_log(self) -> None:
        engine = self.engine
        for summary in engine.recoveries[self._recoveries_logged :]:
            self.log.info("recovery", summary=summary)
        self._recoveries_logged = len(engine.recoveries)
        self._logged += log_journal(engine.store.entries(self._logged), index=self._correlation)

    def run(
        self,
        targets: Sequence[Target] | Callable[[], Sequence[Target]],
        *,
        seconds: float,
        until_met: bool = True,
        until: Callable[[], bool] | None = None,
    ) -> VenueSessionResult:
        """Trade toward ``targets`` (or what a callable returns at each pass, for targets
        that move) for at most ``seconds``; with ``until_met``, stop once they are met,
        reconciled clean and nothing is halted or pending; with ``until``, also stop
        once it holds (checked after each pass)."""
        fixed = targets if not callable(targets) else None
        wanted = targets if callable(targets) else (lambda: fixed or [])
        engine = self.engine
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        ready = _Stopwatch()
        disconnects = engine.disconnects
        while time.monotonic() < deadline:
            current = list(wanted())
            engine.iterate(current)
            ready.set(engine.ready and engine.venue.is_connected)
            if engine.disconnects != disconnects:
                disconnects = engine.disconnects
                self.log.warning("disconnect", reason=engine.venue.last_disconnect_reason)
            self._flush_log()
            if until is not None and until():
                break
            if (
                until_met
                and engine.ready
                and engine.state() is EngineState.TRADING
                and engine.targets_met(current)
            ):
                break
            time.sleep(self._poll)
        ready.set(False)
        return self._finish(list(wanted()), time.monotonic() - started, ready.total)

    def _finish(
        self, targets: Sequence[Target], seconds: float, ready_time: float
    ) -> VenueSessionResult:
        engine = self.engine
        clean, breaks, unknown, locking = False, [], ["venue not connected"], False
        if engine.venue.is_connected:
            engine.stack.end_of_day(max_rounds=100)
            engine.resync()
            engine.iterate(targets, trade=False)
            report = engine.reconciler.last_report
            if report is not None:
                clean = report.clean
                breaks = [b.line() for b in report.breaks]
                unknown = list(report.unknown)
                locking = any(b.locks for b in report.breaks)
        state = engine.state()
        book = engine.oms.book
        broker = engine.broker_positions
        result = VenueSessionResult(
            seconds=seconds,
            ready_seconds=ready_time,
            targets_met=engine.targets_met(targets),
            state=state.value,
            orders=sum(1 for o in book.history.values() if hasattr(o, "client_order_id"))
            + len(book.broker_orders),
            fills=len(book.exec_ids),
            send_order_calls=engine.gateway.counters.send_order_calls,
            cancel_order_calls=engine.gateway.counters.cancel_order_calls,
            positions={c: q for (_, c), q in sorted(book.positions.contract.items())},
            venue_positions=None if broker is None else {str(c): q for c, q in broker.items()},
            reconcile_clean=clean,
            breaks=breaks,
            unknown=unknown,
            recoveries=list(engine.recoveries),
            disconnects=engine.disconnects,
            restarts=self.restarts.restarts,
            journal=self.profile.store.path,
            log=self.log_path,
            kill_reports=[r.headline for r in engine.kill_reports],
            problems=[*self.problems, *engine.days.problems, *dict.fromkeys(engine.stack.problems)],
            locking_breaks=locking,
        )
        self._flush_log()
        self.log.info(
            "session_end",
            state=state.value,
            targets_met=result.targets_met,
            reconcile_clean=result.reconcile_clean,
            send_order_calls=result.send_order_calls,
            cancel_order_calls=result.cancel_order_calls,
        )
        self._log_stream.close()
        engine.venue.disconnect()
        engine.close()
        return result


def targets_for(strategy_id: str, wanted: dict[str, int], when: dt.datetime) -> list[Target]:
    """Plain targets (no buffer) for a strategy: ``{instrument: lots}``."""
    return [
        Target(
            strategy_id=StrategyId(strategy_id),
            instrument_id=InstrumentId(iid),
            low=lots,
            high=lots,
            generated_time=when,
        )
        for iid, lots in sorted(wanted.items())
    ]
