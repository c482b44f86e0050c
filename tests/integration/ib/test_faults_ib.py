"""Each fault switch of the fake TWS, against the IB adapter through ib_async.

Invariants: a dropped connection mid-order, IB's nightly 1100/1101/1102, a cancel
followed by a late execution, a repeated execId and an orderStatus without openOrder
never make Bastion send an order twice, apply a fill twice or lose one, and each ends
with recovery complete and reconciliation clean; a client id in use, a contract with
two candidates, a request that is never answered and a live account reported to a
paper profile are refused with the reason, never waited out or guessed at; orders and
fills Bastion did not place are flagged as foreign and lock the instrument.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import UNATTRIBUTED, InstrumentId, StrategyId
from bastion.domain.order_state import OrderState
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    FillReport,
    Rejected,
    TradeCorrection,
)
from bastion.errors import UserError
from bastion.oms.manager import ApplyOutcome, Surprise
from bastion.oms.recovery import recover
from bastion.testing.fake_tws import fake_contract
from bastion.testing.fake_tws.wire import In
from bastion.testing.venue_stubs import CONTRACT, stub_spec
from bastion.testing.venue_stubs import make_order as stub_order
from bastion.venues.ib.errors import AccountMismatch, ClientIdInUse
from bastion.venues.ib.execution import GLOBAL_CANCEL_CONFIRMATION
from bastion.venues.ib.market_data import DELAYED_AGE
from bastion.venues.port import SnapshotStatus
from tests.integration.ib.world import ASK, BID, World, ib_world

ES = InstrumentId("ES")


def make_order(*args: object, **kwargs: object) -> BrokerOrder:
    """A stub order owned by one strategy, as the engine's orders are."""
    return replace(stub_order(*args, **kwargs), strategy_id=StrategyId("ema"))  # type: ignore[arg-type]


def _events_of(world: World, kind: type) -> list:  # type: ignore[type-arg]
    return [e for e, _ in world.driver.applied if isinstance(e, kind)]


def test_fault_disconnect_mid_order_recovers_without_resend(tmp_path: Path) -> None:
    with ib_world(tmp_path) as w:
        epoch = w.venue.connection_epoch
        w.tws.faults.drop_on_next_order = True
        order = make_order(Side.BUY, 1, contract_id=CONTRACT)
        assert w.driver.send(order).taken
        assert w.venue.wait_for(lambda: w.venue.connection_epoch > epoch, timeout=20)
        w.driver.pump()
        result = recover(w.oms, w.venue, w.clock, None)
        assert result.complete, result.problems
        assert result.fills_applied == 1
        assert w.driver.order(order.client_order_id).state is OrderState.FILLED
        assert w.oms.book.positions.contract_position(CONTRACT) == 1
        report, _ = w.rec.run(w.venue)
        assert report.clean, report.breaks
        assert w.tws.broker.received[order.client_order_id] == 1
        assert w.venue.counters.send_order_calls == 1
        assert w.venue.disconnects == 1
        assert w.venue.last_disconnect_reason


@pytest.mark.parametrize("data_lost", [False, True], ids=["1102", "1101"])
def test_fault_connectivity_lost_halts_orders_then_restored_resyncs(
    tmp_path: Path, data_lost: bool
) -> None:
    with ib_world(tmp_path) as w:
        epoch = w.venue.connection_epoch
        subscriptions = w.tws.requests[In.REQ_MKT_DATA]
        w.tws.connectivity_lost()
        assert w.venue.wait_for(lambda: not w.venue.is_connected, timeout=10)
        assert w.tws.connected_clients() == {10}  # the socket is still up
        assert "1100" in w.venue.last_disconnect_reason
        order = make_order(Side.BUY, 1, contract_id=CONTRACT)
        result = w.driver.send(order)
        assert not result.taken
        assert result.reason is Reason.CONNECTION
        assert w.venue.positions().status is SnapshotStatus.UNKNOWN
        assert w.tws.requests[In.PLACE_ORDER] == 0
        w.tws.connectivity_restored(data_lost=data_lost)
        assert w.venue.wait_for(lambda: w.venue.connection_epoch == epoch + 1, timeout=10)
        assert w.venue.is_connected
        assert w.venue.disconnects == 0  # never a new socket
        expected = subscriptions + (1 if data_lost else 0)
        assert w.tws.wait_until(lambda: w.tws.requests[In.REQ_MKT_DATA] == expected)
        w.settle()
        w.tws.broker.set_quote(CONTRACT, BID + 3, ASK + 3)
        w.settle()
        quote = w.venue.market.quote(CONTRACT)
        assert quote is not None
        assert quote.bid_ticks == BID + 3
        assert recover(w.oms, w.venue, w.clock, None).complete
        assert w.rec.run(w.venue)[0].clean


def test_fault_cancel_then_late_fill_no_resend_and_clean_reconciliation(tmp_path: Path) -> None:
    with ib_world(tmp_path) as w:
        order = make_order(Side.BUY, 2, OrderType.LIMIT, limit_ticks=BID - 2, contract_id=CONTRACT)
        w.driver.send(order)
        w.driver.pump()
        w.settle()
        w.tws.broker.sim.faults.fill_after_cancel_next()
        w.driver.cancel(order.client_order_id)
        w.driver.pump()
        kinds = [type(e).__name__ for e, _ in w.driver.applied]
        assert kinds == ["Acknowledged", "Canceled", "FillReport"]
        assert w.oms.book.positions.contract_position(CONTRACT) == 2
        result = recover(w.oms, w.venue, w.clock, None)
        assert result.complete, result.problems
        assert result.fills_applied == 0  # the late fill was already applied: a duplicate
        report, _ = w.rec.run(w.venue)
        assert report.clean, report.breaks
        assert w.venue.positions().value[CONTRACT].net == 2  # type: ignore[index]
        assert w.tws.broker.received[order.client_order_id] == 1
        assert w.venue.counters.as_dict() == {"send_order_calls": 1, "cancel_order_calls": 1}


def test_cancel_after_a_partial_fill_says_what_ib_had_filled(tmp_path: Path) -> None:
    """The cancel carries orderStatus's cumulative filled count, so the OMS can tell a
    cancel that raced fills still on their way from one that ends the order."""
    with ib_world(tmp_path) as w:
        w.tws.broker.set_quote(CONTRACT, BID, ASK, ask_size=2)
        order = make_order(Side.BUY, 5, OrderType.LIMIT, limit_ticks=ASK, contract_id=CONTRACT)
        w.driver.send(order)
        w.driver.pump()
        w.settle()
        assert w.oms.book.positions.contract_position(CONTRACT) == 2
        w.driver.cancel(order.client_order_id)
        w.driver.pump()
        canceled = _events_of(w, Canceled)
        assert [(c.client_order_id, c.filled) for c in canceled] == [(order.client_order_id, 2)]
        assert w.driver.order(order.client_order_id).state is OrderState.CANCELED
        assert w.rec.run(w.venue)[0].clean


def test_fault_cancel_counts_fills_whose_reports_are_late_and_the_oms_waits(
    tmp_path: Path,
) -> None:
    """IB's streams race: error 202 and the Cancelled orderStatus (filled 2) arrive before
    the execDetails of those 2 lots. The cancel waits for that status and says filled 2,
    so the OMS keeps the order open for the fills instead of closing it short (a stack
    would re-send the 'missing' lots), and applies them when they come."""
    with ib_world(tmp_path) as w:
        w.tws.broker.set_quote(CONTRACT, BID, ASK, ask_size=2)
        w.tws.broker.faults.late_fill_reports_next = 1
        order = make_order(Side.BUY, 5, OrderType.LIMIT, limit_ticks=ASK, contract_id=CONTRACT)
        w.driver.send(order)
        w.driver.pump()
        w.settle()
        assert w.oms.book.positions.contract_position(CONTRACT) == 0  # fill not heard yet
        w.driver.cancel(order.client_order_id)
        w.driver.pump()
        w.settle()
        w.driver.pump()
        canceled = _events_of(w, Canceled)
        assert [(c.client_order_id, c.filled) for c in canceled] == [(order.client_order_id, 2)]
        assert w.driver.order(order.client_order_id).state is not OrderState.CANCELED
        w.tws.broker.release_late_fill_reports()
        w.settle()
        w.driver.pump()
        assert w.oms.book.positions.contract_position(CONTRACT) == 2
        done = w.driver.order(order.client_order_id)
        assert (done.state, done.filled) == (OrderState.CANCELED, 2)
        assert w.rec.run(w.venue)[0].clean
        assert w.venue.counters.as_dict() == {"send_order_calls": 1, "cancel_order_calls": 1}


def test_fault_duplicate_exec_ids_applied_once(tmp_path: Path) -> None:
    with ib_world(tmp_path) as w:
        w.tws.faults.duplicate_exec_next = 1
        order = make_order(Side.BUY, 2, contract_id=CONTRACT)
        w.driver.send(order)
        w.driver.pump()
        fills = _events_of(w, FillReport)
        assert len(fills) == 1
        exec_id = fills[0].fill.exec_id
        assert [e.exec_id for e in w.tws.broker.executions].count(exec_id) == 2  # sent twice
        assert w.venue.duplicate_executions == 1
        page = w.venue.fills_since(None).value
        assert page is not None
        assert [f.exec_id for f in page.fills] == [exec_id]
        assert fills[0].fill.commission == Decimal("4.00")
        assert w.oms.book.positions.contract_position(CONTRACT) == 2
        assert recover(w.oms, w.venue, w.clock, None).fills_duplicate == 1
        assert w.rec.run(w.venue)[0].clean


def test_fault_order_status_without_open_order_still_tracked(tmp_path: Path) -> None:
    with ib_world(tmp_path) as w:
        w.tws.faults.hide_open_order_next = 1
        order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 3, contract_id=CONTRACT)
        w.driver.send(order)
        w.driver.pump()
        assert [e.client_order_id for e in _events_of(w, Acknowledged)] == [order.client_order_id]
        assert w.tws.requests[In.PLACE_ORDER] == 1
        ib = w.venue._ib
        assert ib is not None
        # ib_async never saw an openOrder for it, so its own trade events were silent.
        assert all(t.order.orderRef != order.client_order_id for t in ib.wrapper.trades.values())
        w.driver.cancel(order.client_order_id)
        w.driver.pump()
        assert [e.client_order_id for e in _events_of(w, Canceled)] == [order.client_order_id]
        assert w.venue.unmatched_reports == 0
        assert w.driver.order(order.client_order_id).state is OrderState.CANCELED


def test_fault_client_id_in_use_refused_at_once_not_timed_out(tmp_path: Path) -> None:
    with ib_world(tmp_path, connect=False, connect_timeout=60.0) as w:
        w.tws.faults.clients_in_use = {10}
        with pytest.raises(
            ClientIdInUse, match=r"client id 10 \(role engine\) is in use \(error 326\)"
        ):
            w.venue.connect()
        with pytest.raises(ClientIdInUse):
            w.venue.connect()  # the refusal stands: no retry behind the operator's back
        assert w.tws.connects[10] == 0
        assert not w.venue.is_connected


def test_fault_client_id_in_use_on_reconnect_alerts_and_retries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ib_world(tmp_path) as w:
        epoch = w.venue.connection_epoch
        starts = w.tws.requests[In.START_API]
        w.tws.faults.clients_in_use = {10}
        with caplog.at_level(logging.ERROR, logger="bastion.ib"):
            w.tws.drop_connections()
            assert w.tws.wait_until(lambda: w.tws.requests[In.START_API] >= starts + 2)
        assert any("ALERT" in r.message and "326" in r.message for r in caplog.records)
        assert not w.venue.is_connected
        w.tws.faults.clients_in_use = set()
        assert w.venue.wait_for(lambda: w.venue.connection_epoch > epoch, timeout=20)
        assert w.venue.connect()


def test_fault_ambiguous_contract_refused_with_candidates(tmp_path: Path) -> None:
    spec = stub_spec()
    listed = [
        fake_contract(CONTRACT, spec, con_id=111),
        fake_contract(CONTRACT, spec, con_id=222, multiplier=Decimal(5), trading_class="MES"),
    ]
    with ib_world(tmp_path, fake={"contracts": listed}) as w:
        problem = w.venue.contracts.problem(CONTRACT) or ""
        assert "ambiguous at IB, 2 candidates" in problem
        assert "conId 111" in problem
        assert "conId 222" in problem
        order = make_order(Side.BUY, 1, contract_id=CONTRACT)
        result = w.venue.submit(order)
        assert not result.taken
        assert result.reason is Reason.INVALID_ORDER
        assert "ambiguous" in result.message
        assert w.tws.requests[In.PLACE_ORDER] == 0
        assert w.venue.positions().is_known  # the rest of the venue works


def test_fault_contract_not_matching_spec_refused(tmp_path: Path) -> None:
    listed = [fake_contract(CONTRACT, stub_spec(), con_id=111, multiplier=Decimal(5))]
    with ib_world(tmp_path, fake={"contracts": listed}) as w:
        problem = w.venue.contracts.problem(CONTRACT) or ""
        assert "does not match the spec: multiplier 5 (spec 50)" in problem
        rejected = w.venue.submit(make_order(contract_id=CONTRACT))
        assert rejected.reason is Reason.INVALID_ORDER


def test_fault_contract_query_never_answered_times_out(tmp_path: Path) -> None:
    with ib_world(tmp_path, connect=False, query_timeout=0.5) as w:
        w.tws.faults.silent = {"contract_details"}
        assert w.venue.connect()
        problem = w.venue.contracts.problem(CONTRACT) or ""
        assert "did not answer the contract query within 0.5 s" in problem
        assert w.venue.submit(make_order(contract_id=CONTRACT)).reason is Reason.INVALID_ORDER


def test_fault_snapshot_never_answered_is_unknown_not_flat(tmp_path: Path) -> None:
    with ib_world(tmp_path, query_timeout=0.5) as w:
        w.tws.faults.silent = {"positions", "open_orders", "executions", "account_summary"}
        for snap in (
            w.venue.positions(),
            w.venue.open_orders(),
            w.venue.fills_since(None),
            w.venue.account(),
        ):
            assert snap.status is SnapshotStatus.UNKNOWN
            assert snap.value is None
            assert "did not answer" in snap.reason
        assert not recover(w.oms, w.venue, w.clock, None).complete


def test_fault_startup_sync_never_answered_fails_the_connect(tmp_path: Path) -> None:
    with ib_world(tmp_path, connect=False, connect_timeout=0.5) as w:
        w.tws.faults.silent = {"executions"}
        assert not w.venue.connect()
        assert "executions request timed out" in w.venue.last_disconnect_reason
        assert not w.venue.is_connected


def test_fault_live_account_on_paper_profile_refused_in_one_line(tmp_path: Path) -> None:
    with ib_world(tmp_path, connect=False, fake={"accounts": ("U7654321",)}) as w:
        with pytest.raises(AccountMismatch) as caught:
            w.venue.connect()
        message = str(caught.value)
        assert "\n" not in message
        assert "IB reports live account U7***321 to a paper profile" in message
        assert "U7654321" not in message
        assert not w.venue.is_connected
        assert w.tws.wait_until(lambda: w.tws.connected_clients() == set())  # disconnected


def test_fault_profile_account_not_managed_refused(tmp_path: Path) -> None:
    with (
        ib_world(tmp_path, connect=False, fake={"accounts": ("DU9999999",)}) as w,
        pytest.raises(AccountMismatch, match=r"account DU\*+567 is not managed"),
    ):
        w.venue.connect()


def test_fault_foreign_orders_and_fills_flagged_and_instrument_locked(tmp_path: Path) -> None:
    with ib_world(tmp_path) as w:
        surprises: list[Surprise] = []
        w.oms.on_surprise = surprises.append
        w.tws.broker.place_foreign(CONTRACT, "BUY", 1)  # typed into TWS by hand: fills
        w.tws.broker.place_foreign(
            CONTRACT, "SELL", 1, client_id=77, order_type="LMT", limit_price=Decimal("4010.00")
        )
        result = recover(w.oms, w.venue, w.clock, None)
        assert result.complete, result.problems
        assert [f.client_order_id for f in result.foreign_fills] == [
            "ib-foreign/manual/perm-1000000001"
        ]
        assert [o.client_order_id for o in result.foreign_orders] == [
            "ib-foreign/client-77/order-1"
        ]
        # The venue traded: the manual fill is held by the reserved unattributed strategy
        # (the contract position follows IB) and reported as a surprise, which the engine
        # turns into an instrument lock; the other client's working order is flagged.
        assert w.oms.book.positions.strategy == {(UNATTRIBUTED, ES): 1}
        assert [s.kind for s in surprises] == ["foreign_fill"]
        # Another client's order cannot be canceled from here: refused with the reason.
        w.venue.poll_events()
        refused = w.venue.cancel(result.foreign_orders[0].client_order_id)
        assert not refused.taken
        assert "belongs to IB client 77" in refused.message


def test_fault_foreign_reports_live_to_the_master_client_are_foreign(tmp_path: Path) -> None:
    with ib_world(tmp_path, fake={"master_client_id": 10}) as w:
        w.tws.broker.place_foreign(CONTRACT, "BUY", 1, client_id=77)
        outcomes = w.driver.pump()
        assert outcomes
        assert all(a.outcome is ApplyOutcome.FOREIGN for _, a in outcomes)
        assert any(isinstance(e, FillReport) for e, _ in outcomes)


def test_read_only_venue_never_reaches_the_order_api(tmp_path: Path) -> None:
    with ib_world(tmp_path, read_only=True) as w:
        order = make_order(contract_id=CONTRACT)
        assert w.venue.submit(order).reason is Reason.READ_ONLY
        assert w.venue.cancel(order.client_order_id).reason is Reason.READ_ONLY
        replacement = make_order(contract_id=CONTRACT)
        assert w.venue.modify(order.client_order_id, replacement).reason is Reason.READ_ONLY
        with pytest.raises(UserError, match="read-only"):
            w.venue.global_cancel(GLOBAL_CANCEL_CONFIRMATION)
        events = w.venue.poll_events()
        assert {e.reason for e in events if isinstance(e, Rejected)} == {Reason.READ_ONLY}
        assert w.venue.counters.total == 0
        assert w.tws.requests[In.PLACE_ORDER] == w.tws.requests[In.CANCEL_ORDER] == 0
        assert w.venue.positions().is_known


def test_global_cancel_needs_confirmation_and_cancels_every_client(tmp_path: Path) -> None:
    with ib_world(tmp_path) as w:
        ours = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 4, contract_id=CONTRACT)
        w.driver.send(ours)
        w.driver.pump()
        theirs = w.tws.broker.place_foreign(
            CONTRACT, "BUY", 1, client_id=77, order_type="LMT", limit_price=Decimal("3990.00")
        )
        with pytest.raises(UserError, match=GLOBAL_CANCEL_CONFIRMATION):
            w.venue.global_cancel("yes")
        assert w.tws.requests[In.REQ_GLOBAL_CANCEL] == 0
        assert w.venue.global_cancel(GLOBAL_CANCEL_CONFIRMATION)
        w.driver.pump()
        assert [e.client_order_id for e in _events_of(w, Canceled)] == [ours.client_order_id]
        assert theirs.status == "Cancelled"
        assert w.venue.open_orders().value == ()
        assert w.driver.order(ours.client_order_id).state is OrderState.CANCELED


def test_modify_cancels_then_places_and_a_refused_cancel_refuses_the_replacement(
    tmp_path: Path,
) -> None:
    with ib_world(tmp_path) as w:
        old = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 5, contract_id=CONTRACT)
        w.driver.send(old)
        w.driver.pump()
        new = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 4, contract_id=CONTRACT)
        assert w.venue.modify(old.client_order_id, new).taken
        events = w.venue.poll_events()
        events += w.venue.poll_events()  # the replacement goes once IB confirmed the cancel
        assert [(type(e).__name__, e.client_order_id) for e in events] == [
            ("Canceled", old.client_order_id),
            ("Acknowledged", new.client_order_id),
        ]
        filled = make_order(Side.BUY, 1, contract_id=CONTRACT)
        w.venue.submit(filled)
        w.venue.poll_events()
        late = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=BID - 1, contract_id=CONTRACT)
        w.venue.modify(filled.client_order_id, late)
        events = w.venue.poll_events()
        assert {type(e).__name__ for e in events} == {"CancelRejected", "Rejected"}
        rejected = next(e for e in events if isinstance(e, Rejected))
        assert rejected.client_order_id == late.client_order_id
        assert "replace failed: IB 10148" in rejected.message
        assert w.tws.requests[In.PLACE_ORDER] == 3


def test_market_order_as_marketable_limit_where_the_profile_says(tmp_path: Path) -> None:
    with ib_world(tmp_path, market_as_limit_ticks=4) as w:
        w.settle()
        order = make_order(Side.BUY, 1, contract_id=CONTRACT)
        w.driver.send(order)
        w.driver.pump()
        placed = next(iter(w.tws.broker.orders.values()))
        assert placed.order_type == "LMT"
        assert placed.limit_price == Decimal("4001.25")  # the ask 4000.25, 4 ticks through
        fill = _events_of(w, FillReport)[0].fill
        assert fill.price_ticks == ASK
        assert w.driver.order(order.client_order_id).state is OrderState.FILLED


@pytest.mark.parametrize(
    ("mode", "expect"),
    [("live", "fresh"), ("delayed", "stale"), ("frozen", "stale"), ("none", "none")],
)
def test_market_data_only_live_is_fresh(tmp_path: Path, mode: str, expect: str) -> None:
    with ib_world(tmp_path, connect=False) as w:
        w.tws.faults.market_data = mode
        assert w.venue.connect()
        w.tws.broker.set_quote(CONTRACT, BID, ASK)
        w.settle()
        quote = w.venue.market.quote(CONTRACT)
        if expect == "none":
            assert quote is None
            assert "354" in w.venue.market.unavailable[CONTRACT]
            return
        assert quote is not None
        assert (quote.bid_ticks, quote.ask_ticks) == (BID, ASK)
        assert quote.last_tick_at is not None
        age = w.clock.now() - quote.last_tick_at
        assert (age >= DELAYED_AGE) is (expect == "stale")


def test_fault_execution_correction_applied_once_as_what_it_now_is(tmp_path: Path) -> None:
    """IB corrects an execution with an execId that differs only after its final period:
    taken as what that execution now was (never a second fill), journaled as a
    correction, moved to unattributed, and a surprise that locks the instrument; the
    positions then agree with IB's."""
    with ib_world(tmp_path) as w:
        surprises: list[Surprise] = []
        w.oms.on_surprise = surprises.append
        w.driver.send(make_order(Side.BUY, 2, contract_id=CONTRACT))
        w.driver.pump()
        (fill,) = _events_of(w, FillReport)
        corrected = w.tws.broker.correct_execution(fill.fill.exec_id, 1)
        w.driver.pump()
        (event,) = _events_of(w, TradeCorrection)
        assert (event.exec_id, event.exec_ref_id) == (corrected.exec_id, fill.fill.exec_id)
        assert len(_events_of(w, FillReport)) == 1  # never a second fill
        positions = w.oms.book.positions
        assert positions.contract_position(CONTRACT) == 1
        assert positions.strategy_position(StrategyId("ema"), ES) == 2
        assert positions.strategy_position(UNATTRIBUTED, ES) == -1
        assert [s.kind for s in surprises] == ["trade_correction"]
        # IB's executions answer folds the correction into the execution it corrects:
        # recovery finds nothing new, and reconciliation no fill or position break.
        page = w.venue.fills_since(None).value
        assert page is not None
        assert [(f.exec_id, f.quantity) for f in page.fills] == [(fill.fill.exec_id, 1)]
        assert recover(w.oms, w.venue, w.clock, None).fills_applied == 0
        report, _ = w.rec.run(w.venue)
        assert not report.breaks
