"""Stub factories for venue tests: a contract, orders, quotes and a ready sim venue.

Defaults are round numbers a reader can check by hand: tick 0.25, multiplier 50 (an
ES-like contract: one tick is 12.50), prices around 4000.00 = 16000 ticks.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from bastion.clock import SimClock, utc
from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId
from bastion.domain.orders import BrokerOrder
from bastion.venues.sim.config import SimVenueConfig
from bastion.venues.sim.engine import SessionCheck, always_open
from bastion.venues.sim.execution import SimVenue
from bastion.venues.sim.market_data import Bar, Quote, Trade

__all__ = [
    "CONTRACT",
    "START",
    "bar",
    "make_order",
    "make_sim_venue",
    "quote",
    "stub_spec",
    "trade",
]

START = utc(2026, 3, 2, 14, 30)
CONTRACT = ContractId("ES/202606")
_ids = itertools.count(1)


def stub_spec(
    instrument: str = "ES",
    *,
    tick_size: str = "0.25",
    multiplier: str = "50",
    margin_rate: str = "0.1",
    price_band: str | None = None,
) -> ContractSpec:
    return ContractSpec(
        instrument_id=InstrumentId(instrument),
        exchange="SIM",
        currency="USD",
        tick_size=Decimal(tick_size),
        multiplier=Decimal(multiplier),
        margin_rate=Decimal(margin_rate),
        price_band=None if price_band is None else Decimal(price_band),
    )


def make_order(
    side: Side = Side.BUY,
    quantity: int = 1,
    order_type: OrderType = OrderType.MARKET,
    *,
    limit_ticks: int | None = None,
    stop_ticks: int | None = None,
    time_in_force: TimeInForce = TimeInForce.DAY,
    expire_at: dt.datetime | None = None,
    contract_id: ContractId = CONTRACT,
    offset: OffsetFlag | None = None,
    client_order_id: str | None = None,
    created: dt.datetime = START,
) -> BrokerOrder:
    return BrokerOrder(
        client_order_id=ClientOrderId(client_order_id or f"B{next(_ids):06d}"),
        contract_id=contract_id,
        side=side,
        quantity=quantity,
        order_type=order_type,
        created=created,
        time_in_force=time_in_force,
        limit_ticks=limit_ticks,
        stop_ticks=stop_ticks,
        expire_at=expire_at,
        offset=offset,
    )


def quote(
    bid: int,
    ask: int,
    *,
    bid_size: int = 10,
    ask_size: int = 10,
    at: dt.datetime = START,
    contract_id: ContractId = CONTRACT,
) -> Quote:
    return Quote(
        contract_id=contract_id,
        bid_ticks=bid,
        ask_ticks=ask,
        bid_size=bid_size,
        ask_size=ask_size,
        timestamp=at,
    )


def trade(
    price: int, size: int, *, at: dt.datetime = START, contract_id: ContractId = CONTRACT
) -> Trade:
    return Trade(contract_id=contract_id, price_ticks=price, size=size, timestamp=at)


def bar(
    open_: int,
    high: int,
    low: int,
    close: int,
    volume: int = 1000,
    *,
    start: dt.datetime = START,
    minutes: int = 1,
    contract_id: ContractId = CONTRACT,
) -> Bar:
    return Bar(
        contract_id=contract_id,
        open_ticks=open_,
        high_ticks=high,
        low_ticks=low,
        close_ticks=close,
        volume=volume,
        start=start,
        end=start + dt.timedelta(minutes=minutes),
    )


def make_sim_venue(
    config: SimVenueConfig | None = None,
    *,
    specs: dict[ContractId, ContractSpec] | None = None,
    start: dt.datetime = START,
    is_open: SessionCheck = always_open,
    connect: bool = True,
) -> tuple[SimVenue, SimClock]:
    """A sim venue on a fresh simulated clock, connected unless told otherwise."""
    clock = SimClock(start)
    venue = SimVenue(specs or {CONTRACT: stub_spec()}, clock, config, is_open)
    if connect:
        venue.connect()
    return venue, clock
