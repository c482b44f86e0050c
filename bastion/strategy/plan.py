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

A plan is one of two kinds. A **shadow** plan is built from data: each signal has the
data date of its last bar and a reference price, and the plan says whether its data
passed the checks. A **flatten** plan (``bastion flatten --graceful``) reads no bars: its
signals have no data date and no reference price (``None``, never a made-up value), and
its ``data_complete`` is ``None`` (not applicable), so nothing can read it as data that
was checked.

Plans are JSON files; ``load_plan`` turns every problem into one ``UserError`` line.
Which plan is "the latest" is the one generated last (``newest_plan``), not the one
with the latest date in its name: a fresh shadow run for an earlier day after a
flatten plan is the one the operator means. ``plan_digest`` identifies a plan's exact
content, so the gate can record what it judged and the session can refuse anything
else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

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
    "newest_plan",
    "opens",
    "plan_digest",
    "plan_risk_level",
    "save_plan",
]

PLAN_VERSION = 2
"""2: flatten plans carry no data date, reference price or completeness (``None``)."""
READABLE_VERSIONS = frozenset({1, PLAN_VERSION})


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
    reference_price: str | None
    """Decimal price as text (exact); ``None`` when the plan read no bars (flatten)."""
    reference_ticks: int | None
    data_date: str | None
    """The trading day of the last bar behind the signal; ``None``: no bars were read."""
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
            "reference": self.reference_price if self.reference_price is not None else "none",
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
    kind: Literal["shadow", "flatten"] = "shadow"
    profile: str
    role: str
    strategy_line: str
    capital: str
    target_date: str
    generated_at: str
    risk_level: str
    risk_level_source: str
    pool: PoolInfo
    data_complete: bool | None
    """Whether the data behind the signals passed the checks; ``None``: no data read."""
    data_problems: tuple[str, ...] = ()
    signals: tuple[PlanSignal, ...]

    @property
    def stale_inputs(self) -> list[str]:
        out = []
        if self.pool.stale:
            out.append(f"stale pool: {self.pool.why}")
        if self.data_complete is False:
            out.append("incomplete data: " + "; ".join(self.data_problems))
        return out

    @property
    def file_name(self) -> str:
        suffix = "-flatten" if self.kind == "flatten" else ""
        return f"plan-{self.target_date}{suffix}.json"

    @property
    def data_dates(self) -> list[str]:
        """The data dates of its signals (empty for a plan that read no bars)."""
        return sorted({s.data_date for s in self.signals if s.data_date is not None})


def plan_risk_level(plan: SignalPlan) -> RiskLevel:
    return parse_risk_level(plan.risk_level)


def save_plan(plan: SignalPlan, folder: Path) -> Path:
    """Write the plan atomically as ``<folder>/<plan.file_name>``."""
    from bastion.files import write_atomically

    return write_atomically(folder / plan.file_name, plan.model_dump_json(indent=2), "signal plan")


def plan_digest(path: Path) -> str:
    """The SHA-256 of the plan file's bytes: what the gate judged, exactly."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise UserError(f"signal plan {path}: no such file; run 'bastion shadow' first") from None
    except OSError as exc:
        raise UserError(f"signal plan {path}: cannot be read ({exc.strerror})") from None


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
    if raw.get("plan_version") not in READABLE_VERSIONS:
        raise UserError(
            f"signal plan {path}: plan_version {raw.get('plan_version')!r}, expected"
            f" {' or '.join(map(str, sorted(READABLE_VERSIONS)))}"
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


def _generated_at(path: Path) -> str:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return ""  # unreadable: never the newest (load_plan says what is wrong if named)
    return str(raw.get("generated_at", "")) if isinstance(raw, Mapping) else ""


def newest_plan(folder: Path) -> Path | None:
    """The plan generated last in ``folder`` (its ``generated_at``; the name breaks ties)."""
    if not folder.is_dir():
        return None
    names = list(folder.glob("plan-*.json"))
    if not names:
        return None
    return max(names, key=lambda p: (_generated_at(p), p.name))
