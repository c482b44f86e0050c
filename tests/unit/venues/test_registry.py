"""Invariant: a venue is built by the builder its kind registered, from the profile's own
facts; no profile is given another venue's contracts, and a kind nobody registered is
refused before anything connects, naming the kinds that exist."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bastion.clock import SimClock, utc
from bastion.config import parse_profile
from bastion.domain.ids import ContractId
from bastion.errors import ConfigError
from bastion.venues.fix.execution import FixVenue
from bastion.venues.registry import builder_for, open_venue, profile_contracts, registered_kinds
from tests.conftest import REPO, CliResult


def _live_fix(**venue: object) -> dict[str, object]:
    return {
        "name": "live-fix",
        "environment": "live",
        "strategy_line": "ema_trend",
        "capital": 1_000_000,
        "account": "LIVE-001",
        "instruments": ["SP500"],
        "store": {"path": "runs/live/journal.db"},
        "venue": {"kind": "fix", "host": "127.0.0.1", "port": 9999, **venue},
    }


def test_registry_live_fix_profile_gets_its_own_contracts_not_the_paper_venues() -> None:
    profile = parse_profile(_live_fix(contracts=["SP500/202406"]), "test")
    contracts = profile_contracts(profile)
    assert set(contracts) == {ContractId("SP500/202406")}
    assert contracts[ContractId("SP500/202406")].exchange != "PAPER"
    venue = open_venue(profile, "engine", SimClock(utc(2026, 1, 5)), timeout=0.1)
    assert isinstance(venue, FixVenue)
    assert set(venue.contracts.specs) == {ContractId("SP500/202406")}


def test_registry_fix_profile_without_contracts_refused() -> None:
    with pytest.raises(ConfigError, match=r"venue\.contracts: a FIX venue trades only"):
        parse_profile(_live_fix(), "test")


def test_registry_contract_of_another_instrument_refused() -> None:
    with pytest.raises(ConfigError, match="not in instruments"):
        parse_profile(_live_fix(contracts=["ES/202606"]), "test")


def test_registry_unknown_kind_refused_listing_registered_kinds(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    data = yaml.safe_load((REPO / "examples" / "sim.yaml").read_text())
    data["venue"]["kind"] = "carrier-pigeon"
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    result = cli(["config", "validate", str(path)])
    assert result.code == 2
    assert "Traceback" not in result.err
    line = result.err.strip()
    assert "'carrier-pigeon' has no registered builder" in line
    for kind in registered_kinds():
        assert kind in line


def test_registry_every_kind_names_a_builder_module() -> None:
    for kind in ("sim", "fix"):
        builder = builder_for(kind)
        assert callable(builder.build)
        assert callable(builder.contracts)
