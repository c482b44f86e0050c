"""Only configured clients log on to the paper venue, by a documented rule.

Invariants: an allowed base CompID admits itself and ``<base>.<ROLE>`` for exactly the
engine's roles (SESSION_ROLES), nothing else; a client with credentials must present
both, and a refusal never echoes them; credentials come only from environment
variables, and a variable that is not set is a ConfigError naming it.
"""

from __future__ import annotations

import pytest

from bastion.errors import ConfigError
from bastion.secrets import Secret
from bastion.venues.fix.config import SESSION_ROLES
from bastion.venues.paper.access import AllowedClient, LogonPolicy, clients_from_environment

POLICY = LogonPolicy([AllowedClient("BASTION"), AllowedClient("DESK", "trader", Secret("pw-1"))])


@pytest.mark.parametrize("role", SESSION_ROLES)
def test_access_base_comp_id_admits_each_engine_role(role: str) -> None:
    assert POLICY.refusal(f"BASTION.{role}", None, None) is None


@pytest.mark.parametrize("comp_id", ["EVIL", "BASTION.EVIL", "BASTIONX", "bastion", "X.BASTION"])
def test_access_other_comp_ids_are_refused(comp_id: str) -> None:
    refusal = POLICY.refusal(comp_id, None, None)
    assert refusal is not None
    assert "not allowed" in refusal


def test_access_credentials_must_match_and_are_never_echoed() -> None:
    assert POLICY.refusal("DESK", "trader", "pw-1") is None
    assert POLICY.refusal("DESK.ENGINE", "trader", "pw-1") is None
    for user, password in (("trader", "wrong-pw"), (None, "pw-1"), ("trader", None)):
        refusal = POLICY.refusal("DESK", user, password)
        assert refusal is not None
        assert "wrong-pw" not in refusal
        assert "pw-1" not in refusal


def test_access_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPER_FIX_USER", "trader")
    monkeypatch.setenv("PAPER_FIX_PASSWORD", "pw-2")
    (client,) = clients_from_environment(["BASTION"], "PAPER_FIX_USER", "PAPER_FIX_PASSWORD")
    assert client.username == "trader"
    assert client.password == Secret("pw-2")
    assert "pw-2" not in repr(client)
    monkeypatch.delenv("PAPER_FIX_PASSWORD")
    with pytest.raises(ConfigError, match="PAPER_FIX_PASSWORD is not set"):
        clients_from_environment(["BASTION"], "PAPER_FIX_USER", "PAPER_FIX_PASSWORD")


def test_access_bad_comp_id_in_configuration_is_refused() -> None:
    with pytest.raises(ConfigError, match="--allow"):
        clients_from_environment(["BAD ID"], None, None)


def test_access_every_role_the_code_opens_a_venue_for_is_admitted() -> None:
    """A process role missing from SESSION_ROLES would be refused by the paper venue."""
    import re

    from tests.conftest import REPO

    roles = set()
    for path in (REPO / "bastion").rglob("*.py"):
        roles |= set(re.findall(r"open_venue\(\s*\w+,\s*\"(\w+)\"", path.read_text()))
    assert roles  # the scan found the call sites
    assert {r.upper() for r in roles} <= set(SESSION_ROLES)
    assert POLICY.refusal("BASTION.ENGINE", None, None) is None
