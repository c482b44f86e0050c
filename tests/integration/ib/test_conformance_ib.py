"""The IB adapter passes the venue conformance cases against the fake TWS, through
ib_async and IB's wire protocol on loopback (VC-xx); the cases IB cannot do are skipped
with the reason.

Invariant: a venue reached through Interactive Brokers behaves as the ``VenuePort``
promises, as the sim venue and the FIX adapter do, wherever IB's own rules allow.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bastion.testing.conformance import CASES, run_case
from bastion.testing.conformance_base import ConformanceHarness, VenueSetup
from bastion.testing.ib_harness import IbFakeHarness

IB_CANNOT = {
    "VC-25": "IB holds an order sent outside the trading session until the market opens"
    " (warning 399); it does not reject it",
    "VC-38": "IB holds orders in a halted contract until trading resumes; it does not reject them",
    "VC-40": "the IB adapter drops a repeated execId itself (IB can report an execution"
    " twice), so the duplicate never reaches the OMS; test_fault_duplicate_exec_ids shows it",
}

_open: list[IbFakeHarness] = []


def _factory(setup: VenueSetup) -> ConformanceHarness:
    harness = IbFakeHarness(setup)
    _open.append(harness)
    return harness


@pytest.fixture(autouse=True)
def _close_harnesses() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


def test_conformance_ib_every_case_runs_or_says_why_ib_cannot() -> None:
    assert set(IB_CANNOT) <= set(CASES)
    assert len(CASES) >= 40
    assert all(IbFakeHarness.capabilities >= c.needs for c in CASES.values())


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_conformance_ib_case_passes(case_id: str) -> None:
    if case_id in IB_CANNOT:
        pytest.skip(f"{case_id}: {IB_CANNOT[case_id]}")
    run_case(case_id, _factory)
