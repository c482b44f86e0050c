"""Invariant: each Bastion role connects to IB with its own client id, derived from the
profile's base id by a fixed rule; id 0 (TWS's own) and unknown roles are refused; an
IB profile lists its contracts and keeps the port/account rules of its environment."""

from __future__ import annotations

import pytest

from bastion.config import parse_profile
from bastion.errors import ConfigError
from bastion.venues.ib.config import DEFAULT_BASE_CLIENT_ID, ROLE_OFFSETS, IbConfig, client_id_for
from bastion.venues.ib.profile import ib_config_for


def _profile(**venue: object) -> dict[str, object]:
    return {
        "name": "ib-paper",
        "environment": "paper",
        "strategy_line": "ema",
        "capital": 100000,
        "account": "DU1234567",
        "instruments": ["SP500"],
        "store": {"path": "runs/paper/journal.db"},
        "venue": {"kind": "ib", "port": 7497, "contracts": ["SP500/202406"], **venue},
    }


def test_client_id_for_each_role_is_base_plus_its_offset() -> None:
    ids = {role: client_id_for(20, role) for role in ROLE_OFFSETS}
    assert ids == {
        "engine": 20, "probe": 21, "gate": 22, "smoke": 23, "watch": 24, "reconcile": 25,
        "flatten": 26, "kill": 20, "watchdog": 20,
    }  # fmt: skip
    # Every process role has its own id; the kill switch and the watchdog act for the
    # engine when it is not running, so they use the engine's id (its orders are theirs).
    own = {r: i for r, i in ids.items() if r not in {"kill", "watchdog"}}
    assert len(set(own.values())) == len(own)


def test_client_id_for_no_base_uses_the_default() -> None:
    assert client_id_for(None, "engine") == DEFAULT_BASE_CLIENT_ID


def test_client_id_for_zero_base_or_unknown_role_refused() -> None:
    with pytest.raises(ConfigError, match="client id 0 is TWS's own"):
        client_id_for(0, "engine")
    with pytest.raises(ConfigError, match="role 'strategy' has no client id"):
        client_id_for(10, "strategy")


def test_ib_config_bad_values_refused() -> None:
    with pytest.raises(ConfigError, match="market data type 7"):
        IbConfig(port=7497, client_id=10, account="DU1", paper=True, market_data_type=7)
    with pytest.raises(ConfigError, match="query_timeout must be positive"):
        IbConfig(port=7497, client_id=10, account="DU1", paper=True, query_timeout=0)


def test_ib_profile_without_contracts_refused() -> None:
    raw = _profile()
    raw["venue"] = {"kind": "ib", "port": 7497}
    with pytest.raises(ConfigError, match=r"venue\.contracts: an IB venue trades only"):
        parse_profile(raw, "test")


def test_ib_profile_client_id_zero_refused() -> None:
    with pytest.raises(ConfigError, match=r"venue\.client_id 0 is TWS's own client"):
        parse_profile(_profile(client_id=0), "test")


def test_ib_profile_live_port_on_paper_still_refused() -> None:
    with pytest.raises(ConfigError, match="7496 is an IB live port"):
        parse_profile(_profile(port=7496), "test")


def test_ib_config_for_role_uses_the_profile() -> None:
    profile = parse_profile(
        _profile(client_id=30, market_data_type=3, market_as_limit_ticks=2, read_only=True),
        "test",
    )
    config = ib_config_for(profile, "probe", timeout=2.0)
    assert (config.client_id, config.port, config.account) == (31, 7497, "DU1234567")
    assert config.paper
    assert config.read_only
    assert (config.market_data_type, config.market_as_limit_ticks) == (3, 2)
    assert config.query_timeout == 2.0
