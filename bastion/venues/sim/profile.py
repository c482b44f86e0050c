"""The sim venue built from a profile: the registry's builder for ``kind: sim``.

Its contracts are the profile's instruments' contracts found in the profile's bar store,
with the bundled specs. An in-process sim venue lives only as long as its process: a
new one starts flat.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bastion.clock import Clock
from bastion.config import Profile
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId
from bastion.venues.sim.config import SimVenueConfig
from bastion.venues.sim.execution import SimVenue

__all__ = ["BUILDER", "SimBuilder"]


class SimBuilder:
    def contracts(self, profile: Profile) -> dict[ContractId, ContractSpec]:
        from bastion.marketdata.bars import BarStore
        from bastion.marketdata.specs import SpecRegistry

        registry = SpecRegistry.bundled()
        store = BarStore(Path(profile.data.dir))
        out: dict[ContractId, ContractSpec] = {}
        for iid in profile.instruments:
            spec = registry[iid].contract
            for cid, size in store.contracts(iid):
                if size == "1m":
                    out[ContractId(cid)] = spec
        return out

    def config(self, profile: Profile) -> SimVenueConfig:
        return SimVenueConfig(
            seed=profile.venue.seed,
            initial_cash=Decimal(profile.capital),
            currency=profile.currency,
            rates=dict(profile.fx.rates),
        )

    def build(self, profile: Profile, role: str, clock: Clock, *, timeout: float) -> SimVenue:
        return SimVenue(self.contracts(profile), clock, self.config(profile))


BUILDER = SimBuilder()
