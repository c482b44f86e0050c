"""Shrinking a failing schedule to a short one that fails the same way (delta debugging).

``shrink(schedule, invariant)`` first cuts the run short after the step where the
invariant broke (a run is deterministic step by step, so the same break happens at the
same step), then removes faults with Zeller's ddmin: try dropping each of ``n`` chunks,
keep any smaller schedule that still breaks the *same* invariant, refine the chunks
when none does, and stop at a schedule from which no single fault can be removed (or
when the budget of runs is spent). The seed stays: the market's path comes from it.
"""

from __future__ import annotations

from collections.abc import Callable

from bastion.testing.dst.runner import RunResult, run
from bastion.testing.dst.schedule import Fault, Schedule

__all__ = ["shrink"]


def shrink(
    schedule: Schedule,
    invariant: str,
    *,
    budget: int = 400,
    runner: Callable[[Schedule], RunResult] = run,
) -> Schedule:
    """The smallest schedule found that still breaks ``invariant`` (see the docstring)."""
    runs = 0

    def fails(candidate: Schedule) -> bool:
        nonlocal runs
        runs += 1
        result = runner(candidate)
        return result.failure is not None and result.failure.invariant == invariant

    best = schedule
    first = runner(schedule)
    if first.failure is None or first.failure.invariant != invariant:
        return schedule
    step = first.failure.step
    if step is not None and step + 1 < schedule.steps:
        shorter = Schedule(
            schedule.seed,
            step + 1,
            tuple(f for f in schedule.faults if f.step <= step),
            schedule.algo,
        )
        if fails(shorter):
            best = shorter
    faults: list[Fault] = list(best.faults)
    chunks = 2
    while len(faults) >= 2 and runs < budget:
        size = -(-len(faults) // chunks)
        parts = [faults[i : i + size] for i in range(0, len(faults), size)]
        reduced = False
        for index in range(len(parts)):
            complement = [f for j, part in enumerate(parts) if j != index for f in part]
            if fails(best.with_faults(complement)):
                faults, chunks, reduced = complement, max(chunks - 1, 2), True
                break
            if runs >= budget:
                break
        if not reduced:
            if chunks >= len(faults):
                break
            chunks = min(len(faults), chunks * 2)
    if len(faults) == 1 and runs < budget and fails(best.with_faults([])):
        faults = []
    return best.with_faults(faults)
