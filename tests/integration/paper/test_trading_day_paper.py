"""Invariants of the engine's trading-day duty against the paper venue process
(``bastion venue serve --control``; the kernel's engine in a venue session on a
simulated clock):

- at CME's close (the engine's exchange calendar for SP500), the DAY order Bastion has
  resting at the venue is cancelled there: the venue lists no working order, and
  nothing is sent after the close for the ended day;
- the day end is journaled: the loss limits' close of the day and the account's equity
  at the close; the next trading day's loss-limit start is that close's equity, and it
  is persisted in the journal's risk state.

The engine's clock is a ``SimClock`` set two minutes before the close (of the last
CME trading day before the wall clock's, or of the wall clock's own, days ahead), kept moving with
the wall clock, and the venue's SendingTime is offset (the ``clock offset`` wire
control) to agree with it, so the engine's clock-skew duty stays quiet. Once the DAY
order rests at the venue, the test moves both clocks past the close together (the
engine's clock at once, the venue's by a new offset) and waits, before the engine's
next pass, for the venue to speak on the new offset. Each step waits for a
deterministic signal; wall time only bounds the waits.

The paper venue lists no China contract (only ES, NQ and SP500), so a night session's
day end against the venue process is not tested here; it is tested in a backtest and a
sim session (``tests/integration/engine/test_night_sessions.py``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bastion.clock import SimClock
from bastion.config import Profile, parse_profile
from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId, StrategyId
from bastion.domain.order_state import OrderState
from bastion.domain.records import BrokerOrderCreated, Note, OrderTransition
from bastion.domain.requests import OrderPath, OrderRequest
from bastion.domain.targets import Target
from bastion.engine.days import DayEnd, calendars_for
from bastion.engine.engine import EngineState
from bastion.ops.paper import VenueSession
from bastion.risk.persist import KEY_LOSS, load_json
from bastion.store import SqliteStore
from bastion.testing.paper_process import PaperVenueProcess
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO

SP500 = InstrumentId("SP500")
SP_H = ContractId("SP500/202406")
DESK = StrategyId("desk")
DAY_ORDER = ClientOrderId("DAYVP-1")


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    # A slow price feed (one step a second): the resting buy stays well under the market.
    process = PaperVenueProcess(
        tmp_path / "venue.db", control=True, max_seconds=120, tick_seconds=1.0
    )
    yield process
    process.stop()


@pytest.fixture
def operator(venue: PaperVenueProcess) -> Iterator[FixVenue]:
    """The test's own FIX connection, which sends the wire controls."""
    fix = FixVenue(
        FixConfig(port=venue.port, sender_comp_id="BASTION", heartbeat_seconds=30.0),
        dict(DEFAULT_CONTRACTS),
    )
    assert fix.connect(), fix.last_disconnect_reason
    yield fix
    fix.disconnect()


def _profile(tmp_path: Path, port: int) -> Profile:
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"]["port"] = port
    raw["store"] = {"path": str(tmp_path / "paper" / "journal.db")}
    raw["records_dir"] = str(tmp_path / "paper" / "records")
    raw.pop("pool", None)
    return parse_profile(raw, "test")


def _close(wall: dt.datetime, which: str) -> tuple[dt.date, dt.datetime, dt.date]:
    """A CME trading day (the one before the wall clock's, or the wall clock's own), its
    close (the engine's calendar for SP500) and the trading day after it: days away
    from the wall clock, behind or ahead, within the venue's clock offset range."""
    calendar = calendars_for({SP500: DEFAULT_CONTRACTS[SP_H]})[SP500]
    day = calendar.trading_day_of(wall)
    if which == "last":
        day = calendar.previous_trading_day(day)
    close = calendar.close(day)
    return day, close, calendar.trading_day_of(close + dt.timedelta(seconds=1))


def _notes(journal: Path, kind: str) -> list[Note]:
    with SqliteStore(journal) as store:
        records = [e.record for e in store.entries()]
    return [r for r in records if isinstance(r, Note) and r.kind == kind]


def _wait(condition: object, what: str, seconds: float = 20.0) -> None:
    """Wait for a deterministic signal; the time only bounds the wait."""
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("which", ["last", "next"])
def test_cmes_close_cancels_the_resting_day_order_at_the_venue_and_rolls_the_loss_day(
    tmp_path: Path, venue: PaperVenueProcess, operator: FixVenue, which: str
) -> None:
    """``last``: the engine's clock runs days behind the wall clock; ``next``: ahead."""
    wall_started = time.monotonic()
    day, close, next_day = _close(dt.datetime.now(dt.UTC), which)
    clock = SimClock(close - dt.timedelta(minutes=2))
    offset = clock.now() - dt.datetime.now(dt.UTC)  # the engine's time, less the wall's
    assert operator.control("clock", offset=offset.total_seconds())
    profile = _profile(tmp_path, venue.port)
    contracts = dict(DEFAULT_CONTRACTS)
    session = VenueSession(
        profile,
        fix_venue_for(profile, contracts, "engine", clock=clock),
        contracts,
        clock=clock,
        risk_level="base",
        risk_level_source="test",
        reconcile_every=dt.timedelta(seconds=1),
    )
    engine = session.engine
    fix = engine.venue
    steps: list[str] = []
    ended: list[tuple[DayEnd, dt.datetime, int]] = []
    engine.day_listeners.append(
        lambda end: ended.append((end, clock.now(), engine.gateway.counters.send_order_calls))
    )
    resting: list[str] = []

    def at_venue() -> set[str]:
        listed = fix.open_orders().value
        assert listed is not None, "the venue did not answer the open orders query"
        return {str(o.client_order_id) for o in listed}

    def follow_the_wall() -> None:
        clock.advance_to(max(clock.now(), dt.datetime.now(dt.UTC) + offset))

    def place() -> None:
        quote = engine.risk.market.quote(SP_H)
        assert quote is not None
        assert quote.bid_ticks is not None
        order = BrokerOrderCreated(
            client_order_id=DAY_ORDER,
            contract_id=SP_H,
            side=Side.BUY,
            quantity=1,
            order_type=OrderType.LIMIT,
            timestamp=clock.now(),
            time_in_force=TimeInForce.DAY,
            limit_ticks=quote.bid_ticks - 40,  # 10 points under the market: it rests
            strategy_id=DESK,
        )
        sent = engine.gateway.send(OrderRequest(order, OrderPath.MANUAL, SP500, DESK))
        assert sent.outcome.name == "SENT", sent
        steps.append("placed")

    def cross_the_close() -> None:
        """Both clocks jump past the close together; the engine's next pass runs only
        once the venue speaks on the new offset (its skew back near zero)."""
        nonlocal offset
        jump = close + dt.timedelta(seconds=5) - clock.now()
        assert jump > dt.timedelta(0), "the order rested only after the close"
        resting.extend(sorted(at_venue()))
        offset += jump
        clock.advance(jump)
        assert operator.control("clock", offset=offset.total_seconds())

        def in_step() -> bool:
            skew = fix.clock_skew
            return skew is not None and abs(skew) < dt.timedelta(seconds=1)

        _wait(in_step, "the venue's clock agreeing with the engine's after the jump")
        steps.append("crossed")

    def targets() -> list[Target]:
        follow_the_wall()
        if not steps and engine.ready and engine.state() is EngineState.TRADING:
            if engine.risk.market.quote(SP_H) is not None:
                place()
        elif (
            steps == ["placed"]
            and DAY_ORDER in engine.oms.book.broker_orders
            and str(DAY_ORDER) in at_venue()
        ):
            cross_the_close()
        return []

    after_close: list[set[str]] = []

    def rolled() -> bool:
        engine.risk.loss.reload()
        if (
            bool(ended)
            and DAY_ORDER not in engine.oms.book.broker_orders
            and engine.risk.loss.status().day == next_day.isoformat()
        ):
            after_close.append(at_venue())  # asked before the session's own finish
            return True
        return False

    result = session.run(targets, seconds=90, until_met=False, until=rolled)
    wall_seconds = time.monotonic() - wall_started

    assert steps == ["placed", "crossed"], (steps, result.state, result.problems)
    assert str(DAY_ORDER) in resting, "the DAY order never rested at the venue"
    # The day ended at the engine's first pass past the close, for SP500 and the account.
    assert len(ended) == 1, ended
    end, at, sent_at_close = ended[0]
    assert end.instruments == (SP500,)
    assert end.account_day == day
    assert close < at < close + dt.timedelta(seconds=30)
    # Nothing was sent after the close for the ended day; the DAY order was cancelled.
    assert sent_at_close == 1
    assert result.send_order_calls == 1
    assert result.cancel_order_calls >= 1
    assert result.fills == 0
    with SqliteStore(profile.store.path) as store:
        history = store.book.history
        assert DAY_ORDER in history, "the DAY order is still working in the journal"
        loss = load_json(store, KEY_LOSS)
        moves = [
            e.record
            for e in store.entries()
            if isinstance(e.record, OrderTransition) and e.record.client_order_id == DAY_ORDER
        ]
    # Journaled: cancelled at the close (the venue's time agrees with the engine's).
    assert moves[-1].state is OrderState.CANCELED, moves
    assert close < moves[-1].timestamp < close + dt.timedelta(seconds=30), moves[-1]
    # The venue process lists no working order once the day ended (the engine's own
    # query, before the session's finish cancels anything).
    assert after_close == [set()], after_close
    closing = _assert_day_rolled(profile.store.path, loss, day, next_day)
    print(f"wall time {wall_seconds:.1f} s; closed {day} at {closing}")


def _assert_day_rolled(
    journal: Path, loss: dict[str, object], day: dt.date, next_day: dt.date
) -> Decimal:
    """The day end is journaled (the loss limits' close, the equity at the close) and
    the next day's loss-limit start is that equity, persisted; returns the equity."""
    closes = [n for n in _notes(journal, "risk.loss") if "closed at equity" in n.text]
    assert [n.data["day"] for n in closes] == [day.isoformat()], [n.text for n in closes]
    equity = [n for n in _notes(journal, "account.equity") if n.data.get("day") == day.isoformat()]
    assert equity, "no equity note for the ended day"
    assert "at the close of the trading day" in equity[0].text
    closing = Decimal(str(equity[0].data["equity"]))
    assert f"closed at equity {closing}" in closes[0].text
    # The next trading day starts at that close's equity, persisted.
    assert loss["close_day"] == day.isoformat()
    assert Decimal(str(loss["close"])) == closing
    assert loss["day"] == next_day.isoformat()
    assert Decimal(str(loss["day_start"])) == closing
    starts = [n for n in _notes(journal, "risk.loss") if f"day {next_day}" in n.text]
    assert starts, "no start of the next day"
    assert f"starts at equity {closing}" in starts[0].text, [n.text for n in starts]
    assert not _notes(journal, "clock.skew"), "the clocks never disagreed"
    return closing
