"""CTP profiles keep SimNow, broker-test and live apart (R1.2): each environment has its
own credential variables, SimNow's broker id belongs to SimNow only, and the test kit's
fake front never appears in a live profile. The shipped examples validate."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.config import load_profile, parse_profile
from bastion.errors import ConfigError
from tests.conftest import REPO


def _profile(**venue: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "ctp",
        "ctp_environment": "simnow",
        "front": "tcp://127.0.0.1:10201",
        "broker_id": "9999",
        "app_id": "simnow_client_test",
        "user_env": "BASTION_SIMNOW_CTP_USER",
        "password_env": "BASTION_SIMNOW_CTP_PASSWORD",
        "auth_code_env": "BASTION_SIMNOW_CTP_AUTH_CODE",
        "contracts": ["rb/202410"],
    }
    base.update(venue)
    environment = "live" if base["ctp_environment"] == "live" else "paper"
    return {
        "name": "c",
        "environment": environment,
        "strategy_line": "ema_trend",
        "capital": 1,
        "account": "A-1",
        "instruments": ["rb"],
        "store": {"path": f"runs/{environment}/journal.db"},
        "venue": base,
    }


def test_ctp_profiles_examples_validate() -> None:
    for name in ("simnow.yaml", "ctp-broker-test.yaml"):
        assert load_profile(REPO / "examples" / name).venue.kind == "ctp"


@pytest.mark.parametrize(
    ("venue", "words"),
    [
        ({"user_env": "BASTION_LIVE_CTP_USER"}, "names the live environment"),
        ({"password_env": "BASTION_CTP_PASSWORD"}, "credentials live in variables naming it"),
        ({"ctp_environment": "broker_test"}, "SimNow's broker id is 9999 and only SimNow's"),
        ({"ctp_environment": "live", "broker_id": "9999"}, "broker_id 9999 is SimNow"),
        (
            {
                "ctp_environment": "live",
                "broker_id": "8888",
                "front": "fake://x",
                "user_env": "BASTION_LIVE_CTP_USER",
                "password_env": "BASTION_LIVE_CTP_PASSWORD",
                "auth_code_env": "BASTION_LIVE_CTP_AUTH_CODE",
            },
            "a live profile cannot use it",
        ),
        ({"ctp_environment": None}, "venue.ctp_environment"),
        ({"front": "http://x"}, "venue.front"),
    ],
)
def test_ctp_profiles_mixed_environments_are_refused(venue: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_profile(_profile(**venue), "test")


def test_ctp_profiles_a_clean_broker_test_profile_is_accepted() -> None:
    profile = parse_profile(
        _profile(
            ctp_environment="broker_test",
            broker_id="8888",
            user_env="BASTION_BROKER_TEST_CTP_USER",
            password_env="BASTION_BROKER_TEST_CTP_PASSWORD",  # noqa: S106 - a variable's name
            auth_code_env="BASTION_BROKER_TEST_CTP_AUTH_CODE",
        ),
        "test",
    )
    assert profile.venue.ctp_environment == "broker_test"
