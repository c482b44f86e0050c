"""The conformance harness for the FIX adapter against the paper venue.

Each case gets a fresh paper venue (its own state file, a manual clock, control
messages enabled) serving FIX on a loopback port chosen by the OS, and a ``FixVenue``
connected to it. Every harness control travels as a FIX control message, so the case
sees the venue only through the wire. ``close()`` stops both and frees the port.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
import time
from pathlib import Path

from bastion.domain.enums import TimeInForce
from bastion.domain.ids import ContractId
from bastion.testing.conformance_base import Capability, ConformanceHarness, VenueSetup
from bastion.testing.venue_stubs import CONTRACT, START, stub_spec
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue
from bastion.venues.paper.server import PaperServer, ServerConfig
from bastion.venues.port import VenuePort
from bastion.venues.sim.config import SimVenueConfig

__all__ = ["PaperFixHarness"]


class PaperFixHarness:
    capabilities = frozenset(Capability)

    def __init__(self, setup: VenueSetup) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bastion-paper-")
        tifs = frozenset(t for t in TimeInForce if t.value not in setup.unsupported_time_in_force)
        sim_config = SimVenueConfig(
            name="paper",
            initial_cash=setup.initial_cash,
            commission_per_contract=setup.commission_per_contract,
            supported_time_in_force=tifs,
        )
        band = None if setup.price_band is None else str(setup.price_band)
        specs = {CONTRACT: stub_spec(price_band=band)}
        self.server = PaperServer(
            ServerConfig(
                state_path=Path(self._dir.name) / "venue.db",
                manual_clock=True,
                control=True,
                start=START,
                specs=specs,
                start_prices={CONTRACT: 16000},
                sim_config=sim_config,
                heartbeat=30.0,
            )
        )
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"max_seconds": 120}, daemon=True
        )
        self._thread.start()
        self.fix = FixVenue(
            FixConfig(
                port=self.server.port,
                sender_comp_id="BASTION",
                sync_polls=True,
                heartbeat_seconds=30.0,
                reconnect_initial=0.05,
            ),
            specs,
        )
        self.venue: VenuePort = self.fix
        self.contract_id: ContractId = CONTRACT
        self._now = START
        if not self.fix.connect():
            self.close()
            raise RuntimeError("the FIX adapter could not log on to the paper venue")

    def close(self) -> None:
        self.fix.disconnect()
        self.server.stop_flag.set()
        self._thread.join(timeout=5)
        self.server.close()
        self._dir.cleanup()

    def _control(self, op: str, **params: object) -> None:
        if not self.fix.control(op, **params):
            raise RuntimeError(f"control {op} was not answered")

    def now(self) -> dt.datetime:
        return self._now

    def set_quote(self, bid: int, ask: int, bid_size: int = 10, ask_size: int = 10) -> None:
        self._control("quote", bid=bid, ask=ask, bid_size=bid_size, ask_size=ask_size)

    def print_trade(self, price: int, size: int) -> None:
        self._control("trade", price=price, size=size)

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
        self._control("advance", seconds=seconds)

    def set_session_open(self, is_open: bool) -> None:
        self._control("session", open=int(is_open))

    def end_of_day(self) -> None:
        self._control("eod")

    def set_reference_price(self, ticks: int) -> None:
        self._control("refprice", ticks=ticks)

    def halt(self) -> None:
        self._control("halt")

    def duplicate_next_report(self) -> None:
        self._control("duplicate")

    def disconnect_for(self, seconds: float) -> None:
        self.fix.control("disconnect", seconds=seconds)
        deadline = time.monotonic() + 5
        while self.fix.is_connected and time.monotonic() < deadline:
            time.sleep(0.01)


def _assert_protocol(h: PaperFixHarness) -> ConformanceHarness:
    return h
