"""The FIX adapter built from a profile: the registry's builder for ``kind: fix``.

Each process role (``config.SESSION_ROLES``: engine, probe, gate, smoke, watch,
reconcile, flatten, kill) logs on as its own FIX session ``<SenderCompID>.<ROLE>`` with
its own sequence numbers kept beside the journal, so a second run of the same command
the same day resumes its numbers instead of being logged out for a sequence number too
low. The paper venue admits these CompIDs when it allows ``<SenderCompID>``. Credentials
come only from the environment variables the profile names.

The contracts are the profile's own (``venue.contracts``, specs from the bundled
registry): a FIX broker's list is the operator's to state, never the paper venue's
defaults.
"""

from __future__ import annotations

from bastion.clock import Clock
from bastion.config import Profile
from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.ids import ContractId
from bastion.errors import ConfigError, DataError
from bastion.secrets import resolve_secret
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue

__all__ = ["BUILDER", "FixBuilder", "fix_venue_for", "profile_fix_contracts"]


def fix_venue_for(
    profile: Profile,
    contracts: dict[ContractId, ContractSpec],
    role: str,
    *,
    clock: Clock | None = None,
    **overrides: float,
) -> FixVenue:
    """``overrides`` set other ``FixConfig`` timings (reconnect backoff, timeouts);
    ``clock`` is the engine's (the venue's silence and clock skew are read on it)."""
    venue = profile.venue
    credentials: dict[str, object] = {}
    if venue.user_env is not None:
        credentials["username"] = resolve_secret(venue.user_env).reveal()
    if venue.password_env is not None:
        credentials["password"] = resolve_secret(venue.password_env)
    sender = f"{venue.sender_comp_id}.{role.upper()}"
    profile.store.path.parent.mkdir(parents=True, exist_ok=True)  # where the numbers live
    return FixVenue(
        FixConfig(
            host=venue.host,
            port=venue.port or 9878,
            sender_comp_id=sender,
            target_comp_id=venue.target_comp_id,
            heartbeat_seconds=float(venue.heartbeat_seconds),
            seq_path=profile.store.path.parent / f"fix-seq-{role.lower()}.json",
            name="paper" if profile.environment.value == "paper" else "fix",
            **credentials,  # type: ignore[arg-type]
            **overrides,  # type: ignore[arg-type]
        ),
        contracts,
        clock=clock,
    )


def profile_fix_contracts(profile: Profile) -> dict[ContractId, ContractSpec]:
    """The contracts listed in the profile's ``venue.contracts``, with bundled specs."""
    from bastion.marketdata.specs import SpecRegistry

    registry = SpecRegistry.bundled()
    out: dict[ContractId, ContractSpec] = {}
    for raw in profile.venue.contracts:
        cid = ContractId(raw)
        instrument, _ = parse_contract_id(cid)
        try:
            out[cid] = registry[instrument].contract
        except DataError:
            raise ConfigError(
                f"profile {profile.name}: venue.contracts {raw}: no contract spec for"
                f" {instrument}; add it to the spec registry"
            ) from None
    return out


class FixBuilder:
    def contracts(self, profile: Profile) -> dict[ContractId, ContractSpec]:
        return profile_fix_contracts(profile)

    def build(self, profile: Profile, role: str, clock: Clock, *, timeout: float) -> FixVenue:
        return fix_venue_for(
            profile,
            self.contracts(profile),
            role,
            clock=clock,
            connect_timeout=timeout,
            query_timeout=timeout,
        )


BUILDER = FixBuilder()
