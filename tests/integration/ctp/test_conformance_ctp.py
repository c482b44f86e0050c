"""The CTP adapter runs the numbered venue conformance cases (VC-xx) against the fake
CTP counter, through its real Spi and real ``openctp_ctp`` structs; each case passes, or
is skipped with the reason CTP gives (``CTP_SKIPS``).

Invariant: a venue reached through CTP behaves as the ``VenuePort`` promises, as the sim
venue and FIX do, wherever CTP's exchanges offer the same thing.
"""

from __future__ import annotations

import pytest

from bastion.testing.conformance import CASES, run_case
from bastion.testing.fake_ctp.harness import CTP_SKIPS, CtpHarness, ctp_harness_factory
from tests.ctp_binding import require_ctp_binding

require_ctp_binding()  # before any test imports the binding (it may abort)


def test_conformance_ctp_harness_offers_every_capability_and_skips_only_with_a_reason() -> None:
    assert CtpHarness.capabilities == frozenset(c for c in CtpHarness.capabilities)
    assert set(CTP_SKIPS) <= set(CASES)
    assert all(len(reason) > 30 for reason in CTP_SKIPS.values())
    assert len(CASES) - len(CTP_SKIPS) >= 34


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_conformance_ctp_case_passes(case_id: str) -> None:
    if case_id in CTP_SKIPS:
        pytest.skip(f"{case_id}: {CTP_SKIPS[case_id]}")
    run_case(case_id, ctp_harness_factory)
