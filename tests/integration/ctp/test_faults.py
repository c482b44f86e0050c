"""The CTP adapter fails closed on every fault the fake counter can throw, and says why.

Invariants: a silent front, a refused authentication (with the wrong-runtime diagnosis),
an unconfirmed settlement each leave the venue not ready, with the reason; flow control
(-2/-3, ErrorID 90) is retried and never read as "no data"; a persistent one is UNKNOWN;
CTP-level and exchange rejects map to the reason taxonomy with CTP's GBK text; an
unmapped status code halts (orders refused, open orders unknown), the report kept; a
reconnect gives a new SessionID, a new login and a new connection epoch.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bastion.domain.enums import OrderType, Side
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import Canceled, FillReport, Rejected
from bastion.testing.venue_stubs import make_order
from bastion.venues.ctp.config import CtpConfig
from bastion.venues.ctp.execution import CtpVenue
from bastion.venues.ctp.instruments import CtpContracts
from bastion.venues.ctp.port import RealTraderPort
from bastion.venues.ctp.runtime import load_binding
from bastion.venues.port import SnapshotStatus
from tests.ctp_binding import require_ctp_binding
from tests.integration.ctp.conftest import RB, Kit


def _rejected(venue: CtpVenue) -> list[Rejected]:
    return [e for e in venue.poll_events() if isinstance(e, Rejected)]


def test_faults_silent_front_fails_with_a_diagnosis(kit: Kit) -> None:
    kit.counter.faults.silent = True
    venue = kit.venue(connect=False, connect_timeout=0.2)
    assert not venue.connect()
    assert "no answer from front fake://conformance" in venue.last_disconnect_reason
    assert "runtime does not match" in venue.last_disconnect_reason
    assert venue.positions().status is SnapshotStatus.UNKNOWN
    assert not venue.submit(make_order(contract_id=RB)).taken


def test_faults_real_binding_front_that_never_connects_fails_closed(tmp_path: Path) -> None:
    """The real API against a loopback port nobody listens on: no callback ever comes."""
    require_ctp_binding()
    from bastion.clock import WallClock
    from bastion.marketdata.specs import SpecRegistry
    from bastion.secrets import Secret

    binding = load_binding()
    config = CtpConfig(
        front="tcp://127.0.0.1:9",
        broker_id="9999",
        user_id="1",
        password=Secret("x"),
        connect_timeout=0.5,
    )
    venue = CtpVenue(
        config,
        binding,
        WallClock(),
        CtpContracts({RB: SpecRegistry.bundled()["rb"]}),
        lambda: RealTraderPort(binding, tmp_path / "flow"),
    )
    try:
        assert not venue.connect()
        assert "no answer from front tcp://127.0.0.1:9" in venue.last_disconnect_reason
    finally:
        venue.disconnect()


def test_faults_authentication_4040_names_a_runtime_mismatch(kit: Kit) -> None:
    kit.counter.faults.auth_error = (4040, "CTP:解码错误")
    venue = kit.venue(connect=False)
    assert not venue.connect()
    assert "ErrorID 4040" in venue.last_disconnect_reason
    assert "production vs evaluation runtime" in venue.last_disconnect_reason
    steps = {s.name: s for s in venue.login_steps()}
    assert not steps["trading_authentication"].ok
    assert steps["trading_login"].detail == "not attempted"


def test_faults_settlement_not_confirmed_leaves_the_venue_not_ready(kit: Kit) -> None:
    kit.counter.faults.refuse_settlement = True
    venue = kit.venue(connect=False)
    assert not venue.connect()
    steps = {s.name: s for s in venue.login_steps()}
    assert steps["trading_login"].ok
    assert not steps["settlement_confirmation"].ok
    assert "ErrorID 42" in steps["settlement_confirmation"].detail
    result = venue.submit(make_order(contract_id=RB))
    assert not result.taken
    assert result.reason is Reason.CONNECTION


def test_faults_settlement_confirmed_once_per_trading_day(kit: Kit) -> None:
    kit.venue().disconnect()
    kit.venue()
    assert kit.counter.requests["confirm_settlement"] == 1


def test_faults_flow_control_is_retried_never_read_as_no_data(kit: Kit) -> None:
    venue = kit.venue()
    venue.submit(make_order(Side.BUY, 1, contract_id=RB))
    kit.counter.faults.flow_codes.extend([-2, -3])
    positions = venue.positions()
    assert positions.is_known
    assert positions.value is not None
    assert positions.value[RB].net == 1
    assert venue.flow_retries_used == 2
    kit.counter.faults.not_ready_queries = 1
    assert venue.account().is_known
    kit.counter.faults.flow_codes.extend([-3] * 20)
    stuck = venue.positions()
    assert stuck.status is SnapshotStatus.UNKNOWN
    assert stuck.value is None
    assert "flow control" in stuck.reason


def test_faults_ctp_level_reject_maps_to_its_reason_with_ctps_text(kit: Kit) -> None:
    venue = kit.venue()
    kit.counter.faults.insert_errors.append((31, "CTP:资金不足"))
    venue.submit(make_order(Side.BUY, 1, contract_id=RB))
    [rejected] = _rejected(venue)
    assert rejected.reason is Reason.INSUFFICIENT_MARGIN
    assert "资金不足" in rejected.message


def test_faults_exchange_reject_is_a_reject_not_a_cancel(kit: Kit) -> None:
    venue = kit.venue()
    kit.counter.faults.exchange_rejects.append("报单价格超出涨跌停板")
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=3840, contract_id=RB)
    venue.submit(order)
    events = venue.poll_events()
    assert [type(e).__name__ for e in events] == ["Rejected"]
    assert events[0].reason is Reason.PRICE_OUTSIDE_BAND  # type: ignore[union-attr]


def test_faults_unmapped_status_halts_and_keeps_the_report(kit: Kit) -> None:
    venue = kit.venue()
    kit.counter.faults.unmapped_status = "z"
    venue.submit(make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=3840, contract_id=RB))
    venue.poll_events()
    assert "status code 'z'" in venue.halt_reason
    assert any("status code 'z'" in p for p in venue.problems)
    assert venue.open_orders().status is SnapshotStatus.UNKNOWN
    result = venue.submit(make_order(Side.BUY, 1, contract_id=RB))
    assert not result.taken
    assert result.reason is Reason.UNKNOWN


def test_faults_reconnect_new_session_new_epoch_old_orders_still_ours(kit: Kit) -> None:
    venue = kit.venue()
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=3840, contract_id=RB)
    venue.submit(order)
    venue.poll_events()
    first_session, epoch = venue.session_id, venue.connection_epoch
    kit.counter.drop()
    assert not venue.is_connected
    assert venue.positions().status is SnapshotStatus.UNKNOWN
    assert "front disconnected (0x1001" in venue.last_disconnect_reason
    kit.counter.reconnect()
    assert venue.is_connected
    assert venue.session_id != first_session
    assert venue.connection_epoch == epoch + 1
    assert venue.cancel(order.client_order_id).taken
    assert any(isinstance(e, Canceled) for e in venue.poll_events())


def test_faults_callbacks_on_another_thread_are_applied_on_the_callers(kit: Kit) -> None:
    kit.counter.threaded = True
    venue = kit.venue()
    threads: set[str] = set()
    spi_class = type(venue._spi)
    original = spi_class.OnRtnTrade

    def spy(self: object, *args: object) -> None:
        threads.add(threading.current_thread().name)
        original(self, *args)

    spi_class.OnRtnTrade = spy
    try:
        venue.submit(make_order(Side.BUY, 2, contract_id=RB))
        got: list[FillReport] = []

        def filled() -> bool:
            got.extend(e for e in venue.poll_events() if isinstance(e, FillReport))
            return sum(f.fill.quantity for f in got) == 2

        assert venue.pump(filled, timeout=10)
    finally:
        spi_class.OnRtnTrade = original
    assert threads == {"fake-ctp"}


@pytest.mark.parametrize("tif", ["gtc", "gtd"])
def test_faults_time_in_force_ctp_lacks_is_refused_before_it_leaves(kit: Kit, tif: str) -> None:
    import datetime as dt

    from bastion.domain.enums import TimeInForce

    venue = kit.venue()
    order = make_order(
        Side.BUY,
        1,
        OrderType.LIMIT,
        limit_ticks=3840,
        time_in_force=TimeInForce(tif),
        expire_at=kit.clock.now() + dt.timedelta(hours=1) if tif == "gtd" else None,
        contract_id=RB,
    )
    assert not venue.submit(order).taken
    assert _rejected(venue)[0].reason is Reason.INVALID_ORDER
    assert kit.counter.requests["insert_order"] == 0
