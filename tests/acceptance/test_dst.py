"""Deterministic simulation, as CI runs it (issue 13 item 5): 1,000 seeds of 200 steps,
each with at least one crash and a schedule of venue, market and operator faults,
against the kernel's engine and the sim venue; every invariant holds after every step
and at the end of each seed (``bastion.testing.dst.invariants``). A failure prints its
seed, the command that replays it, and its shrunk schedule.
"""

from __future__ import annotations

import json

import pytest

from bastion.testing.dst.batch import run_seeds
from bastion.testing.dst.schedule import FaultKind

SEEDS = 1_000


@pytest.mark.slow
def test_dst_thousand_seeds_keep_every_invariant(capsys: pytest.CaptureFixture[str]) -> None:
    batch = run_seeds(range(SEEDS), jobs=2)
    figures = batch.as_dict()
    with capsys.disabled():  # the figures go to the CI log on every run
        print(f"\ndst figures: {json.dumps({k: v for k, v in figures.items() if k != 'failures'})}")
    assert not batch.failures, json.dumps(figures["failures"], indent=1)
    assert batch.seeds == SEEDS
    assert batch.steps >= 200 * SEEDS
    assert batch.min_crashes is not None
    assert batch.min_crashes >= 1
    applied = {kind.split(" ")[0] for kind in batch.faults}
    kinds = {str(k) for k in FaultKind} - {"reject"} | {"reject_retryable", "reject_final"}
    assert kinds <= applied, kinds - applied
    venue = figures["venue_reports_hidden_or_made_up"]
    assert {"drop", "duplicate", "late_fill", "lost"} <= set(venue)
