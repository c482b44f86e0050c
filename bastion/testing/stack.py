"""A ready-made order stack over the in-process sim venue, for tests and examples."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bastion.backtest.runner import InstrumentBar
from bastion.clock import SimClock
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.market import MarketQuote, StaticMarket
from bastion.engine.send import OrderGateway
from bastion.oms import MemoryLedger, OrderManager
from bastion.oms.ledger import Ledger
from bastion.orders.rolls import FixedSchedule
from bastion.orders.stack import StackHandler
from bastion.risk.port import PassThroughRisk, RiskGate
from bastion.venues.port import QueryView
from bastion.venues.sim import Bar, Quote, SimVenue, SimVenueConfig

__all__ = ["ES", "ES_H", "ES_M", "ES_SPEC", "StackKit", "make_stack_kit", "minute_bars"]

ES = InstrumentId("ES")
ES_H = ContractId("ES/202403")
ES_M = ContractId("ES/202406")
ES_SPEC = ContractSpec(
    instrument_id=ES,
    exchange="CME",
    currency="USD",
    tick_size=Decimal("0.25"),
    multiplier=Decimal(50),
    margin_rate=Decimal("0.05"),
)
T0 = dt.datetime(2024, 3, 1, 14, 30, tzinfo=dt.UTC)


@dataclass
class StackKit:
    stack: StackHandler
    venue: SimVenue
    clock: SimClock
    market: StaticMarket
    schedule: FixedSchedule
    risk: RiskGate
    ledger: Ledger
    gateway: OrderGateway
    """The one send path; its ``risk`` is the gate every order passes."""

    def quote(self, contract: ContractId, bid: int, ask: int, size: int = 50) -> None:
        """Set the touch at the venue and in the stack's market view."""
        now = self.clock.now()
        self.venue.on_quote(
            Quote(
                contract_id=contract,
                bid_ticks=bid,
                ask_ticks=ask,
                bid_size=size,
                ask_size=size,
                timestamp=now,
            )
        )
        self.market.set(
            MarketQuote(
                contract,
                bid_ticks=bid,
                ask_ticks=ask,
                last_ticks=(bid + ask) // 2,
                last_tick_at=now,
                bid_size=size,
                ask_size=size,
            )
        )

    def tick(self, seconds: int = 1) -> None:
        self.clock.advance(dt.timedelta(seconds=seconds))


def make_stack_kit(
    *,
    risk: RiskGate | None = None,
    ledger: Ledger | None = None,
    config: SimVenueConfig | None = None,
    contracts: tuple[ContractId, ...] = (ES_H, ES_M),
) -> StackKit:
    clock = SimClock(T0)
    venue = SimVenue(
        dict.fromkeys(contracts, ES_SPEC),
        clock,
        config or SimVenueConfig(initial_cash=Decimal(10**9), provisional_ids=False),
    )
    venue.connect()
    market = StaticMarket()
    schedule = FixedSchedule(contracts={ES: contracts[0]})
    gate = risk if risk is not None else PassThroughRisk()
    book_ledger = ledger if ledger is not None else MemoryLedger()
    oms = OrderManager(book_ledger)
    gateway = OrderGateway(oms, venue, gate, clock)
    stack = StackHandler(
        oms=oms,
        sender=gateway,
        venue=QueryView(venue),
        schedule=schedule,
        market=market,
        clock=clock,
        specs={ES: ES_SPEC},
    )
    kit = StackKit(stack, venue, clock, market, schedule, gate, book_ledger, gateway)
    for contract in contracts:
        kit.quote(contract, 20000, 20001)
    return kit


def minute_bars(
    steps: Sequence[int], *, start: dt.datetime = T0, first_open: int = 20000
) -> list[InstrumentBar]:
    """ES minute bars whose close moves by ``steps[i]`` ticks from each open."""
    out, price = [], first_open
    minute = dt.timedelta(minutes=1)
    for i, step in enumerate(steps):
        o, c = price, price + step
        begin = start + i * minute
        bar = Bar(
            contract_id=ES_H,
            open_ticks=o,
            high_ticks=max(o, c) + 1,
            low_ticks=min(o, c) - 1,
            close_ticks=c,
            volume=100,
            start=begin,
            end=begin + minute,
        )
        out.append(InstrumentBar(ES, bar))
        price = c
    return out
