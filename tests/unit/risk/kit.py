"""A small rig for risk tests: an engine over an in-memory book, store and market.

Numbers a reader can check by hand: ES-like contract, tick 0.25, multiplier 50 (one
tick is 12.50); the market at 4000.00 = 16000 ticks (bid 15999, ask 16001); one lot is
200,000 notional and 20,000 initial margin (10 %); the daily band is +/-5 % of the
settlement 16000, i.e. [15200, 16800] ticks.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bastion.clock import SimClock, utc
from bastion.config import RiskConfig
from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import OffsetFlag, OrderType, Side
from bastion.domain.fills import Fill
from bastion.domain.fx import FxTable
from bastion.domain.ids import (
    ClientOrderId,
    ContractId,
    ExecId,
    InstrumentId,
    StrategyId,
    VenueOrderId,
)
from bastion.domain.market import MarketQuote, StaticMarket
from bastion.domain.records import BrokerOrderCreated
from bastion.domain.venue_events import Acknowledged, FillReport
from bastion.oms import OrderManager
from bastion.risk.engine import RiskEngine
from bastion.risk.expiry import ExpiryCalendar
from bastion.risk.persist import MemoryRiskStore
from bastion.risk.port import OrderPath, OrderRequest, RiskDecision

T0 = utc(2026, 3, 2, 14, 30)
ES = InstrumentId("ES")
CONTRACT = ContractId("ES/202606")
NEXT = ContractId("ES/202609")
SPEC = ContractSpec(
    instrument_id=ES,
    exchange="CME",
    currency="USD",
    tick_size=Decimal("0.25"),
    multiplier=Decimal(50),
    margin_rate=Decimal("0.1"),
    price_band=Decimal("0.05"),
)
MID = 16000
_ids = itertools.count(1)


def make_order(
    side: Side = Side.BUY,
    quantity: int = 1,
    *,
    limit: int | None = MID,
    order_type: OrderType | None = None,
    stop: int | None = None,
    contract: ContractId = CONTRACT,
    strategy: str | None = None,
    offset: OffsetFlag | None = None,
    venue: str = "sim",
    coid: str | None = None,
    when: dt.datetime = T0,
) -> BrokerOrderCreated:
    kind = order_type or (OrderType.LIMIT if limit is not None else OrderType.MARKET)
    return BrokerOrderCreated(
        timestamp=when,
        client_order_id=ClientOrderId(coid or f"R{next(_ids):06d}"),
        contract_id=contract,
        side=side,
        quantity=quantity,
        order_type=kind,
        limit_ticks=limit,
        stop_ticks=stop,
        strategy_id=None if strategy is None else StrategyId(strategy),
        offset=offset,
        venue=venue,
    )


def make_request(
    order: BrokerOrderCreated,
    path: OrderPath = OrderPath.AUTOMATIC,
    *,
    reduces: bool = False,
    strategy: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        order=order,
        path=path,
        instrument_id=ES,
        strategy_id=StrategyId(strategy) if strategy else order.strategy_id,
        reduces_position=reduces,
    )


def quote(**changes: Any) -> MarketQuote:
    base: dict[str, Any] = {
        "contract_id": CONTRACT,
        "bid_ticks": MID - 1,
        "ask_ticks": MID + 1,
        "last_ticks": MID,
        "last_tick_at": T0,
        "settlement_ticks": MID,
    }
    base.update(changes)
    return MarketQuote(**base)


@dataclass
class Rig:
    clock: SimClock
    store: MemoryRiskStore
    oms: OrderManager
    market: StaticMarket
    engine: RiskEngine

    def check(
        self, order: BrokerOrderCreated, path: OrderPath = OrderPath.AUTOMATIC, **kw: Any
    ) -> RiskDecision:
        return self.engine.check(make_request(order, path, **kw))

    def working(self, order: BrokerOrderCreated) -> None:
        """An order written ahead and acknowledged: it counts as working."""
        self.oms.write_ahead(order)
        self.oms.apply(
            Acknowledged(
                client_order_id=order.client_order_id,
                venue_order_id=VenueOrderId(f"V{order.client_order_id}"),
                timestamp=self.clock.now(),
            )
        )

    def hold(self, lots: int, contract: ContractId = CONTRACT, strategy: str | None = None) -> None:
        """Put a position of ``lots`` (signed) in the book through a filled order."""
        order = make_order(Side.of(lots), abs(lots), contract=contract, strategy=strategy)
        self.working(order)
        self.oms.apply(
            FillReport(
                fill=Fill(
                    exec_id=ExecId(f"X{order.client_order_id}"),
                    client_order_id=order.client_order_id,
                    contract_id=contract,
                    side=order.side,
                    quantity=abs(lots),
                    price_ticks=MID,
                    timestamp=self.clock.now(),
                )
            )
        )


def make_rig(
    *,
    equity: Decimal | None = Decimal(10_000_000),
    level: str | None = "base",
    store: MemoryRiskStore | None = None,
    spec: ContractSpec = SPEC,
    fx: FxTable | None = None,
    expiry: ExpiryCalendar | None = None,
    **limits: Any,
) -> Rig:
    clock = SimClock(T0)
    store = store if store is not None else MemoryRiskStore()
    oms = OrderManager()
    market = StaticMarket()
    market.set(quote())
    market.set(quote(contract_id=NEXT))
    config = RiskConfig(**{"max_notional": Decimal(5_000_000), **limits})
    engine = RiskEngine(
        config,
        {ES: spec},
        ledger=oms,
        store=store,
        clock=clock,
        market=market,
        fx=fx,
        expiry=expiry,
    )
    if level is not None:
        engine.set_risk_level(level, "test plan")
    if equity is not None:
        engine.equity = equity
    return Rig(clock, store, oms, market, engine)
