"""The sim venue passes every numbered venue conformance case (VC-xx).

Invariant: the sim venue behaves as the ``VenuePort`` promises, so whatever runs on it
(backtests, paper sessions, OMS tests) sees what a conforming real venue would show.
"""

from __future__ import annotations

import pytest

from bastion.testing.conformance import CASES, applicable_cases, run_case
from bastion.testing.sim_harness import SimHarness, sim_harness_factory


def test_conformance_sim_harness_offers_every_capability_so_no_case_is_left_out() -> None:
    assert applicable_cases(SimHarness.capabilities) == sorted(CASES)
    assert len(CASES) >= 40


@pytest.mark.parametrize("case_id", applicable_cases(SimHarness.capabilities))
def test_conformance_sim_case_passes(case_id: str) -> None:
    run_case(case_id, sim_harness_factory)
