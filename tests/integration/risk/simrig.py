"""A risk engine, an OMS on a SQLite journal, and the sim venue, wired as the engine
process wires them, for kill-switch scenarios. Numbers as in ``tests/unit/risk/kit.py``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bastion.clock import SimClock
from bastion.config import RiskConfig
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ContractId
from bastion.domain.market import MarketQuote
from bastion.domain.records import BrokerOrderCreated, Note
from bastion.engine.send import OrderGateway
from bastion.oms import OrderManager
from bastion.risk.engine import RiskEngine
from bastion.risk.kill import KillReport, KillSwitch
from bastion.risk.port import OrderPath
from bastion.store import SqliteStore, StoreMode
from bastion.venues.port import QueryView
from bastion.venues.sim import Quote, SimVenue, SimVenueConfig
from tests.unit.risk.kit import CONTRACT, ES, MID, SPEC, T0, make_order, make_request


class SimMarketView:
    """The risk engine's ``MarketView`` over what the sim venue publishes."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue

    def quote(self, contract_id: ContractId) -> MarketQuote | None:
        published = self.venue.market_quote(contract_id)
        market = self.venue.markets[contract_id]
        if published is None:
            return None
        return MarketQuote(
            contract_id=contract_id,
            bid_ticks=published.bid_ticks,
            ask_ticks=published.ask_ticks,
            last_ticks=market.mark_ticks,
            last_tick_at=published.timestamp,
            halted=market.halted or self.venue.halted_all,
            settlement_ticks=market.reference_ticks,
            band=market.band(),
        )

    def in_session(self, contract_id: ContractId, when: dt.datetime) -> bool:
        return True


@dataclass
class SimRig:
    clock: SimClock
    venue: SimVenue
    store: SqliteStore
    oms: OrderManager
    engine: RiskEngine

    def wait(self, seconds: float) -> None:
        self.clock.advance(dt.timedelta(seconds=seconds))
        self.venue.advance()

    def pump(self) -> None:
        for event in self.venue.poll_events():
            self.oms.apply(event)

    def send(self, order: BrokerOrderCreated, path: OrderPath = OrderPath.MANUAL) -> bool:
        """The order stack's path in miniature: risk check, write-ahead, submit."""
        decision = self.engine.check(make_request(order, path))
        if not decision.allowed:
            return False
        live = self.oms.write_ahead(order)
        self.venue.submit(live)
        self.pump()
        return True

    def quote(self, bid: int = MID - 1, ask: int = MID + 1, size: int = 50) -> None:
        self.venue.on_quote(
            Quote(
                contract_id=CONTRACT,
                bid_ticks=bid,
                ask_ticks=ask,
                bid_size=size,
                ask_size=size,
                timestamp=self.clock.now(),
            )
        )
        self.pump()

    def kill(self, reason: str = "test kill") -> KillReport:
        gateway = OrderGateway(self.oms, self.venue, self.engine, self.clock)
        switch = KillSwitch(self.engine, self.oms, QueryView(self.venue), gateway)
        return switch.run(reason, drain=self.pump, wait=self.wait)

    def venue_net(self) -> int:
        held = self.venue.positions().value or {}
        return sum(record.net for record in held.values())

    def notes(self, prefix: str = "risk.kill") -> list[Note]:
        return [
            e.record
            for e in self.store.entries()
            if isinstance(e.record, Note) and e.record.kind.startswith(prefix)
        ]


def make_sim_rig(tmp_path: Path, config: SimVenueConfig | None = None, **limits: Any) -> SimRig:
    clock = SimClock(T0)
    venue = SimVenue({CONTRACT: SPEC}, clock, config or SimVenueConfig(name="sim"))
    venue.connect()
    venue.set_reference_price(CONTRACT, MID)
    (tmp_path / "sim").mkdir(exist_ok=True)
    store = SqliteStore(tmp_path / "sim" / "journal.db", mode=StoreMode.BACKTEST, clock=clock)
    oms = OrderManager(store)
    engine = RiskEngine(
        RiskConfig(max_notional=Decimal(50_000_000), **limits),
        {ES: SPEC},
        ledger=oms,
        store=store,
        clock=clock,
        market=SimMarketView(venue),
        venue_limits={venue.name: venue.rate_limits},
    )
    engine.set_risk_level("base", "test plan")
    engine.equity = Decimal(10_000_000)
    rig = SimRig(clock, venue, store, oms, engine)
    rig.quote()
    return rig


def build_book(rig: SimRig, long_lots: int = 5) -> None:
    """A long position plus two resting orders, one each side."""
    assert rig.send(make_order(Side.BUY, long_lots, limit=MID + 1, venue="sim"))
    assert rig.send(make_order(Side.BUY, 2, limit=MID - 10, venue="sim"))
    assert rig.send(make_order(Side.SELL, 2, limit=MID + 10, venue="sim"))
    assert rig.venue_net() == long_lots
    assert len(rig.venue.open_orders().value or ()) == 2


__all__ = ["OrderType", "SimMarketView", "SimRig", "build_book", "make_sim_rig"]
