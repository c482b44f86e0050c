"""Many seeds at once: the figures ``bench/dst.py`` prints and the CI test asserts.

``run_seeds(seeds, jobs=...)`` runs each seed's generated schedule (in ``jobs`` worker
processes; the results do not depend on how many) and sums what happened: steps,
crashes, faults applied by kind, what the venue's faults hid or made up, and the checks
the auditor made. Each failing seed is shrunk (``shrink.py``) and reported with the one
line that replays it exactly.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bastion.testing.dst.runner import run
from bastion.testing.dst.schedule import DEFAULT_STEPS, Schedule, generate
from bastion.testing.dst.shrink import shrink

__all__ = ["BatchResult", "Failure", "replay_command", "run_seeds"]

MAX_SHRUNK = 3
"""Failing seeds shrunk per batch (each shrink is a few hundred runs)."""


def replay_command(seed: int, steps: int = DEFAULT_STEPS) -> str:
    extra = "" if steps == DEFAULT_STEPS else f" --steps {steps}"
    return f"python bench/dst.py --seeds 1 --seed-base {seed}{extra}"


@dataclass
class Failure:
    seed: int
    invariant: str
    detail: str
    replay: str
    shrunk: Schedule | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seed": self.seed,
            "invariant": self.invariant,
            "detail": self.detail,
            "replay": self.replay,
        }
        if self.shrunk is not None:
            out["shrunk"] = self.shrunk.render().splitlines()
            out["shrunk_json"] = self.shrunk.to_json()
        return out


@dataclass
class BatchResult:
    seeds: int
    seed_base: int
    steps: int = 0
    passes: int = 0
    crashes: int = 0
    min_crashes: int | None = None
    """The fewest crashes any one seed that ran to its end had."""
    sends: int = 0
    fills: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    jobs: int = 1

    def as_dict(self) -> dict[str, Any]:
        n = max(self.seeds, 1)
        venue = {
            k.removeprefix("venue "): v for k, v in self.checks.items() if k.startswith("venue ")
        }
        checks = {k: v for k, v in self.checks.items() if not k.startswith("venue ")}
        return {
            "seeds": self.seeds,
            "seed_base": self.seed_base,
            "mean_steps_per_seed": round(self.steps / n, 1),
            "mean_passes_per_seed": round(self.passes / n, 1),
            "mean_crashes_per_seed": round(self.crashes / n, 2),
            "min_crashes_per_seed": self.min_crashes,
            "mean_orders_sent_per_seed": round(self.sends / n, 1),
            "mean_fills_per_seed": round(self.fills / n, 1),
            "faults_by_kind": dict(sorted(self.faults.items())),
            "venue_reports_hidden_or_made_up": dict(sorted(venue.items())),
            "invariant_checks": dict(sorted(checks.items())),
            "failures": [f.as_dict() for f in self.failures],
            "seconds": round(self.seconds, 2),
            "seeds_per_second": round(self.seeds / self.seconds, 1) if self.seconds else None,
            "jobs": self.jobs,
        }


@dataclass(frozen=True)
class _Outcome:
    seed: int
    steps: int
    passes: int
    crashes: int
    sends: int
    fills: int
    faults: dict[str, int]
    checks: dict[str, int]
    failure: tuple[str, str] | None


def _one(args: tuple[int, int]) -> _Outcome:
    seed, steps = args
    result = run(generate(seed, steps))
    broken = result.failure
    return _Outcome(
        seed,
        result.steps,
        result.passes,
        result.crashes,
        result.sends,
        result.fills,
        dict(result.faults),
        result.checks,
        None if broken is None else (broken.invariant, broken.detail),
    )


def run_seeds(
    seeds: Sequence[int] | Iterable[int],
    *,
    jobs: int = 1,
    steps: int = DEFAULT_STEPS,
    shrink_failures: bool = True,
) -> BatchResult:
    seeds = list(seeds)
    started = time.perf_counter()
    batch = BatchResult(len(seeds), seeds[0] if seeds else 0, jobs=jobs)
    work = [(seed, steps) for seed in seeds]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            outcomes = list(pool.map(_one, work, chunksize=max(1, len(work) // (jobs * 8))))
    else:
        outcomes = [_one(item) for item in work]
    for out in outcomes:
        batch.steps += out.steps
        batch.passes += out.passes
        batch.crashes += out.crashes
        if out.failure is None and (batch.min_crashes is None or out.crashes < batch.min_crashes):
            batch.min_crashes = out.crashes  # a failing seed stops early, maybe before it
        batch.sends += out.sends
        batch.fills += out.fills
        batch.faults.update(out.faults)
        batch.checks.update(out.checks)
        if out.failure is not None:
            invariant, detail = out.failure
            batch.failures.append(
                Failure(out.seed, invariant, detail, replay_command(out.seed, steps))
            )
    if shrink_failures:
        for found in batch.failures[:MAX_SHRUNK]:
            found.shrunk = shrink(generate(found.seed, steps), found.invariant)
    batch.seconds = time.perf_counter() - started
    return batch
