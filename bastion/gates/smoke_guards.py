"""The smoke order's two guards, per venue kind (R8.5, issue 18 item 5).

A smoke order needs an enabling environment variable set to ``1`` AND an exact phrase on
the command line. CTP operators already use their own pair (``CTP_SMOKE_ORDER_ENABLED``
and ``I_UNDERSTAND_THIS_SENDS_CTP_TEST_ORDERS``), so a CTP profile asks for those; every
other venue keeps Bastion's pair. ``smoke_guard(kind)`` is the one place that says which;
the smoke gate reads the pair from it.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DEFAULT_GUARD", "GUARDS", "SmokeGuard", "smoke_guard"]


class SmokeGuard(NamedTuple):
    flag: str
    """The environment variable that must be ``1``."""
    phrase: str
    """The exact confirmation phrase (``--confirm-submit``)."""


DEFAULT_GUARD = SmokeGuard("BASTION_SMOKE_ORDER_ENABLED", "I_UNDERSTAND_THIS_SENDS_TEST_ORDERS")

GUARDS: dict[str, SmokeGuard] = {
    "ctp": SmokeGuard("CTP_SMOKE_ORDER_ENABLED", "I_UNDERSTAND_THIS_SENDS_CTP_TEST_ORDERS"),
}
"""Venue kinds whose operators have their own pair; the rest use ``DEFAULT_GUARD``."""


def smoke_guard(venue_kind: str) -> SmokeGuard:
    """The (flag, phrase) a smoke order on a venue of ``venue_kind`` must have."""
    return GUARDS.get(venue_kind, DEFAULT_GUARD)
