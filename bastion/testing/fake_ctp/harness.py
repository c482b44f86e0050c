"""The conformance harness for the CTP adapter against the fake counter.

Each case gets a fresh fake counter (on a simulated clock, synchronous delivery) and a
``CtpVenue`` logged in to it through the real Spi with real structs. The contract is a
SHFE contract (``rb/202606``, so close-today rules apply) with the suite's ES-like
economics (tick 0.25, multiplier 50, margin 10 %), so every case reads the same numbers.

``CTP_SKIPS`` lists the cases the CTP adapter does not run, each with the reason: what
CTP's exchanges do not offer (stop orders, GTC, GTD), what CTP does not report
(commission per trade), and what the adapter does before the OMS sees it (duplicate
trades are dropped by the adapter itself). Each has its own CTP test instead.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bastion.clock import SimClock
from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import TimeInForce
from bastion.domain.ids import ContractId, InstrumentId
from bastion.marketdata.specs import MarketSpec
from bastion.secrets import Secret
from bastion.testing.conformance_base import Capability, ConformanceHarness, VenueSetup
from bastion.testing.fake_ctp.counter import FakeCtpCounter
from bastion.testing.venue_stubs import START
from bastion.venues.ctp.config import CtpConfig
from bastion.venues.ctp.execution import CtpVenue
from bastion.venues.ctp.instruments import CtpContracts
from bastion.venues.port import VenuePort
from bastion.venues.sim.config import SimVenueConfig

__all__ = ["CTP_CONTRACT", "CTP_SKIPS", "CtpHarness", "conformance_spec", "ctp_harness_factory"]

CTP_CONTRACT = ContractId("rb/202606")

CTP_SKIPS: dict[str, str] = {
    "VC-11": "CTP's exchanges take no stop orders; the adapter refuses them before they"
    " leave (tests/unit/ctp/test_orders_refused.py)",
    "VC-12": "CTP's exchanges take no stop-limit orders; refused before they leave, as VC-11",
    "VC-16": "CTP's exchanges take no GTD orders; refused before they leave (VC-23 passes)",
    "VC-18": "CTP's exchanges take no GTC orders; day orders end at the close (VC-17 passes)",
    "VC-27": "CTP trade reports carry no commission; the account query's Commission is the"
    " only figure, so fills report none",
    "VC-40": "the CTP adapter drops a repeated trade itself, on (ExchangeID, TradeID,"
    " Direction), so the OMS never sees it (tests/integration/ctp/test_trades.py)",
}


def conformance_spec(price_band: Decimal | None = None) -> MarketSpec:
    contract = ContractSpec(
        instrument_id=InstrumentId("rb"),
        exchange="SHFE",
        currency="CNY",
        tick_size=Decimal("0.25"),
        multiplier=Decimal(50),
        margin_rate=Decimal("0.1"),
        price_band=price_band,
        timezone="Asia/Shanghai",
        symbol_root="rb",
    )
    return MarketSpec(
        contract=contract,
        name="conformance rebar",
        calendar="CN_FUTURES",
        symbol_style="yymm_lower",
        months="FGHJKMNQUVXZ",
    )


def fake_config(**overrides: object) -> CtpConfig:
    base: dict[str, object] = {
        "front": "fake://conformance",
        "md_front": "fake://conformance",
        "broker_id": "9999",
        "user_id": "000001",
        "password": Secret("fake-pass"),
        "connect_timeout": 2.0,
        "query_timeout": 2.0,
        "flow_backoff": 0.01,
    }
    base.update(overrides)
    return CtpConfig(**base)  # type: ignore[arg-type]


class CtpHarness:
    capabilities = frozenset(Capability)

    def __init__(self, setup: VenueSetup) -> None:
        self.clock = SimClock(START)
        self.contract_id: ContractId = CTP_CONTRACT
        specs = {CTP_CONTRACT: conformance_spec(setup.price_band)}
        sim_config = SimVenueConfig(
            name="exchange",
            currency="CNY",
            initial_cash=setup.initial_cash,
            commission_per_contract=setup.commission_per_contract,
            supported_time_in_force=frozenset(
                t for t in TimeInForce if t.value not in setup.unsupported_time_in_force
            ),
        )
        self.counter = FakeCtpCounter(specs, self.clock, sim_config=sim_config)
        self.ctp = CtpVenue(
            fake_config(),
            self.counter.binding,
            self.clock,
            CtpContracts(specs),
            self.counter.trader_port,
            md_port=self.counter.md_port,
        )
        self.venue: VenuePort = self.ctp
        if not self.ctp.connect():
            raise RuntimeError(
                f"the CTP adapter could not log in: {self.ctp.last_disconnect_reason}"
            )

    def now(self) -> dt.datetime:
        return self.clock.now()

    def set_quote(self, bid: int, ask: int, bid_size: int = 10, ask_size: int = 10) -> None:
        self.counter.set_quote(self.contract_id, bid, ask, bid_size, ask_size)

    def print_trade(self, price: int, size: int) -> None:
        self.counter.print_trade(self.contract_id, price, size)

    def advance(self, seconds: float) -> None:
        self.clock.advance(dt.timedelta(seconds=seconds))
        self.counter.advance()

    def set_session_open(self, is_open: bool) -> None:
        self.counter.set_session_open(is_open)

    def end_of_day(self) -> None:
        self.counter.end_of_day()

    def set_reference_price(self, ticks: int) -> None:
        self.counter.set_reference_price(self.contract_id, ticks)

    def halt(self) -> None:
        self.counter.halt(self.contract_id)

    def duplicate_next_report(self) -> None:
        self.counter.faults.duplicate_trades += 1

    def disconnect_for(self, seconds: float) -> None:
        self.counter.drop()


def ctp_harness_factory(setup: VenueSetup) -> ConformanceHarness:
    return CtpHarness(setup)
