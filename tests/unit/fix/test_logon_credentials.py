"""Invariant: a FIX broker's credentials come only from the environment and go only into
the Logon message (Username 553, Password 554): not into the profile, the message store
kept for resends, or any repr; a missing variable is refused before connecting."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from bastion.config import parse_profile
from bastion.errors import ConfigError
from bastion.secrets import Secret
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.fix.session import FixSession, MemorySeqStore
from bastion.venues.fix.wire import Framer
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO

T0 = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)


def test_logon_carries_username_and_password_fields() -> None:
    session = FixSession("BASTION", "BROKER", MemorySeqStore(), heartbeat=5)
    session.logon_fields = [(553, "trader1"), (554, "s3cr3t-pw")]
    session.logon(T0)
    framer = Framer()
    framer.feed(session.take_outbox())
    logon = framer.frames()[0].raw
    assert b"\x01553=trader1\x01" in logon
    assert b"\x01554=s3cr3t-pw\x01" in logon


def _profile(tmp_path: Path, **venue: object):  # type: ignore[no-untyped-def]
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"].update(venue)
    raw["store"] = {"path": str(tmp_path / "paper" / "journal.db")}
    raw.pop("pool", None)
    return parse_profile(raw, "test")


def test_fix_venue_credentials_resolved_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_PAPER_FIX_USER", "trader1")
    monkeypatch.setenv("BASTION_PAPER_FIX_PASSWORD", "s3cr3t-pw")
    profile = _profile(
        tmp_path,
        user_env="BASTION_PAPER_FIX_USER",
        password_env="BASTION_PAPER_FIX_PASSWORD",  # noqa: S106 - a variable's name
    )
    venue = fix_venue_for(profile, dict(DEFAULT_CONTRACTS), "engine")
    config = venue.config  # type: ignore[attr-defined]
    assert isinstance(config, FixConfig)
    assert config.username == "trader1"
    assert config.password == Secret("s3cr3t-pw")
    assert "s3cr3t-pw" not in repr(config)


def test_fix_venue_missing_password_variable_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BASTION_PAPER_FIX_PASSWORD", raising=False)
    profile = _profile(tmp_path, password_env="BASTION_PAPER_FIX_PASSWORD")  # noqa: S106
    with pytest.raises(ConfigError, match="BASTION_PAPER_FIX_PASSWORD is not set"):
        fix_venue_for(profile, dict(DEFAULT_CONTRACTS), "engine")
