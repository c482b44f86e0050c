"""Which plan the gate judged, and the one plan a session may execute (issue 19, item 3).

``bastion gate dry-run`` records the plan it judged in the state file
``<records_dir>/state/gate-latest.json``: its path, the SHA-256 of its bytes, its kind
and target date, and the gate's result. ``session_plan`` is what ``bastion session``
asks before it connects:

- no ``--plan``: the plan the gate judged; refused when no gate ran, when the gate's
  answer was not ``executable``, when the file changed after it was judged, or when a
  newer plan exists (a shadow run after the gate: judge it first, or name the old plan);
- ``--plan FILE``: that plan, and only if it is the one the gate judged and approved.

A refusal is a verdict of NO (exit status 3), with the reason and what to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.gates.profiles import ResolvedProfile
from bastion.gates.shadow import plans_dir
from bastion.gates.state import load_state
from bastion.strategy.plan import newest_plan, plan_digest

__all__ = ["GATE_STATE", "GateVerdict", "PlanRefused", "judged", "same_path", "session_plan"]

GATE_STATE = "gate-latest.json"


class PlanRefused(Exception):  # noqa: N818 - a verdict, not an error of Bastion's
    """The session may not run this plan; the message says why and what to run."""


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The last gate's answer, as recorded."""

    plan: Path | None
    digest: str | None
    status: str
    result: str
    at: str
    next_step: str
    target_date: str | None

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> GateVerdict:
        plan = data.get("plan")
        return cls(
            plan=Path(plan) if plan else None,
            digest=data.get("plan_sha256"),
            status=str(data.get("status", "")),
            result=str(data.get("result", "")),
            at=str(data.get("at", "")),
            next_step=str(data.get("next_step", "")),
            target_date=data.get("target_date"),
        )

    def judged(self, plan: Path) -> bool:
        """Whether this verdict is about exactly ``plan`` (same file, same bytes)."""
        if self.plan is None or self.digest is None:
            return False
        same_file = same_path(self.plan, plan)
        return same_file and plan.exists() and plan_digest(plan) == self.digest


def same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def judged(resolved: ResolvedProfile) -> GateVerdict | None:
    """The last gate's recorded verdict, or ``None`` when no gate has run."""
    data = load_state(resolved, GATE_STATE)
    return GateVerdict.from_state(data) if data is not None else None


def session_plan(resolved: ResolvedProfile, named: Path | None) -> Path:
    """The plan the session executes, or ``PlanRefused`` saying why not."""
    verdict = judged(resolved)
    gate_hint = "run 'bastion gate dry-run'" + (f" --plan {named}" if named else "")
    if verdict is None or verdict.plan is None:
        raise PlanRefused(f"no gate has judged a plan: {gate_hint} first")
    plan = named if named is not None else verdict.plan
    if named is not None and not named.exists():
        raise PlanRefused(f"--plan {named}: no such file")
    if not same_path(verdict.plan, plan):
        raise PlanRefused(
            f"the gate judged {verdict.plan}, not {plan}: a session executes only the plan"
            f" the gate approved; {gate_hint}"
        )
    if not plan.exists():
        raise PlanRefused(f"the plan the gate judged, {plan}, is gone: run 'bastion shadow'")
    if not verdict.judged(plan):
        raise PlanRefused(
            f"{plan} changed after the gate judged it ({verdict.at}): {gate_hint} again"
        )
    if verdict.status != "executable":
        raise PlanRefused(
            f"the gate's answer for {plan} was '{verdict.result}' ({verdict.at}), not"
            f" executable: {verdict.next_step or 'see docs/operator-day.md'}"
        )
    newest = newest_plan(plans_dir(resolved))
    if named is None and newest is not None and not same_path(newest, plan):
        raise PlanRefused(
            f"{newest} is newer than the plan the gate judged ({plan}): run 'bastion gate"
            f" dry-run' to judge it, or name the approved one: --plan {plan}"
        )
    return plan
