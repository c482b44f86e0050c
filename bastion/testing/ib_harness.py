"""The conformance harness for the IB adapter against the fake TWS.

Each case gets a fresh fake TWS on a loopback port the OS picks, with a manual clock
and the case's ``VenueSetup`` (cash, commission, price band, time in force refused),
and an ``IbVenue`` connected to it through ib_async. The harness drives the fake's
market directly (it is in this process); the adapter sees everything only through IB's
wire protocol. ``IbVenue`` runs with ``sync_polls``: each ``poll_events`` first makes a
round trip to the fake, so every report the fake sent before it has been read, and
each market control first makes one, so every order call the adapter made before it has
reached the fake (the controls do not travel on the adapter's connection).
"""

from __future__ import annotations

import datetime as dt

from bastion.domain.ids import ContractId
from bastion.testing.conformance_base import Capability, VenueSetup
from bastion.testing.fake_tws import FakeTws, FakeTwsConfig, fake_contract
from bastion.testing.venue_stubs import CONTRACT, START, stub_spec
from bastion.venues.ib.config import IbConfig
from bastion.venues.ib.execution import IbVenue
from bastion.venues.port import VenuePort

__all__ = ["PAPER_ACCOUNT", "IbFakeHarness", "fake_tws_for"]

PAPER_ACCOUNT = "DU1234567"
CON_ID = 495512563


def fake_tws_for(setup: VenueSetup, **changes: object) -> FakeTws:
    band = None if setup.price_band is None else str(setup.price_band)
    spec = stub_spec(price_band=band)
    settings: dict[str, object] = {
        "contracts": [fake_contract(CONTRACT, spec, con_id=CON_ID)],
        "start": START,
        "manual_clock": True,
        "start_prices": {CONTRACT: 16000},
        "initial_cash": setup.initial_cash,
        "commission_per_contract": setup.commission_per_contract,
        "unsupported_time_in_force": setup.unsupported_time_in_force,
        **changes,
    }
    config = FakeTwsConfig(**settings)  # type: ignore[arg-type]
    return FakeTws(config).start()


class IbFakeHarness:
    capabilities = frozenset(Capability)

    def __init__(self, setup: VenueSetup, *, client_id: int = 10) -> None:
        self.tws = fake_tws_for(setup)
        band = None if setup.price_band is None else str(setup.price_band)
        self.ib = IbVenue(
            IbConfig(
                port=self.tws.port,
                client_id=client_id,
                account=PAPER_ACCOUNT,
                paper=True,
                sync_polls=True,
                reconnect_initial=0.05,
                reconnect_max=0.5,
            ),
            {CONTRACT: stub_spec(price_band=band)},
        )
        self.venue: VenuePort = self.ib
        self.contract_id: ContractId = CONTRACT
        if not self.ib.connect():
            self.close()
            raise RuntimeError(
                f"the IB adapter could not connect: {self.ib.last_disconnect_reason}"
            )

    def close(self) -> None:
        self.ib.disconnect()
        self.tws.stop()

    def _settle(self) -> None:
        """Everything the adapter sent has been handled by the fake (a round trip)."""
        if self.ib.is_connected and not self.ib.sync():
            raise RuntimeError("the fake TWS did not answer a round trip")

    def now(self) -> dt.datetime:
        return self.tws.broker.clock.now()

    def set_quote(self, bid: int, ask: int, bid_size: int = 10, ask_size: int = 10) -> None:
        self._settle()
        self.tws.broker.set_quote(CONTRACT, bid, ask, bid_size, ask_size)

    def print_trade(self, price: int, size: int) -> None:
        self._settle()
        self.tws.broker.print_trade(CONTRACT, price, size)

    def advance(self, seconds: float) -> None:
        self._settle()
        self.tws.broker.advance(seconds)

    def set_session_open(self, is_open: bool) -> None:
        self._settle()
        self.tws.broker.session_open = is_open

    def end_of_day(self) -> None:
        self._settle()
        self.tws.broker.end_of_day()

    def set_reference_price(self, ticks: int) -> None:
        self._settle()
        with self.tws.broker.lock:
            self.tws.broker.sim.set_reference_price(CONTRACT, ticks)

    def halt(self) -> None:
        self._settle()
        with self.tws.broker.lock:
            self.tws.broker.sim.halt(CONTRACT)

    def duplicate_next_report(self) -> None:
        self._settle()
        self.tws.faults.duplicate_exec_next += 1

    def disconnect_for(self, seconds: float) -> None:
        self._settle()
        self.tws.drop_connections(refuse_seconds=seconds)
        if not self.ib.wait_for(lambda: not self.ib.is_connected, timeout=10):
            raise RuntimeError("the IB adapter did not notice the dropped connection")
