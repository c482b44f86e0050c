"""A fake TWS, an IB venue connected to it, and the OMS and reconciler around them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bastion.clock import WallClock
from bastion.oms.manager import OrderManager
from bastion.recon import LockBook, Reconciler
from bastion.store.sqlite import SqliteStore, StoreMode
from bastion.testing.conformance_base import VenueSetup
from bastion.testing.fake_tws import FakeTws
from bastion.testing.ib_harness import PAPER_ACCOUNT, fake_tws_for
from bastion.testing.oms_driver import OmsDriver
from bastion.testing.venue_stubs import CONTRACT, stub_spec
from bastion.venues.ib.config import IbConfig
from bastion.venues.ib.execution import IbVenue

BID, ASK = 16000, 16001


@dataclass
class World:
    tws: FakeTws
    venue: IbVenue
    oms: OrderManager
    store: SqliteStore
    rec: Reconciler
    driver: OmsDriver
    clock: WallClock

    def settle(self) -> None:
        """Every order call the venue made has reached the fake (a round trip)."""
        assert self.venue.sync()


def ib_venue(tws: FakeTws, **config: object) -> IbVenue:
    settings: dict[str, object] = {
        "port": tws.port,
        "client_id": 10,
        "account": PAPER_ACCOUNT,
        "paper": True,
        "sync_polls": True,
        "reconnect_initial": 0.05,
        "reconnect_max": 0.2,
        "connect_timeout": 5.0,
        "query_timeout": 5.0,
        **config,
    }
    return IbVenue(IbConfig(**settings), {CONTRACT: stub_spec()})  # type: ignore[arg-type]


@contextmanager
def ib_world(
    tmp_path: Path,
    *,
    connect: bool = True,
    fake: dict[str, object] | None = None,
    **config: object,
) -> Iterator[World]:
    tws = fake_tws_for(VenueSetup(), **(fake or {}))
    venue = ib_venue(tws, **config)
    clock = WallClock()
    store = SqliteStore(tmp_path / "paper-journal.db", mode=StoreMode.LIVE, clock=clock)
    oms = OrderManager(store)
    world = World(
        tws=tws,
        venue=venue,
        oms=oms,
        store=store,
        rec=Reconciler(oms, LockBook(store), clock, journal=store),
        driver=OmsDriver(venue, oms, clock),
        clock=clock,
    )
    try:
        if connect:
            assert venue.connect(), venue.last_disconnect_reason
            world.settle()  # the fake has read everything the connect sent
            tws.broker.set_quote(CONTRACT, BID, ASK)
        yield world
    finally:
        venue.disconnect()
        tws.stop()
        store.close()
