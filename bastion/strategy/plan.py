"""Signal plans and their risk level (R3.3, R3.4).

A *signal plan* is what the daily shadow run hands the execution side: per instrument
a target position in lots, where it came from (the pool's parameter sets and their
contributions), the reference price and contract, and the plan's **risk level**:

- ``base``: normal; the plan may open, close and reduce;
- ``review``: only closing, reducing and reconciling orders; nothing new opens;
- missing or anything else: ``unknown``, fail closed (only reductions, never opens).

Each signal also carries the *previous* target (the last plan's) and the action that
the change means for the strategy: ``open``, ``increase``, ``reduce``, ``close``,
``reverse`` or ``hold``. The gate compares it with the broker's position (the broker is
the truth of what is held, R7.4): a close or reduce with the broker flat is skipped,
never sent.

Plans are JSON files; ``load_plan`` turns every problem into one ``UserError`` line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.errors import UserError
from bastion.risk.level import RiskLevel, parse_risk_level

__all__ = [
    "CLOSING",
    "PLAN_VERSION",
    "Action",
    "PlanSignal",
    "PoolInfo",
    "SignalPlan",
    "classify",
    "latest_plan",
    "load_plan",
    "opens",
    "plan_risk_level",
    "save_plan",
]

PLAN_VERSION = 1


class Action(StrEnum):
    OPEN = "open"
    INCREASE = "increase"
    REDUCE = "reduce"
    CLOSE = "close"
    REVERSE = "reverse"
    HOLD = "hold"


CLOSING = frozenset({Action.REDUCE, Action.CLOSE})


def classify(previous: int, target: int) -> Action:
    """What moving from ``previous`` to ``target`` lots means."""
    if previous == target:
        return Action.HOLD
    if previous == 0:
        return Action.OPEN
    if target == 0:
        return Action.CLOSE
    if (previous > 0) != (target > 0):
        return Action.REVERSE
    return Action.INCREASE if abs(target) > abs(previous) else Action.REDUCE


def opens(held: int, target: int) -> bool:
    """Whether trading from ``held`` to ``target`` adds exposure (opens or flips)."""
    if target in {held, 0}:
        return False
    if held == 0 or (held > 0) != (target > 0):
        return True  # a new position, or a flip through zero
    return abs(target) > abs(held)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contribution(_Strict):
    name: str
    position: float
    weight: float
    contribution: float


class PlanSignal(_Strict):
    instrument: str
    contract: str
    previous: int
    target: int
    action: Action
    forecast: float = Field(ge=-1, le=1)
    reference_price: str
    """Decimal price as text (exact)."""
    reference_ticks: int
    data_date: str
    contributions: tuple[Contribution, ...] = ()
    notes: tuple[str, ...] = ()

    def row(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "contract": self.contract,
            "previous": self.previous,
            "target": self.target,
            "action": self.action.value,
            "forecast": round(self.forecast, 4),
            "reference": self.reference_price,
        }


class PoolInfo(_Strict):
    period: str
    cadence: str
    start: str
    end: str
    source: str
    file: str
    sha256: str
    stale: bool
    why: str = ""


class SignalPlan(_Strict):
    plan_version: int = PLAN_VERSION
    profile: str
    role: str
    strategy_line: str
    capital: str
    target_date: str
    generated_at: str
    risk_level: str
    risk_level_source: str
    pool: PoolInfo
    data_complete: bool
    data_problems: tuple[str, ...] = ()
    signals: tuple[PlanSignal, ...]

    @property
    def stale_inputs(self) -> list[str]:
        out = []
        if self.pool.stale:
            out.append(f"stale pool: {self.pool.why}")
        if not self.data_complete:
            out.append("incomplete data: " + "; ".join(self.data_problems))
        return out


def plan_risk_level(plan: SignalPlan) -> RiskLevel:
    return parse_risk_level(plan.risk_level)


def save_plan(plan: SignalPlan, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"plan-{plan.target_date}.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(plan.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def _describe(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown key {loc!r}"
    if error["type"] == "missing":
        return f"{loc}: missing"
    return f"{loc}: got {error.get('input')!r}, {error['msg']}"


def load_plan(path: Path) -> SignalPlan:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"signal plan {path}: no such file; run 'bastion shadow' first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"signal plan {path}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(raw, Mapping):
        raise UserError(f"signal plan {path}: expected a JSON object")
    if raw.get("plan_version") != PLAN_VERSION:
        raise UserError(
            f"signal plan {path}: plan_version {raw.get('plan_version')!r}, expected {PLAN_VERSION}"
        )
    try:
        return SignalPlan.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(_describe(e) for e in exc.errors()[:3])
        raise UserError(f"signal plan {path}: {details}") from None


def latest_plan(folder: Path, before: str | None = None) -> Path | None:
    """The newest plan file in ``folder`` (target date strictly before ``before``)."""
    if not folder.is_dir():
        return None
    names = sorted(p for p in folder.glob("plan-*.json"))
    if before is not None:
        names = [p for p in names if p.stem.removeprefix("plan-") < before]
    return names[-1] if names else None
