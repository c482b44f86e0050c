"""The IB adapter built from a profile: the registry's builder for ``kind: ib``.

Each role connects with its own client id (``config.client_id_for``: the profile's base
``venue.client_id`` plus the role's offset), to the profile's host and port (the port
must fit the environment: ``bastion.config``), for the profile's account. The contracts
are the profile's own (``venue.contracts``), with the bundled specs; each is qualified
at IB and checked against its spec when the venue connects.
"""

from __future__ import annotations

from bastion.clock import Clock
from bastion.config import Environment, Profile
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId
from bastion.venues.fix.profile import profile_fix_contracts
from bastion.venues.ib.config import IbConfig, client_id_for
from bastion.venues.ib.execution import IbVenue

__all__ = ["BUILDER", "IbBuilder", "ib_config_for"]

DEFAULT_PORTS = {Environment.PAPER: 7497, Environment.LIVE: 7496}


def ib_config_for(profile: Profile, role: str, *, timeout: float = 5.0) -> IbConfig:
    venue = profile.venue
    return IbConfig(
        host=venue.host,
        port=venue.port or DEFAULT_PORTS.get(profile.environment, 7497),
        client_id=client_id_for(venue.client_id, role),
        account=profile.account,
        paper=profile.environment is not Environment.LIVE,
        role=role,
        read_only=venue.read_only,
        connect_timeout=timeout,
        query_timeout=timeout,
        market_data_type=venue.market_data_type,
        market_as_limit_ticks=venue.market_as_limit_ticks,
    )


class IbBuilder:
    def contracts(self, profile: Profile) -> dict[ContractId, ContractSpec]:
        """The contracts listed in ``venue.contracts``, with the bundled specs."""
        return profile_fix_contracts(profile)

    def build(self, profile: Profile, role: str, clock: Clock, *, timeout: float) -> IbVenue:
        return IbVenue(ib_config_for(profile, role, timeout=timeout), self.contracts(profile))


BUILDER = IbBuilder()
