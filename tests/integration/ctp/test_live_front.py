"""Opt-in checks against a real CTP front (SimNow or a broker's test front): read-only.

Runs only with ``BASTION_BROKER_TESTS=1`` and the credential variables of the profile in
``BASTION_CTP_PROFILE`` (default ``examples/simnow.yaml``); otherwise skipped, saying so.

Invariant: against a real front the login sequence completes every step (market login,
authentication, login, settlement confirmation, the contract check), account and
positions are known (never guessed), and no order API is reached.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bastion.clock import WallClock
from bastion.config import load_profile
from bastion.venues.modes import ReadOnlyVenue
from bastion.venues.registry import open_venue
from tests.conftest import REPO
from tests.ctp_binding import require_ctp_binding

pytestmark = pytest.mark.broker


def _profile_path() -> Path:
    return Path(os.environ.get("BASTION_CTP_PROFILE", str(REPO / "examples" / "simnow.yaml")))


def _skip_reason() -> str | None:
    if os.environ.get("BASTION_BROKER_TESTS") != "1":
        return "opt-in: set BASTION_BROKER_TESTS=1 (and the profile's CTP credentials)"
    profile = load_profile(_profile_path())
    missing = [
        var
        for var in (profile.venue.user_env, profile.venue.password_env, profile.venue.auth_code_env)
        if var and not os.environ.get(var)
    ]
    return f"credentials not set: {', '.join(missing)}" if missing else None


def test_live_front_read_only_login_and_snapshots() -> None:
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(reason)
    require_ctp_binding()
    profile = load_profile(_profile_path())
    clock = WallClock()
    venue = ReadOnlyVenue(open_venue(profile, "probe", clock, timeout=15.0), clock)
    try:
        assert venue.connect(), venue.last_disconnect_reason
        steps = {s.name: s for s in venue.login_steps()}
        for name in ("trading_authentication", "trading_login", "settlement_confirmation"):
            assert steps[name].ok, steps[name]
        assert venue.account().is_known
        assert venue.positions().is_known
        assert venue.counters.total == 0
    finally:
        venue.disconnect()
