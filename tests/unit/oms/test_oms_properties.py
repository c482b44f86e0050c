"""Invariants under any order of venue reports (duplicates, reordering, late fills, lost
reports): filled quantity stays within [0, quantity]; a fill is applied at most once; the
final state is what the state table says; positions move by exactly the applied fills;
projections rebuilt from the journal equal the incremental ones."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.clock import utc
from bastion.domain.enums import OrderType, Side
from bastion.domain.fills import Fill
from bastion.domain.ids import (
    ClientOrderId,
    ContractId,
    ExecId,
    InstrumentId,
    StrategyId,
    VenueOrderId,
)
from bastion.domain.order_state import OrderEvent, OrderState, next_state
from bastion.domain.reasons import Reason
from bastion.domain.records import BrokerOrderCreated
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    FillReport,
    Rejected,
    VenueEvent,
)
from bastion.errors import IllegalTransition
from bastion.oms import ApplyOutcome, OrderManager
from bastion.store import SqliteStore, StoreMode

T0 = utc(2024, 3, 1, 14)
ES = InstrumentId("ES")
CONTRACT = ContractId("ES/202406")


@st.composite
def venue_history(draw: st.DrawFn) -> tuple[int, Side, list[VenueEvent]]:
    """A plausible true history for one order, then delivered with faults."""
    quantity = draw(st.integers(1, 8))
    side = draw(st.sampled_from(Side))
    coid = ClientOrderId("o1")
    fills: list[VenueEvent] = []
    left = quantity
    n = 0
    while left > 0 and draw(st.booleans()):
        q = draw(st.integers(1, left))
        n += 1
        fills.append(
            FillReport(
                fill=Fill(
                    exec_id=ExecId(f"x{n}"),
                    client_order_id=coid,
                    contract_id=CONTRACT,
                    side=side,
                    quantity=q,
                    price_ticks=draw(st.integers(1000, 1010)),
                    timestamp=T0 + dt.timedelta(seconds=n),
                    venue_order_id=VenueOrderId("V1"),
                )
            )
        )
        left -= q
    ack = Acknowledged(client_order_id=coid, venue_order_id=VenueOrderId("V1"), timestamp=T0)
    extras: list[VenueEvent] = [
        Canceled(client_order_id=coid, timestamp=T0),
        Expired(client_order_id=coid, timestamp=T0),
        Rejected(client_order_id=coid, reason=Reason.UNKNOWN, message="late", timestamp=T0),
        CancelRejected(client_order_id=coid, reason=Reason.UNKNOWN, message="x", timestamp=T0),
    ]
    events: list[VenueEvent] = [ack, *fills]
    events += draw(st.lists(st.sampled_from(extras), max_size=2))
    # Faults: drop some, duplicate some, then shuffle.
    delivered = [e for e in events if not draw(st.booleans()) or e is ack]
    delivered += draw(st.lists(st.sampled_from(events), max_size=3))
    delivered = draw(st.permutations(delivered))
    return quantity, side, list(delivered)


def _reference_state(events: list[VenueEvent], quantity: int) -> tuple[OrderState, int]:
    """The state table applied by hand: what the OMS must end with."""
    state, filled, seen = OrderState.PENDING_NEW, 0, set()
    kinds = {
        Acknowledged: OrderEvent.ACKNOWLEDGED,
        Canceled: OrderEvent.CANCEL_CONFIRMED,
        Expired: OrderEvent.EXPIRED,
        Rejected: OrderEvent.REJECTED,
        CancelRejected: OrderEvent.CANCEL_REJECTED,
    }
    for event in events:
        if isinstance(event, FillReport):
            if event.fill.exec_id in seen:
                continue
            seen.add(event.fill.exec_id)
            filled += event.fill.quantity
            kind = OrderEvent.FINAL_FILL if filled == quantity else OrderEvent.PARTIAL_FILL
        else:
            kind = kinds[type(event)]
        with contextlib.suppress(IllegalTransition):
            state = next_state(state, kind, filled=filled)
    return state, filled


@settings(max_examples=150, deadline=None)
@given(history=venue_history())
def test_oms_any_report_order_invariants_hold(history: tuple[int, Side, list[VenueEvent]]) -> None:
    quantity, side, events = history
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "j.db", mode=StoreMode.BACKTEST)
        oms = OrderManager(store)
        order = oms.write_ahead(
            BrokerOrderCreated(
                timestamp=T0,
                client_order_id=ClientOrderId("o1"),
                contract_id=CONTRACT,
                side=side,
                quantity=quantity,
                order_type=OrderType.MARKET,
                strategy_id=StrategyId("s1"),
            )
        )
        applied_exec: list[ExecId] = []
        for event in events:
            result = oms.apply(event)
            assert 0 <= order.filled <= order.quantity
            if isinstance(event, FillReport) and result.outcome is not ApplyOutcome.DUPLICATE_FILL:
                applied_exec.append(event.fill.exec_id)
        assert len(applied_exec) == len(set(applied_exec))
        expected_state, expected_filled = _reference_state(events, quantity)
        assert order.state is expected_state
        assert order.filled == expected_filled
        assert store.book.positions.contract_position(CONTRACT) == expected_filled * side.sign
        strategy_position = store.book.positions.strategy_position(StrategyId("s1"), ES)
        assert strategy_position == expected_filled * side.sign
        store.flush()
        assert store.table_rows() == store.rebuilt_rows()
        store.close()
