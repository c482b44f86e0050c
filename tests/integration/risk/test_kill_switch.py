"""Invariant: the kill switch's result is the truth. It persists HALTED first, cancels
and confirms, flattens with marketable limit orders only, and reports flat only when a
fresh venue snapshot shows no position; under faults (a cancel not confirmed, a
rejected flatten order, a fill arriving during the flatten) it either confirms flat or
stays HALTED and says it is not flat. Every step is in the journal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bastion.domain.enums import OrderType, Side
from bastion.domain.order_state import OrderEvent, OrderState
from bastion.domain.reasons import Reason
from bastion.domain.records import BrokerOrderCreated, Note, OrderTransition
from bastion.risk.states import Scope, TradingState
from bastion.venues.sim import SimVenueConfig
from tests.integration.risk.simrig import SimRig, build_book, make_sim_rig
from tests.unit.risk.kit import CONTRACT, MID, make_order


def _flatten_orders(rig: SimRig) -> list[BrokerOrderCreated]:
    return [
        e.record
        for e in rig.store.entries()
        if isinstance(e.record, BrokerOrderCreated) and e.record.client_order_id.startswith("KILL")
    ]


def _halted(rig: SimRig) -> bool:
    rig.engine.board.reload()
    return rig.engine.board.state(Scope.account()) is TradingState.HALTED


def test_kill_clean_book_flat_confirmed_and_halted(tmp_path: Path) -> None:
    rig = make_sim_rig(tmp_path)
    build_book(rig)
    report = rig.kill("operator test")
    assert report.flat_confirmed, report.lines()
    assert rig.venue_net() == 0
    assert rig.venue.open_orders().value == ()
    assert _halted(rig)
    flatten = _flatten_orders(rig)
    assert flatten
    assert all(o.order_type is OrderType.LIMIT for o in flatten)  # never market orders
    assert flatten[0].side is Side.SELL
    assert flatten[0].limit_ticks == MID - 1 - 5  # five ticks through the bid
    steps = [n.text for n in rig.notes("risk.kill.step")]
    assert [s.split(":")[0] for s in steps] == [
        "kill switch 1 halt",
        "kill switch 2 cancel",
        "kill switch 3 flatten",
        "kill switch 3 flatten",
        "kill switch 4 confirm",
    ]
    assert "flat confirmed" in rig.notes("risk.kill.result")[0].text
    assert rig.engine.pending_kill() is None
    assert report.api_calls["cancel_order_calls"] == 2
    assert not rig.send(make_order(Side.BUY, 1, venue="sim"))  # halted: nothing new


def test_kill_halt_persisted_before_any_venue_call(tmp_path: Path) -> None:
    rig = make_sim_rig(tmp_path)
    build_book(rig)
    rig.kill()
    entries = list(rig.store.entries())
    halted_at = next(
        e.seq
        for e in entries
        if isinstance(e.record, Note)
        and e.record.kind == "risk.state"
        and e.record.data.get("after") == "halted"
    )
    first_cancel = next(
        e.seq
        for e in entries
        if isinstance(e.record, OrderTransition) and e.record.event is OrderEvent.CANCEL_REQUESTED
    )
    assert halted_at < first_cancel


def test_kill_cancel_not_confirmed_then_retried(tmp_path: Path) -> None:
    rig = make_sim_rig(tmp_path, kill_timeout_seconds=5.0)
    build_book(rig)
    rig.venue.faults.disconnect(7.0)  # the first cancel round cannot reach the venue
    report = rig.kill()
    assert report.flat_confirmed, report.lines()
    alerts = [n.text for n in rig.notes("risk.kill.alert")]
    assert any("attempt 1/3: 2 cancels not confirmed within 5 s; retrying" in a for a in alerts)
    assert rig.venue.open_orders().value == ()


def test_kill_venue_unreachable_stays_halted_not_flat(tmp_path: Path) -> None:
    rig = make_sim_rig(tmp_path, kill_timeout_seconds=1.0)
    build_book(rig)
    rig.venue.faults.disconnect(10_000.0)
    report = rig.kill()
    assert not report.flat_confirmed
    assert "NOT FLAT" in report.headline
    assert "no usable venue snapshot" in report.headline
    assert len(report.unconfirmed_cancels) == 2
    assert _halted(rig)
    assert "NOT FLAT" in rig.notes("risk.kill.alert")[-1].text
    rig.venue.connect()
    assert rig.venue_net() == 5  # the truth: still long, and the report said so


def test_kill_rejected_flatten_order_retried_next_round(tmp_path: Path) -> None:
    rig = make_sim_rig(tmp_path)
    build_book(rig)
    rig.venue.faults.reject_next(Reason.UNKNOWN, "injected flatten reject")
    report = rig.kill()
    assert report.flat_confirmed, report.lines()
    flatten = _flatten_orders(rig)
    assert len(flatten) == 2
    rejected = rig.oms.book.broker_order(flatten[0].client_order_id)
    assert rejected is not None
    assert rejected.state is OrderState.REJECTED
    assert any("rejected by the venue" in step.detail for step in report.steps)


def test_kill_every_flatten_rejected_reports_residual(tmp_path: Path) -> None:
    rig = make_sim_rig(tmp_path, kill_attempts=2)
    build_book(rig)
    for _ in range(2):
        rig.venue.faults.reject_next(Reason.UNKNOWN, "injected flatten reject")
    report = rig.kill()
    assert not report.flat_confirmed
    assert report.residual == {CONTRACT: 5}
    assert "venue still shows ES/202606 +5" in report.headline
    assert _halted(rig)


def test_kill_fill_during_flatten_ends_flat_on_venue_and_book(tmp_path: Path) -> None:
    config = SimVenueConfig(name="sim", fill_latency=dt.timedelta(seconds=2))
    rig = make_sim_rig(tmp_path, config)
    build_book(rig)
    rig.wait(3)
    rig.pump()
    rig.quote()
    rig.venue.faults.fill_after_cancel_next()  # the resting buy of 2 fills as it is canceled
    report = rig.kill()
    assert report.flat_confirmed, report.lines()
    flatten = _flatten_orders(rig)
    assert sum(o.quantity for o in flatten) == 7  # 5 held + 2 filled during the kill
    rig.wait(5)
    rig.pump()
    assert rig.venue_net() == 0
    assert rig.oms.book.positions.contract_position(CONTRACT) == 0


def test_kill_twice_at_same_instant_uses_distinct_order_ids(tmp_path: Path) -> None:
    rig = make_sim_rig(tmp_path, kill_attempts=1)
    build_book(rig)
    rig.venue.faults.reject_next(Reason.UNKNOWN, "injected flatten reject")
    assert not rig.kill("first").flat_confirmed
    assert rig.kill("again").flat_confirmed
    ids = [o.client_order_id for o in _flatten_orders(rig)]
    assert len(ids) == len(set(ids)) == 2


def test_kill_nothing_held_confirms_flat_without_orders(tmp_path: Path) -> None:
    rig = make_sim_rig(tmp_path)
    report = rig.kill()
    assert report.flat_confirmed
    assert report.api_calls == {"send_order_calls": 0, "cancel_order_calls": 0}


def test_kill_short_position_bought_back_through_the_ask(tmp_path: Path) -> None:
    rig = make_sim_rig(tmp_path)
    assert rig.send(make_order(Side.SELL, 3, limit=MID - 1, venue="sim"))
    report = rig.kill()
    assert report.flat_confirmed
    order = _flatten_orders(rig)[0]
    assert (order.side, order.limit_ticks) == (Side.BUY, MID + 1 + 5)


def test_kill_report_prices_in_price_units_ticks_only_through_the_touch(
    tmp_path: Path,
) -> None:
    """Issue 20: the kill report an operator reads under stress shows prices (tick 0.25:
    the ask 16001 ticks is 4,000.25), never tick counts; ticks only for how far through
    the touch the limit goes."""
    rig = make_sim_rig(tmp_path)
    assert rig.send(make_order(Side.SELL, 3, limit=MID - 1, venue="sim"))
    report = rig.kill()
    assert report.flat_confirmed
    (first, *_) = [s.detail for s in report.steps if s.name == "3 flatten"]
    assert "limit 4,001.50 (5 ticks through the touch 4,000.25)" in first
    assert str(MID + 6) not in first
    assert "limit 4,001.50" in "\n".join(report.lines())
