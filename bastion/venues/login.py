"""Login steps a venue can report, for the read-only probe (R8.1).

A venue whose login has several steps (CTP: market login, trading authentication,
trading login, settlement confirmation, the contract check) says how each went and when,
so ``bastion probe`` reports every item the procedure requires, with its age. It is an
optional part of a venue, checked with ``isinstance(venue, ReportsLoginSteps)``; a venue
with a one-step login (the sim venue, FIX) simply does not have it.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

import msgspec

__all__ = ["SETTLEMENT_STEP", "LoginStep", "ReportsLoginSteps"]

SETTLEMENT_STEP = "settlement_confirmation"
"""The step whose result is the probe's ``settlement`` (``confirmed`` / ``unconfirmed``)."""


class LoginStep(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """``market_login``, ``trading_authentication``, ``trading_login``, ..."""
    ok: bool
    at: dt.datetime | None
    """When the step finished (``None``: not attempted)."""
    detail: str = ""
    """What it found, or why it failed (never a secret)."""


@runtime_checkable
class ReportsLoginSteps(Protocol):
    def login_steps(self) -> tuple[LoginStep, ...]:
        """The steps of the latest login, in order; empty before any."""
        ...
