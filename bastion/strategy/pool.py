"""Model and parameter pools with a cadence (R3.3).

A pool file is what research decided for one period (a month, a quarter, a week): which
parameter sets (or models) the strategy line runs, with what weights, at what full
size per instrument, and at which risk level. Daily runs *use* the pool of the current
period as written; they never re-rank or re-weight it. When the target date lies past
the end of the newest pool's period, the pool is **stale**: reports still run (marked
"stale input") but no executable order may come from it (fail closed).

File shape (YAML)::

    strategy_line: ema_trend
    cadence: monthly            # monthly | quarterly | weekly
    period: 2024-04             # 2024-04 | 2024Q2 | 2024-W15
    source: research run 2024-03-31, walk-forward rank of 24 sets
    risk_level: base            # base | review (missing: unknown, fail closed)
    lots: {SP500: 2, rb: 4}     # full size: a forecast of +1 is +lots
    parameter_sets:
      - {name: ema_5_20, model: ema_cross, fast: 5, slow: 20, weight: 0.6}
      - {name: carry_bias, model: constant, position: 0.5, weight: 0.4}

``pool`` may name one file or a folder of them; ``choose_pool`` picks the file whose
period holds the target date, else the newest one before it (stale), and refuses a
pool for another strategy line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bastion.errors import ConfigError
from bastion.strategy.ema import EmaCross
from bastion.strategy.merge import Merged, ParameterSignal, merge

__all__ = [
    "ParameterSet",
    "Pool",
    "PoolChoice",
    "choose_pool",
    "load_pool",
    "period_bounds",
    "pool_signal",
]

Cadence = Literal["monthly", "quarterly", "weekly"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterSet(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    model: Literal["ema_cross", "constant"]
    weight: float = Field(ge=0)
    fast: int | None = Field(default=None, ge=1)
    slow: int | None = Field(default=None, ge=2)
    position: float | None = Field(default=None, ge=-1, le=1)

    @model_validator(mode="after")
    def _fits_model(self) -> ParameterSet:
        if self.model == "ema_cross":
            if self.fast is None or self.slow is None:
                raise ValueError(f"parameter set {self.name}: ema_cross needs fast and slow")
            if self.fast >= self.slow:
                raise ValueError(
                    f"parameter set {self.name}: fast {self.fast} must be below slow {self.slow}"
                )
        elif self.position is None:
            raise ValueError(f"parameter set {self.name}: constant needs position in [-1, 1]")
        return self


class Pool(_Strict):
    strategy_line: str
    cadence: Cadence
    period: str
    source: str = Field(min_length=1)
    risk_level: str | None = None
    lots: dict[str, Annotated[int, Field(ge=0)]] = Field(min_length=1)
    parameter_sets: tuple[ParameterSet, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _valid(self) -> Pool:
        period_bounds(self.cadence, self.period)  # raises ValueError with the expected form
        names = [p.name for p in self.parameter_sets]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter set names repeat: {sorted(names)}")
        total = sum(p.weight for p in self.parameter_sets)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"parameter set weights sum to {total:g}, expected 1")
        return self

    @property
    def start(self) -> dt.date:
        return period_bounds(self.cadence, self.period)[0]

    @property
    def end(self) -> dt.date:
        return period_bounds(self.cadence, self.period)[1]


def period_bounds(cadence: str, period: str) -> tuple[dt.date, dt.date]:
    """First and last day of ``period`` under ``cadence``; ValueError names the form."""
    text = str(period).strip()
    if cadence == "monthly":
        m = re.fullmatch(r"(\d{4})-(\d{2})", text)
        if not m or not 1 <= int(m[2]) <= 12:
            raise ValueError(f"period {period!r} is not a month; expected YYYY-MM")
        start = dt.date(int(m[1]), int(m[2]), 1)
        nxt = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return start, nxt - dt.timedelta(days=1)
    if cadence == "quarterly":
        m = re.fullmatch(r"(\d{4})Q([1-4])", text)
        if not m:
            raise ValueError(f"period {period!r} is not a quarter; expected YYYYQn")
        first = dt.date(int(m[1]), 3 * int(m[2]) - 2, 1)
        last_month = first.month + 2
        nxt = dt.date(first.year + last_month // 12, last_month % 12 + 1, 1)
        return first, nxt - dt.timedelta(days=1)
    if cadence == "weekly":
        m = re.fullmatch(r"(\d{4})-W(\d{2})", text)
        if not m:
            raise ValueError(f"period {period!r} is not an ISO week; expected YYYY-Www")
        try:
            first = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError:
            raise ValueError(f"period {period!r}: no such ISO week") from None
        return first, first + dt.timedelta(days=6)
    raise ValueError(f"cadence {cadence!r}; expected monthly, quarterly or weekly")


def _describe(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"unknown key {loc!r}"
    if error["type"] == "missing":
        return f"{loc}: missing, a value is required"
    if error["type"] == "value_error":
        return message if loc == "(top level)" else f"{loc}: {message}"
    return f"{loc}: got {error.get('input')!r}, expected {message[0].lower()}{message[1:]}"


def load_pool(path: Path) -> Pool:
    """Read and validate one pool file; every problem is one ``ConfigError`` line."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"pool {path}: no such file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"pool {path}: cannot read it as YAML ({type(exc).__name__})") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"pool {path}: expected a mapping of keys, got {type(raw).__name__}")
    try:
        return Pool.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"pool {path}: {details}") from None


@dataclass(frozen=True, slots=True)
class PoolChoice:
    pool: Pool
    path: Path
    sha256: str
    stale: bool
    why: str
    """Empty when current; else why the pool may not drive executable orders."""


def choose_pool(location: Path, strategy_line: str, target: dt.date) -> PoolChoice:
    """The pool for ``target``: the file whose period holds it, else the newest before
    it (stale). A pool for another strategy line, or only future pools, is an error."""
    location = Path(location)
    if location.is_dir():
        files = sorted(location.glob("*.yaml")) + sorted(location.glob("*.yml"))
        if not files:
            raise ConfigError(f"pool folder {location}: no pool files (*.yaml)")
    elif location.exists():
        files = [location]
    else:
        raise ConfigError(f"pool {location}: no such file or folder")
    pools = [(f, load_pool(f)) for f in files]
    mine = [(f, p) for f, p in pools if p.strategy_line == strategy_line]
    if not mine:
        lines = sorted({p.strategy_line for _, p in pools})
        raise ConfigError(
            f"pool {location}: no pool for strategy line {strategy_line!r} (found {lines})"
        )
    current = [(f, p) for f, p in mine if p.start <= target <= p.end]
    if current:
        f, p = max(current, key=lambda fp: fp[1].start)
        return PoolChoice(p, f, _sha(f), stale=False, why="")
    earlier = [(f, p) for f, p in mine if p.end < target]
    if not earlier:
        first = min(mine, key=lambda fp: fp[1].start)[1]
        raise ConfigError(
            f"pool {location}: the first pool ({first.period}) starts {first.start},"
            f" after the target date {target}; no pool covers it"
        )
    f, p = max(earlier, key=lambda fp: fp[1].end)
    why = (
        f"pool period {p.period} ended {p.end}; the target date {target} needs the next"
        f" {p.cadence} pool"
    )
    return PoolChoice(p, f, _sha(f), stale=True, why=why)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def pool_signal(pool: Pool, closes: Sequence[float]) -> tuple[Merged, list[str]]:
    """Each parameter set's position on ``closes`` (oldest first), merged with the pool's
    weights exactly as written. A set without enough history gives 0, with a note."""
    signals: list[ParameterSignal] = []
    notes: list[str] = []
    for ps in pool.parameter_sets:
        if ps.model == "constant":
            assert ps.position is not None  # noqa: S101 - the model validator ensured it
            position = ps.position
        else:
            assert ps.fast is not None  # noqa: S101 - the model validator ensured it
            assert ps.slow is not None  # noqa: S101 - the model validator ensured it
            cross = EmaCross(ps.fast, ps.slow)
            value: int | None = None
            for close in closes:
                value = cross.update(close)
            if value is None:
                notes.append(f"{ps.name}: {len(closes)} closes, needs {ps.slow}; position 0")
            position = float(value or 0)
        signals.append(ParameterSignal(ps.name, position, ps.weight))
    return merge(signals), notes
