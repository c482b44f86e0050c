"""Invariant: the IB adapter compares IB's clock with ours periodically (reqCurrentTime
every ``time_check_seconds``, not only at connect), and the kernel's engine on it halts
new orders while TWS's time is beyond the profile's limit, then trades again by itself
once it is back; nothing reaches TWS's placeOrder while halted. The fake TWS's
``clock_offset`` switch skews the time it answers; every wait is for a deterministic
signal (a current-time request answered, an order placed), bounded by wall time.

Found on the way: the periodic check and a round trip (``sync``) asked IB's time at once,
and ib_async keys that request by its kind, so one of them was never answered; they now
take the adapter's one query lock."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from bastion.backtest.build import BACKTEST_RISK
from bastion.clock import WallClock
from bastion.domain.ids import InstrumentId
from bastion.domain.records import Note
from bastion.engine.engine import Engine, EngineState
from bastion.engine.kernel import EngineConfig, build_engine
from bastion.ops.paper import targets_for
from bastion.orders.rolls import FixedSchedule
from bastion.store import StoreMode
from bastion.testing.fake_tws.wire import In
from bastion.testing.venue_stubs import CONTRACT, stub_spec
from tests.integration.ib.world import ASK, BID, ib_world

ES = InstrumentId("ES")


def _until(condition: Callable[[], bool], engine: Engine, what: str) -> None:
    """Engine passes until ``condition`` holds (answers arrive on IB's thread)."""
    deadline = time.monotonic() + 20
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        engine.iterate()
        time.sleep(0.02)


def test_ib_clock_checked_periodically_halts_on_skew_and_clears(tmp_path: Path) -> None:
    with ib_world(
        tmp_path, fake={"manual_clock": False, "start": None}, time_check_seconds=0.1
    ) as w:
        clock = WallClock()
        engine = build_engine(
            EngineConfig(
                risk=BACKTEST_RISK,
                specs={ES: stub_spec()},
                schedule=FixedSchedule(contracts={ES: CONTRACT}),
                store_path=tmp_path / "paper" / "journal.db",
                durability=StoreMode.LIVE,
                risk_level=("base", "test"),
                account_every=dt.timedelta(0),
            ),
            w.venue,
            clock,
        )
        w.tws.broker.set_quote(CONTRACT, BID, ASK)
        _until(lambda: engine.ready, engine, "a clean recovery and reconciliation")
        assert w.venue.clock_skew is not None
        assert abs(w.venue.clock_skew.total_seconds()) < 2  # at connect: in step

        asked = w.tws.requests[In.REQ_CURRENT_TIME]
        w.tws.faults.clock_offset = dt.timedelta(seconds=30)  # TWS's clock runs ahead
        _until(
            lambda: (s := w.venue.clock_skew) is not None and s.total_seconds() > 25,
            engine,
            "the skew seen by a periodic reqCurrentTime",
        )
        assert w.tws.requests[In.REQ_CURRENT_TIME] > asked  # asked again, not at connect
        wanted = targets_for("s", {"ES": 1}, clock.now())
        for _ in range(5):
            engine.iterate(wanted)
            w.settle()
        assert engine.state() is EngineState.CLOCK_SKEW
        assert w.tws.requests[In.PLACE_ORDER] == 0, "an order reached TWS while skewed"
        halt = _skew_notes(engine)
        assert [n.data["level"] for n in halt] == ["halt"]
        assert "new orders halted" in halt[0].text

        w.tws.faults.clock_offset = dt.timedelta(0)  # fixed: trading resumes by itself
        _until(
            lambda: (s := w.venue.clock_skew) is not None and abs(s.total_seconds()) < 2,
            engine,
            "the skew back in step",
        )

        def placed() -> bool:
            engine.iterate(wanted)
            w.settle()
            return w.tws.requests[In.PLACE_ORDER] > 0

        _until(placed, engine, "an order placed once the clock is back")
        assert engine.state() is EngineState.TRADING
        assert [n.data["level"] for n in _skew_notes(engine)] == ["halt", "ok"]
        engine.close()


def _skew_notes(engine: Engine) -> list[Note]:
    records = (e.record for e in engine.store.entries())
    return [r for r in records if isinstance(r, Note) and r.kind == "clock.skew"]
