"""A fake CTP counter with SHFE rebar and DCE soybean meal, and CTP adapters logged in
to it, on a simulated clock (Monday 2024-04-29, 10:00 in Beijing)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bastion.clock import SimClock, utc
from bastion.domain.ids import ContractId
from bastion.marketdata.specs import SpecRegistry
from bastion.testing.fake_ctp import FakeCtpCounter
from bastion.testing.fake_ctp.harness import fake_config
from bastion.venues.ctp.execution import CtpVenue
from bastion.venues.ctp.instruments import CtpContracts
from tests.ctp_binding import require_ctp_binding

RB = ContractId("rb/202410")
M = ContractId("m/202409")


@dataclass
class Kit:
    counter: FakeCtpCounter
    clock: SimClock
    folder: Path
    venues: list[CtpVenue] = field(default_factory=list)

    def venue(self, *, connect: bool = True, shared_map: bool = True, **config: object) -> CtpVenue:
        if shared_map:
            config.setdefault("order_map_path", self.folder / "ctp-orders.jsonl")
        registry = SpecRegistry.bundled()
        contracts = CtpContracts({RB: registry["rb"], M: registry["m"]})
        venue = CtpVenue(
            fake_config(**config),
            self.counter.binding,
            self.clock,
            contracts,
            self.counter.trader_port,
            md_port=self.counter.md_port,
        )
        self.venues.append(venue)
        if connect:
            assert venue.connect(), venue.last_disconnect_reason
        return venue

    def next_day(self, trading_day: str = "20240430") -> CtpVenue:
        """The close, a new trading day (today's books become yesterday's), a new login."""
        for venue in self.venues:
            venue.disconnect()
        self.counter.roll_day(trading_day)
        self.quotes()
        return self.venue()

    def quotes(self) -> None:
        self.counter.set_quote(RB, 3850, 3851, bid_size=50, ask_size=50)
        self.counter.set_quote(M, 3400, 3401, bid_size=50, ask_size=50)


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    require_ctp_binding()  # before the binding is imported (without the locale it aborts)
    registry = SpecRegistry.bundled()
    clock = SimClock(utc(2024, 4, 29, 2, 0))
    counter = FakeCtpCounter({RB: registry["rb"], M: registry["m"]}, clock)
    found = Kit(counter, clock, tmp_path)
    found.quotes()
    yield found
    for venue in found.venues:
        venue.disconnect()
