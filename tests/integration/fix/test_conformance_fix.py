"""The FIX adapter passes every numbered venue conformance case against the paper venue,
over a real loopback TCP connection (VC-xx).

Invariant: a venue reached through FIX 4.4 behaves as the ``VenuePort`` promises, exactly
as the in-process sim venue does, so the engine cannot tell them apart.
"""

from __future__ import annotations

import pytest

from bastion.testing.conformance import CASES, applicable_cases, run_case
from bastion.testing.conformance_base import ConformanceHarness, VenueSetup
from bastion.testing.paper_harness import PaperFixHarness

_open: list[PaperFixHarness] = []


def _factory(setup: VenueSetup) -> ConformanceHarness:
    harness = PaperFixHarness(setup)
    _open.append(harness)
    return harness


@pytest.fixture(autouse=True)
def _close_harnesses() -> object:
    yield
    while _open:
        _open.pop().close()


def test_conformance_fix_harness_offers_every_capability_so_no_case_is_left_out() -> None:
    assert applicable_cases(PaperFixHarness.capabilities) == sorted(CASES)


@pytest.mark.parametrize("case_id", applicable_cases(PaperFixHarness.capabilities))
def test_conformance_fix_case_passes(case_id: str) -> None:
    run_case(case_id, _factory)
