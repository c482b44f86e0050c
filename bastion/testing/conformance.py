"""The venue conformance suite (STYLE.md 8): numbered cases any ``VenuePort`` can run.

A venue takes part by supplying a ``HarnessFactory``: given the ``VenueSetup`` a case
asks for, it returns a ``ConformanceHarness`` (the venue, connected, plus controls to
drive its market). The sim venue's harness is ``bastion.testing.sim_harness``; later
adapters (FIX, IB, CTP) supply one built on their fakes. Run it from pytest::

    @pytest.mark.parametrize("case_id", applicable_cases(MY_CAPABILITIES))
    def test_conformance_case_passes(case_id):
        run_case(case_id, my_factory)

Cases never change meaning once numbered; a new behaviour gets a new number.
``CASE_TITLES`` is the matrix printed in ``docs/sim-venue.md``.
"""

from __future__ import annotations

from bastion.testing import conformance_orders, conformance_state
from bastion.testing.conformance_base import (
    CASES,
    Capability,
    ConformanceCase,
    ConformanceError,
    ConformanceHarness,
    HarnessFactory,
    VenueSetup,
)

__all__ = [
    "CASES",
    "CASE_TITLES",
    "Capability",
    "ConformanceCase",
    "ConformanceError",
    "ConformanceHarness",
    "HarnessFactory",
    "VenueSetup",
    "applicable_cases",
    "run_case",
]

_MODULES = (conformance_orders, conformance_state)  # importing them registers the cases

CASE_TITLES: dict[str, str] = {cid: CASES[cid].title for cid in sorted(CASES)}


def applicable_cases(capabilities: frozenset[Capability]) -> list[str]:
    """Case ids a harness with ``capabilities`` can run, in number order."""
    return [cid for cid in sorted(CASES) if CASES[cid].applies_to(capabilities)]


def run_case(case_id: str, factory: HarnessFactory) -> None:
    """Build a fresh harness for the case and run it; raises ``ConformanceError``."""
    found = CASES[case_id]
    harness = factory(found.setup)
    missing = found.needs - harness.capabilities
    if missing:
        raise ConformanceError(f"{case_id} needs {sorted(missing)} the harness does not offer")
    found.run(harness)
