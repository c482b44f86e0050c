"""The sim venue's conformance harness: a fresh ``SimVenue`` per case, on a ``SimClock``."""

from __future__ import annotations

import datetime as dt

from bastion.clock import SimClock
from bastion.domain.enums import TimeInForce
from bastion.domain.ids import ContractId
from bastion.testing.conformance_base import Capability, ConformanceHarness, VenueSetup
from bastion.testing.venue_stubs import CONTRACT, START, quote, stub_spec, trade
from bastion.venues.port import VenuePort
from bastion.venues.sim.config import SimVenueConfig
from bastion.venues.sim.execution import SimVenue

__all__ = ["SimHarness", "sim_harness_factory"]


class SimHarness:
    capabilities = frozenset(Capability)

    def __init__(self, setup: VenueSetup, config: SimVenueConfig | None = None) -> None:
        base = config if config is not None else SimVenueConfig()
        tifs = frozenset(
            tif for tif in TimeInForce if tif.value not in setup.unsupported_time_in_force
        )
        self.config = SimVenueConfig(
            **{
                **{f: getattr(base, f) for f in base.__struct_fields__},
                "initial_cash": setup.initial_cash,
                "commission_per_contract": setup.commission_per_contract,
                "supported_time_in_force": tifs,
            }
        )
        band = None if setup.price_band is None else str(setup.price_band)
        self.clock = SimClock(START)
        self.contract_id: ContractId = CONTRACT
        self._open = True
        self.sim = SimVenue(
            {CONTRACT: stub_spec(price_band=band)}, self.clock, self.config, self._is_open
        )
        self.venue: VenuePort = self.sim
        self.sim.connect()

    def _is_open(self, _contract_id: ContractId, _when: dt.datetime) -> bool:
        return self._open

    def now(self) -> dt.datetime:
        return self.clock.now()

    def set_quote(self, bid: int, ask: int, bid_size: int = 10, ask_size: int = 10) -> None:
        self.sim.on_quote(quote(bid, ask, bid_size=bid_size, ask_size=ask_size, at=self.now()))

    def print_trade(self, price: int, size: int) -> None:
        self.sim.on_trade(trade(price, size, at=self.now()))

    def advance(self, seconds: float) -> None:
        self.clock.advance(dt.timedelta(seconds=seconds))
        self.sim.advance()

    def set_session_open(self, is_open: bool) -> None:
        self._open = is_open

    def end_of_day(self) -> None:
        self.sim.end_of_day()

    def set_reference_price(self, ticks: int) -> None:
        self.sim.set_reference_price(self.contract_id, ticks)

    def halt(self) -> None:
        self.sim.halt(self.contract_id)

    def duplicate_next_report(self) -> None:
        self.sim.faults.duplicate_next()

    def disconnect_for(self, seconds: float) -> None:
        self.sim.faults.disconnect(seconds)


def sim_harness_factory(setup: VenueSetup) -> ConformanceHarness:
    return SimHarness(setup)
