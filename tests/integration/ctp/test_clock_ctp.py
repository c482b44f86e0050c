"""Invariants of the CTP adapter's clock and heartbeat (the fake counter on a simulated
clock shared with the engine):

- when the front last sent anything is read on the engine's clock, never the wall
  clock, so the engine's silence check compares like with like;
- the exchange's clock is measured at login (SHFETime) and again from every fresh
  market-data tick (its UpdateTime moved since the contract's previous tick; the first
  tick after subscribing is a snapshot and does not count), so a skew that starts or
  ends after login is seen: the kernel's engine halts new orders while it is beyond the
  limit and trades again once it is back;
- on SimNow (whose 7x24 front replays old exchange times) the times are not compared
  unless the profile says so: no skew, no halt.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bastion.backtest.build import BACKTEST_RISK
from bastion.config import parse_profile
from bastion.domain.records import Note
from bastion.engine.engine import Engine, EngineState
from bastion.engine.kernel import EngineConfig, build_engine
from bastion.marketdata.specs import SpecRegistry
from bastion.ops.paper import targets_for
from bastion.orders.rolls import FixedSchedule
from bastion.store import StoreMode
from bastion.venues.ctp.execution import CtpVenue
from bastion.venues.ctp.parsing import DepthQuote, MdLoggedIn, RspInfo
from bastion.venues.ctp.profile import ctp_config_for
from tests.conftest import REPO
from tests.integration.ctp.conftest import RB, Kit

SECOND = dt.timedelta(seconds=1)


def _tick(kit: Kit, bid: int = 3850) -> None:
    """One second on, a fresh tick of rb from the counter."""
    kit.clock.advance(SECOND)
    kit.counter.set_quote(RB, bid, bid + 1, bid_size=50, ask_size=50)


def _skew(venue: CtpVenue) -> float | None:
    venue.poll_events()
    return None if venue.clock_skew is None else venue.clock_skew.total_seconds()


def test_ctp_last_heard_is_on_the_engine_clock(kit: Kit) -> None:
    venue = kit.venue()
    kit.clock.advance(dt.timedelta(minutes=7))
    _tick(kit)
    venue.poll_events()
    assert venue.last_heard == kit.clock.now()  # the simulated clock, not the wall's


def test_ctp_skew_is_measured_from_fresh_ticks_after_login(kit: Kit) -> None:
    venue = kit.venue()
    assert _skew(venue) == 0  # SHFETime at login, in step
    kit.counter.clock_offset = dt.timedelta(seconds=30)  # the exchange runs ahead
    _tick(kit)
    _tick(kit, 3851)
    assert _skew(venue) == pytest.approx(30, abs=1)
    kit.counter.clock_offset = dt.timedelta(0)
    _tick(kit, 3852)
    assert _skew(venue) == pytest.approx(0, abs=1)


def _depth(at: dt.datetime) -> DepthQuote:
    local = at.astimezone(ZoneInfo("Asia/Shanghai"))
    return DepthQuote(
        instrument_id="rb2410",
        exchange_id="SHFE",
        bid=3850.0,
        ask=3851.0,
        bid_volume=5,
        ask_volume=5,
        last=None,
        upper_limit=None,
        lower_limit=None,
        pre_settlement=None,
        update_time=local.strftime("%H:%M:%S"),
        update_millisec=0,
        trading_day="20240429",
        action_day=local.strftime("%Y%m%d"),
    )


def test_ctp_first_tick_after_a_market_login_is_a_snapshot_not_a_clock(kit: Kit) -> None:
    venue = kit.venue()
    assert _skew(venue) == 0
    venue._on_md_login(MdLoggedIn(error=RspInfo(0, ""), request_id=0))  # subscribed again
    old = kit.clock.now() - dt.timedelta(hours=3)
    venue.apply(_depth(old))  # the last snapshot, three hours old: not the clock
    assert venue.clock_skew == dt.timedelta(0)
    venue.apply(_depth(old))  # the same time again: not fresh either
    assert venue.clock_skew == dt.timedelta(0)
    venue.apply(_depth(kit.clock.now() + dt.timedelta(seconds=9)))  # moved: fresh
    assert venue.clock_skew == dt.timedelta(seconds=9)


def _engine(kit: Kit, venue: CtpVenue, tmp_path: Path) -> Engine:
    rb = SpecRegistry.bundled()["rb"]
    return build_engine(
        EngineConfig(
            risk=BACKTEST_RISK,
            specs={rb.contract.instrument_id: rb.contract},
            schedule=FixedSchedule(contracts={rb.contract.instrument_id: RB}),
            store_path=tmp_path / "paper" / "journal.db",
            durability=StoreMode.LIVE,
            risk_level=("base", "test"),
            account_every=dt.timedelta(0),
        ),
        venue,
        kit.clock,
    )


def test_ctp_skew_after_login_halts_the_engine_until_it_is_back(kit: Kit, tmp_path: Path) -> None:
    venue = kit.venue()
    engine = _engine(kit, venue, tmp_path)
    for _ in range(3):
        _tick(kit)
        engine.iterate([])
    assert engine.state() is EngineState.TRADING
    kit.counter.clock_offset = dt.timedelta(seconds=-20)  # the exchange falls behind
    wanted = targets_for("s", {"rb": 1}, kit.clock.now())
    for bid in (3851, 3852, 3853):
        _tick(kit, bid)
        engine.iterate(wanted)
    assert engine.state() is EngineState.CLOCK_SKEW
    assert not kit.counter.orders, "an order reached the counter while its clock was off"
    kit.counter.clock_offset = dt.timedelta(0)
    for bid in (3854, 3855, 3856):
        _tick(kit, bid)
        engine.iterate(wanted)
    assert engine.state() is EngineState.TRADING
    assert kit.counter.orders, "trading did not resume once the clock was back"
    records = (e.record for e in engine.store.entries())
    levels = [r.data["level"] for r in records if isinstance(r, Note) and r.kind == "clock.skew"]
    assert levels == ["halt", "ok"]
    engine.close()


def test_ctp_clock_not_compared_when_the_profile_says_so(kit: Kit) -> None:
    venue = kit.venue(compare_clock=False)
    kit.counter.clock_offset = dt.timedelta(days=-400)  # a replayed day, 7x24-style
    _tick(kit)
    _tick(kit, 3851)
    assert _skew(venue) is None
    assert venue.exchange_seen  # still read, for the logs


def test_ctp_simnow_profile_does_not_compare_clocks_unless_it_asks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("USER", "PASSWORD", "AUTH_CODE"):
        monkeypatch.setenv(f"BASTION_SIMNOW_CTP_{name}", "x")
    raw = yaml.safe_load((REPO / "examples" / "simnow.yaml").read_text())
    simnow = parse_profile(raw, "simnow")
    assert not ctp_config_for(simnow, "engine", timeout=1).compare_clock
    raw["venue"]["compare_clock"] = True
    asked = parse_profile(raw, "simnow")
    assert ctp_config_for(asked, "engine", timeout=1).compare_clock
    broker = yaml.safe_load((REPO / "examples" / "ctp-broker-test.yaml").read_text())
    for key in ("user_env", "password_env", "auth_code_env"):
        if broker["venue"].get(key):
            monkeypatch.setenv(broker["venue"][key], "x")
    assert ctp_config_for(parse_profile(broker, "broker"), "engine", timeout=1).compare_clock
