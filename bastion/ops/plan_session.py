"""``bastion session`` for a venue profile (paper, and later live): execute the signal plan.

The operator's day (docs/operator-day.md): ``bastion shadow`` writes the signal plan,
``bastion gate dry-run`` says whether it may go, and this runs it: the plan the gate
approved (``bastion.gates.approval.session_plan`` chooses it), never another. The plan's targets
become targets of its strategy line; the plan's risk level is the risk engine's; every
order passes the pre-submit gate (the dry-run gate's checks again, with the broker state
refreshed at each reconciliation), then the instrument locks and broker truth, then the
risk engine. No plan, no session: it refuses and says to run ``bastion shadow``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bastion.clock import WallClock
from bastion.config import Environment
from bastion.domain.ids import ContractId, InstrumentId, StrategyId
from bastion.domain.targets import Target
from bastion.errors import UserError
from bastion.gates.broker import (
    BrokerState,
    broker_state_path,
    save_broker_state,
    take_broker_state,
)
from bastion.gates.dryrun import gather_inputs
from bastion.gates.presubmit import PreSubmitGate
from bastion.gates.profiles import ResolvedProfile
from bastion.gates.shadow import plans_dir
from bastion.ops.paper import VenueSession, VenueSessionResult
from bastion.recon.breaks import ReconReport
from bastion.risk.port import RiskGate
from bastion.strategy.plan import SignalPlan, load_plan, newest_plan
from bastion.venues.registry import open_venue, profile_contracts

__all__ = ["PlanSessionResult", "plan_targets", "run_plan_session"]


@dataclass(slots=True)
class PlanSessionResult:
    plan: SignalPlan
    plan_path: Path
    session: VenueSessionResult
    presubmit_denials: dict[str, int]


def plan_targets(plan: SignalPlan, when: dt.datetime) -> list[Target]:
    return [
        Target(
            strategy_id=StrategyId(plan.strategy_line),
            instrument_id=InstrumentId(s.instrument),
            low=s.target,
            high=s.target,
            reference_ticks=s.reference_ticks,
            reference_contract=ContractId(s.contract),
            generated_time=when,
        )
        for s in plan.signals
    ]


def run_plan_session(
    resolved: ResolvedProfile,
    *,
    seconds: float,
    plan_path: Path | None = None,
    stay: bool = False,
) -> PlanSessionResult:
    """Execute ``plan_path`` (default: the plan generated last) against the venue.
    ``stay``: keep the engine running until ``seconds``, even once the targets are met
    (an engine that keeps watching, reconciling and acting on operator requests)."""
    profile = resolved.profile
    if profile.environment is Environment.SIM:  # pragma: no cover - the CLI routes sim away
        raise UserError("a sim profile runs the simulated session, not a venue session")
    if plan_path is None:
        plan_path = newest_plan(plans_dir(resolved))
    if plan_path is None:
        raise UserError(
            f"no signal plan for profile {profile.name} in {plans_dir(resolved)}; run"
            " 'bastion shadow' (then 'bastion gate dry-run') first"
        )
    plan = load_plan(plan_path)
    clock = WallClock()
    contracts = profile_contracts(profile)
    broker: list[BrokerState | None] = [None]
    sessions: list[VenueSession] = []

    def refresh_broker(_report: ReconReport) -> None:
        state = take_broker_state(sessions[0].engine.venue, clock, contracts)
        save_broker_state(state, broker_state_path(profile))
        broker[0] = state

    gates: list[PreSubmitGate] = []

    def wrap(inner: RiskGate) -> RiskGate:
        gate = PreSubmitGate(
            inner, lambda: gather_inputs(resolved, plan, broker[0], clock.now())[0]
        )
        gates.append(gate)
        return gate

    session = VenueSession(
        profile,
        open_venue(profile, "engine", clock),
        contracts,
        clock=clock,
        risk_level=plan.risk_level,
        risk_level_source=f"signal plan {plan_path.name}",
        wrap_gate=wrap,
        after_reconcile=refresh_broker,
        named_contracts={InstrumentId(s.instrument): ContractId(s.contract) for s in plan.signals},
    )
    sessions.append(session)
    result = session.run(plan_targets(plan, clock.now()), seconds=seconds, until_met=not stay)
    return PlanSessionResult(plan, plan_path, result, dict(gates[0].denials))
