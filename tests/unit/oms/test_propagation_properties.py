"""Invariant: fills propagate broker -> contract -> instrument so that, at every step, the
sum of the children's filled quantities equals the parent's, and the strategy table
moves exactly as the contract table does for orders with an instrument parent."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from bastion.clock import utc
from bastion.domain.enums import OrderType, Side
from bastion.domain.fills import Fill
from bastion.domain.ids import (
    ClientOrderId,
    ContractId,
    ExecId,
    InstrumentId,
    OrderId,
    StrategyId,
)
from bastion.domain.records import BrokerOrderCreated, ContractOrderCreated, InstrumentOrderCreated
from bastion.domain.venue_events import FillReport
from bastion.oms import OrderManager

T0 = utc(2024, 3, 1)
ES = InstrumentId("ES")
CONTRACTS = (ContractId("ES/202403"), ContractId("ES/202406"))


@st.composite
def family(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
    """Instrument quantity, contract orders (contract index, qty), fills (child, qty)."""
    total = draw(st.integers(1, 30))
    splits = draw(st.lists(st.integers(1, 10), min_size=1, max_size=4))
    contract_orders, left = [], total
    for i, wanted in enumerate(splits):
        q = min(wanted, left) if i < len(splits) - 1 else left
        if q > 0:
            contract_orders.append((i % 2, q))
            left -= q
    fills = draw(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 5)), max_size=25))
    return total, contract_orders, fills


@given(spec=family(), side=st.sampled_from(Side))
def test_propagation_children_sum_to_parent_at_every_step(
    spec: tuple[int, list[tuple[int, int]], list[tuple[int, int]]], side: Side
) -> None:
    total, contract_orders, fills = spec
    oms = OrderManager()
    oms.record(
        InstrumentOrderCreated(
            timestamp=T0,
            order_id=OrderId("I"),
            strategy_id=StrategyId("s"),
            instrument_id=ES,
            side=side,
            quantity=total,
        )
    )
    brokers: list[ClientOrderId] = []
    for n, (contract, qty) in enumerate(contract_orders):
        oms.record(
            ContractOrderCreated(
                timestamp=T0,
                order_id=OrderId(f"C{n}"),
                instrument_id=ES,
                contract_id=CONTRACTS[contract],
                side=side,
                quantity=qty,
                parent_id=OrderId("I"),
            )
        )
        coid = ClientOrderId(f"C{n}.1")
        oms.write_ahead(
            BrokerOrderCreated(
                timestamp=T0,
                client_order_id=coid,
                contract_id=CONTRACTS[contract],
                side=side,
                quantity=qty,
                order_type=OrderType.MARKET,
                parent_id=OrderId(f"C{n}"),
            )
        )
        brokers.append(coid)
    book = oms.book
    for k, (child, qty) in enumerate(fills):
        order = book.broker_order(brokers[child % len(brokers)])
        assert order is not None
        lots = min(qty, order.remaining)
        if lots == 0:
            continue
        oms.apply(
            FillReport(
                fill=Fill(
                    exec_id=ExecId(f"x{k}"),
                    client_order_id=order.client_order_id,
                    contract_id=order.contract_id,
                    side=side,
                    quantity=lots,
                    price_ticks=100,
                    timestamp=T0 + dt.timedelta(seconds=k),
                )
            )
        )
        instrument = book.instrument_order(OrderId("I"))
        assert instrument is not None
        contract_total = 0
        for n in range(len(contract_orders)):
            co = book.contract_order(OrderId(f"C{n}"))
            assert co is not None
            child_sum = sum(b.filled for c in co.children if (b := book.broker_order(c)))
            assert co.filled == child_sum
            contract_total += co.filled
        assert instrument.filled == contract_total
        held = sum(book.positions.contract_position(c) for c in CONTRACTS)
        assert held == instrument.filled * side.sign
        assert book.positions.strategy_position(StrategyId("s"), ES) == held
