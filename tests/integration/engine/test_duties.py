"""Invariants of the engine's duties (issue "The engine's duties in every mode"), on the
kernel's engine and a simulated clock; the sim session and the backtest run the same
engine through ``run_session`` (the session against the venue process is in
``tests/integration/paper/test_duties_paper.py``):

- a venue clock too far from ours halts new orders, journaled, until it is back;
- a venue that sends nothing past the silence limit is treated as disconnected, then
  recovered and reconciled before anything is sent again;
- the loop's heartbeat counts every pass at the engine's clock;
- a CME instrument's trading day ends at the exchange's close in Chicago, not at UTC
  midnight, and the
  account day's closing equity is kept for the next day;
- a day's loss is measured from the previous trading day's close, persisted, and a
  restart mid-day does not reset it;
- a daily loss limit trips on the bars of a backtest and of a sim session;
- the kill switch acts at the next bar of a backtest, flattens there, its fills are in
  the P&L and belong to the strategy that held the position;
- margin above the high mark sends reducing orders in a backtest and a sim session;
- an order Bastion did not place, working at the venue, locks its instrument.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bastion.backtest.build import BACKTEST_RISK, frictionless_venue_config
from bastion.backtest.build import build_engine as build_bar_engine
from bastion.backtest.session import run_session
from bastion.clock import SimClock
from bastion.config import RiskConfig, load_profile
from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ContractId, InstrumentId, StrategyId
from bastion.domain.records import BrokerOrderCreated, Note
from bastion.engine.days import DayEnd
from bastion.engine.engine import Engine, EngineState, Heartbeat
from bastion.engine.kernel import EngineConfig, build_engine
from bastion.marketdata.specs import SpecRegistry
from bastion.ops.paper import targets_for
from bastion.orders.rolls import FixedSchedule
from bastion.recon.locks import LockSource
from bastion.risk.states import Scope, StateEvent
from bastion.store import SqliteStore, StoreMode
from bastion.strategy.examples import Hold
from bastion.testing.stack import ES, ES_H, ES_SPEC, minute_bars
from bastion.testing.venue_stubs import make_order, quote
from bastion.venues.port import Snapshot
from bastion.venues.sim import SimVenue, SimVenueConfig
from tests.conftest import REPO

SP500 = InstrumentId("SP500")
SP_SPEC = SpecRegistry.bundled()[SP500].contract
SP_H = ContractId("SP500/202406")
# Monday 4 March 2024, 20:00 UTC = 14:00 in Chicago (CST, UTC-6, before the DST change).
MONDAY = dt.datetime(2024, 3, 4, 20, tzinfo=dt.UTC)


def _kernel(
    tmp_path: Path,
    *,
    risk: RiskConfig = BACKTEST_RISK,
    start: dt.datetime = MONDAY,
    silence: dt.timedelta | None = None,
    cash: Decimal = Decimal(10**9),
) -> tuple[Engine, SimVenue, SimClock]:
    clock = SimClock(start)
    sim = SimVenue({SP_H: SP_SPEC}, clock, SimVenueConfig(initial_cash=cash))
    sim.connect()
    sim.on_quote(quote(20000, 20001, at=start, contract_id=SP_H))
    config = EngineConfig(
        risk=risk,
        specs={SP500: SP_SPEC},
        schedule=FixedSchedule(contracts={SP500: SP_H}),
        store_path=tmp_path / "sim" / "journal.db",
        durability=StoreMode.LIVE,
        risk_level=("base", "test"),
        silence_limit=silence,
        account_every=dt.timedelta(0),
    )
    return build_engine(config, sim, clock), sim, clock


def _passes(engine: Engine, clock: SimClock, n: int, step: float = 1.0, targets=None) -> None:  # type: ignore[no-untyped-def]
    for _ in range(n):
        clock.advance(dt.timedelta(seconds=step))
        engine.iterate(targets)


def _notes(store: SqliteStore, kind: str) -> list[Note]:
    records = (e.record for e in store.entries())
    return [r for r in records if isinstance(r, Note) and r.kind == kind]


def _orders(store: SqliteStore) -> int:
    return sum(1 for e in store.entries() if isinstance(e.record, BrokerOrderCreated))


# -- clocks ---------------------------------------------------------------------------------


def test_venue_clock_skew_halts_new_orders_until_it_is_back(tmp_path: Path) -> None:
    engine, sim, clock = _kernel(tmp_path)
    _passes(engine, clock, 3, targets=[])
    assert engine.state() is EngineState.TRADING
    sim.faults.clock_skew(12.5)  # the venue's clock runs 12.5 s ahead; the limit is 5 s
    wanted = targets_for("s", {"SP500": 2}, clock.now())
    _passes(engine, clock, 5, targets=wanted)
    assert engine.state() is EngineState.CLOCK_SKEW
    assert _orders(engine.store) == 0, "an order was sent while the venue's clock was off"
    halted = _notes(engine.store, "clock.skew")
    assert len(halted) == 1
    assert "+12.500 s" in halted[0].text
    assert "halted" in halted[0].text
    sim.faults.clock_skew(-0.25)  # back within the limit: trading resumes by itself
    _passes(engine, clock, 10, targets=wanted)
    assert engine.state() is EngineState.TRADING
    assert engine.oms.book.positions.contract_position(SP_H) == 2
    assert len(_notes(engine.store, "clock.skew")) == 2
    engine.close()


def test_silent_venue_is_treated_as_disconnected_then_recovered(tmp_path: Path) -> None:
    engine, sim, clock = _kernel(tmp_path, silence=dt.timedelta(seconds=30))
    _passes(engine, clock, 3, targets=[])
    epoch = sim.connection_epoch
    sim.faults.silence(600)  # connected, but nothing comes: no report, no heartbeat answer
    _passes(engine, clock, 25, step=1.0)
    assert engine.disconnects == 0, "silent for 25 s of a 30 s limit: still connected"
    _passes(engine, clock, 10, step=1.0)
    silent = _notes(engine.store, "venue.silent")
    assert len(silent) == 1
    assert "sent nothing for 3" in silent[0].text
    assert engine.disconnects == 1
    # The next passes reconnect (a new logon hears the venue), recover and reconcile.
    _passes(engine, clock, 5, targets=targets_for("s", {"SP500": 1}, clock.now()))
    assert sim.connection_epoch > epoch
    assert engine.ready
    assert engine.state() is EngineState.TRADING
    assert len(engine.recoveries) >= 2
    assert engine.oms.book.positions.contract_position(SP_H) == 1
    engine.close()


def test_heartbeat_counts_every_pass_at_the_engines_clock(tmp_path: Path) -> None:
    engine, sim, clock = _kernel(tmp_path)
    seen: list[tuple[int, dt.datetime | None]] = []
    engine.pass_listeners.append(lambda beat: seen.append((beat.iterations, beat.at)))
    sim.faults.disconnect(10)  # a pass that finds the venue down still beats
    _passes(engine, clock, 4)
    assert [n for n, _ in seen] == [1, 2, 3, 4]
    assert seen[-1][1] == clock.now()
    engine.close()


# -- trading days -----------------------------------------------------------------------------


def test_cme_trading_day_ends_at_the_chicago_close_not_utc_midnight(tmp_path: Path) -> None:
    engine, _sim, clock = _kernel(tmp_path)
    ends: list[tuple[dt.datetime, DayEnd]] = []
    engine.day_listeners.append(lambda ended: ends.append((clock.now(), ended)))
    engine.iterate([])
    # 20:00 UTC Monday to 02:00 UTC Tuesday in 10-minute passes.
    _passes(engine, clock, 36, step=600)
    assert len(ends) == 1, ends
    when, ended = ends[0]
    # The exchange calendar's close of the E-mini day session, 16:00 in Chicago (CST);
    # the evening session from 17:00 belongs to Tuesday. Never midnight UTC.
    assert when == dt.datetime(2024, 3, 4, 22, 0, tzinfo=dt.UTC)
    assert ended.instruments == (SP500,)
    assert ended.account_day == dt.date(2024, 3, 4)
    closed = [n for n in _notes(engine.store, "risk.loss") if "closed at equity" in n.text]
    assert [n.data.get("day") for n in closed] == ["2024-03-04"]
    evening = dt.datetime(2024, 3, 4, 23, 30, tzinfo=dt.UTC)  # 17:30 in Chicago
    assert engine.days.account_day(evening) == dt.date(2024, 3, 5)
    engine.close()


def test_day_start_is_the_previous_close_and_a_restart_keeps_it(tmp_path: Path) -> None:
    risk = BACKTEST_RISK.model_copy(update={"daily_loss_limit": Decimal(10**9)})
    engine, sim, clock = _kernel(tmp_path, risk=risk)
    _passes(engine, clock, 5, targets=targets_for("s", {"SP500": 4}, clock.now()))
    assert engine.oms.book.positions.contract_position(SP_H) == 4
    # The price moves before the close: Monday closes at that equity.
    sim.on_quote(quote(20100, 20101, at=clock.now(), contract_id=SP_H))
    clock.advance_to(dt.datetime(2024, 3, 4, 22, 0, 30, tzinfo=dt.UTC))
    engine.iterate()
    monday_close = engine.risk.loss.status()
    closed = [n for n in _notes(engine.store, "risk.loss") if "closed at equity" in n.text]
    assert len(closed) == 1
    close_equity = Decimal(closed[0].text.rsplit(" ", 1)[1])
    # Tuesday's session: the price moves again before the first mark of the day.
    sim.on_quote(quote(19900, 19901, at=clock.now(), contract_id=SP_H))
    clock.advance(dt.timedelta(hours=1))
    engine.iterate()
    status = engine.risk.loss.status()
    assert status.day == "2024-03-05"
    assert status.day_start == close_equity, (monday_close, status)
    assert status.equity is not None
    assert status.equity != close_equity
    engine.close()
    # A restart mid-day: the day's start stays the previous close.
    again, _, _ = _kernel(tmp_path, risk=risk, start=clock.now())
    again.iterate()
    assert again.risk.loss.status().day_start == close_equity
    again.close()


# -- loss limits, the kill switch and margin in a backtest and a sim session -----------------


@pytest.fixture
def sim_profile(in_tmp: Path) -> Path:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    return in_tmp / "examples" / "sim.yaml"


def _with_risk(path: Path, **risk: object) -> Path:
    raw = yaml.safe_load(path.read_text())
    raw["risk"].update(risk)
    out = path.with_name("duty.yaml")
    out.write_text(yaml.safe_dump(raw))
    return out


@pytest.mark.parametrize("kind", ["backtest", "session"])
def test_daily_loss_limit_trips_on_the_bars(sim_profile: Path, kind: str) -> None:
    profile = load_profile(_with_risk(sim_profile, daily_loss_limit=1))
    result = run_session(profile, kind=kind, end=dt.date(2024, 2, 5))
    assert any("daily_loss_limit breached" in p for p in result.problems), result.problems
    with SqliteStore(profile.store.path) as store:
        breaches = [n for n in _notes(store, "risk.loss") if "daily_loss_limit breached" in n.text]
        # Each breach is journaled once, in the trading day it happened.
        assert breaches
        assert len({n.data.get("day") for n in breaches}) == len(breaches)


@pytest.mark.parametrize("kind", ["backtest", "session"])
def test_margin_above_the_high_mark_sends_reductions(sim_profile: Path, kind: str) -> None:
    """Positions are opened within the limits; then the marks are lowered at run time
    (as ``bastion risk limits --set`` does) and the next equity mark reduces them."""
    profile = load_profile(sim_profile)
    lowered: list[int] = []

    def lower_marks_once_positioned(engine: Engine) -> None:
        def after_pass(beat: Heartbeat) -> None:
            held = any(engine.oms.book.positions.contract.values())
            if held and not lowered:
                lowered.append(beat.iterations)
                book, now = engine.risk.limit_book, engine.clock.now()
                book.set("margin_low_mark", "0.01", "test: tighten", now)
                book.set("margin_high_mark", "0.02", "test: tighten", now)

        engine.pass_listeners.append(after_pass)

    run_session(profile, kind=kind, end=dt.date(2024, 2, 5), attach=lower_marks_once_positioned)
    assert lowered, "the strategy never opened a position"
    with SqliteStore(profile.store.path) as store:
        margin = _notes(store, "risk.margin")
        assert margin, "margin above the high mark was never noticed"
        reductions = [n for n in _notes(store, "manual_order") if "margin" in n.text]
        assert reductions, "no reducing order was sent"
        book = store.book
        positions = book.positions
        for iid in {i for (i, _) in positions.contract}:
            by_strategy = sum(q for (_, i), q in positions.strategy.items() if i == iid)
            assert by_strategy == positions.instrument_position(iid)


def test_kill_in_a_backtest_flattens_at_the_next_bar_with_fills_in_the_pnl(
    tmp_path: Path,
) -> None:
    start = dt.datetime(2024, 3, 1, 14, tzinfo=dt.UTC)
    runner = build_bar_engine(
        specs={ES: ES_SPEC},
        contracts=[(ES, ES_H)],
        schedule=FixedSchedule(contracts={ES: ES_H}),
        strategies=[Hold("hold", ES, lots=3)],
        start=start,
        journal=tmp_path / "bt" / "journal.db",
        venue_config=frictionless_venue_config(Decimal(2)),
    )
    bars = minute_bars([(i % 5) - 2 for i in range(40)], start=start)
    runner.run(bars[:10])
    book = runner.engine.oms.book
    assert book.positions.contract_position(ES_H) == 3
    fills_before, commissions_before = runner.pnl.fills, runner.pnl.commissions
    runner.engine.risk.request_kill("backtest drill", "test")
    runner.on_bar(bars[10])  # the next bar starts it: cancel, then flatten
    runner.run(bars[11:14])
    assert runner.engine.kill_reports, "the kill switch never ran in the backtest"
    report = runner.engine.kill_reports[-1]
    assert report.flat_confirmed, report.headline
    assert book.positions.contract_position(ES_H) == 0
    assert book.positions.strategy_position(StrategyId("hold"), ES) == 0
    # The kill's fills are in the P&L: counted, charged, and the P&L's position is flat.
    assert runner.pnl.fills > fills_before
    assert runner.pnl.commissions > commissions_before
    assert runner.pnl.positions[ES_H] == 0
    assert runner.engine.state() is EngineState.HALTED
    runner.close()


def test_a_close_no_engine_saw_never_starts_a_later_day(tmp_path: Path) -> None:
    """Monday's close was recorded; no engine ran over Tuesday's. Wednesday's start is
    not Monday's close (equity rose on Tuesday, so a Wednesday loss measured from Monday
    would show none): it is Wednesday's first equity, and an alert says why."""
    risk = BACKTEST_RISK.model_copy(update={"daily_loss_limit": Decimal(10**9)})
    engine, _, clock = _kernel(tmp_path, risk=risk)
    _passes(engine, clock, 5, targets=targets_for("s", {"SP500": 4}, clock.now()))
    clock.advance_to(dt.datetime(2024, 3, 4, 22, 0, 30, tzinfo=dt.UTC))
    engine.iterate()
    closed = [n.text for n in _notes(engine.store, "risk.loss") if "closed at equity" in n.text]
    assert len(closed) == 1
    assert "2024-03-04" in closed[0]
    engine.close()
    # Wednesday 6 March, 15:00 in Chicago: the price is well above Monday's close.
    wednesday = dt.datetime(2024, 3, 6, 21, tzinfo=dt.UTC)
    again, sim2, _ = _kernel(tmp_path, risk=risk, start=wednesday)
    sim2.on_quote(quote(20400, 20401, at=wednesday, contract_id=SP_H))
    again.iterate()
    status = again.risk.loss.status()
    assert status.day == "2024-03-06"
    assert status.day_start == status.equity
    alerts = [n.text for n in _notes(again.store, "alert") if "closing equity is unknown" in n.text]
    assert len(alerts) == 1
    assert "2024-03-05" in alerts[0]
    again.close()


# -- foreign orders ---------------------------------------------------------------------------


def test_an_order_bastion_did_not_place_locks_its_instrument_at_recovery(
    tmp_path: Path,
) -> None:
    """Someone else's working order in the account (a manual order, another client) is a
    fact Bastion's plan does not include: recovery journals it, the instrument is locked
    with the way out, an alert is journaled, and nothing is sent for that instrument."""
    engine, sim, clock = _kernel(tmp_path)
    manual = make_order(
        Side.SELL, 1, OrderType.LIMIT, limit_ticks=20400, contract_id=SP_H,
        client_order_id="MANUAL-1", time_in_force=TimeInForce.GTC,
    )  # fmt: skip
    assert sim.submit(manual).taken
    wanted = targets_for("test", {"SP500": 2}, MONDAY)
    _passes(engine, clock, 5, targets=wanted)
    locks = engine.locks.locks()
    assert LockSource.ANOMALY in locks.get(SP500, {}), locks
    assert "bastion recover" in locks[SP500][LockSource.ANOMALY]
    assert _notes(engine.store, "foreign_order")
    assert any("MANUAL-1" in n.text for n in _notes(engine.store, "alert"))
    assert _orders(engine.store) == 0
    engine.close()


def test_a_break_locks_its_instrument_and_the_others_trade_on(tmp_path: Path) -> None:
    """R7.3: a break locks the instrument it is about, not the account. A trade at the
    venue whose reports never reached Bastion (a fills_vs_broker break on SP500) leaves
    ES free to trade toward its new target."""
    clock = SimClock(MONDAY)
    sim = SimVenue(
        {SP_H: SP_SPEC, ES_H: ES_SPEC}, clock, SimVenueConfig(initial_cash=Decimal(10**9))
    )
    sim.connect()
    sim.on_quote(quote(20000, 20001, at=MONDAY, contract_id=SP_H))
    sim.on_quote(quote(20000, 20001, at=MONDAY, contract_id=ES_H))
    config = EngineConfig(
        risk=BACKTEST_RISK,
        specs={SP500: SP_SPEC, ES: ES_SPEC},
        schedule=FixedSchedule(contracts={SP500: SP_H, ES: ES_H}),
        store_path=tmp_path / "sim" / "journal.db",
        risk_level=("base", "test"),
        account_every=dt.timedelta(0),
        reconcile_every=dt.timedelta(seconds=1),
    )
    engine = build_engine(config, sim, clock)
    _passes(engine, clock, 3)
    assert engine.state() is EngineState.TRADING
    sim.faults.drop_next(2)  # its acknowledgement and its fill never reach Bastion
    assert sim.submit(make_order(Side.BUY, 1, contract_id=SP_H, client_order_id="HAND-1")).taken
    _passes(engine, clock, 3)
    report = engine.last_report
    assert report is not None
    assert SP500 in report.locked_instruments, report.breaks
    assert engine.locks.is_locked(SP500)
    wanted = targets_for("test", {"ES": 2}, MONDAY)
    _passes(engine, clock, 10, targets=wanted)
    assert engine.oms.book.positions.contract_position(ES_H) == 2
    assert engine.locks.is_locked(SP500)
    assert engine.oms.book.positions.contract_position(SP_H) == 0  # nothing sent for it
    engine.close()


def test_an_exchanges_day_end_expires_and_rolls_only_its_own_contracts(tmp_path: Path) -> None:
    """In a backtest trading two exchanges, one exchange's close expires DAY orders and
    rolls today's books into yesterday's for its own contracts only (a CME close leaves
    an SHFE order and its close-today book alone)."""
    start = dt.datetime(2024, 3, 1, 14, tzinfo=dt.UTC)
    runner = build_bar_engine(
        specs={ES: ES_SPEC, SP500: SP_SPEC},
        contracts=[(ES, ES_H), (SP500, SP_H)],
        schedule=FixedSchedule(contracts={ES: ES_H, SP500: SP_H}),
        strategies=[],
        start=start,
        journal=None,
        venue_config=frictionless_venue_config(Decimal(2)),
    )
    sim = runner.venue
    for cid in (ES_H, SP_H):
        sim.on_quote(quote(20000, 20001, at=start, contract_id=cid))
        order = make_order(
            Side.BUY, 1, OrderType.LIMIT, limit_ticks=19000, contract_id=cid,
            client_order_id=f"DAY-{cid}",
        )  # fmt: skip
        assert sim.submit(order).taken
    sim.poll_events()
    for listener in runner.engine.day_listeners:
        listener(DayEnd((ES,), None))
    working = {o.client_order_id for o in sim.open_orders().value or ()}
    assert working == {f"DAY-{SP_H}"}
    runner.close()


def test_silent_venue_costs_a_pass_one_query_timeout_not_one_per_query(tmp_path: Path) -> None:
    """A query to a silent venue waits out its timeout (here 5 s of the simulated clock).
    Once the silence limit has passed, the engine's other queries answer "unknown" at
    once, so the silence is noticed within one timeout of the limit, however many
    queries a pass makes (a reconciliation alone makes several)."""
    clock = SimClock(MONDAY)
    sim = SimVenue({SP_H: SP_SPEC}, clock, SimVenueConfig(initial_cash=Decimal(10**9)))
    sim.connect()
    sim.on_quote(quote(20000, 20001, at=MONDAY, contract_id=SP_H))
    timeout = dt.timedelta(seconds=5)
    asked: list[str] = []

    def waiting(name: str):  # type: ignore[no-untyped-def]
        answer = getattr(sim, name)

        def query(*args):  # type: ignore[no-untyped-def]
            if sim.faults.silent_until is not None and clock.now() < sim.faults.silent_until:
                asked.append(name)
                clock.advance(timeout)  # no answer: the query's own timeout runs out
                return Snapshot.unknown(f"{name}: no answer within 5 s")
            return answer(*args)

        return query

    for name in ("account", "positions", "open_orders", "fills_since", "order_status"):
        setattr(sim, name, waiting(name))
    config = EngineConfig(
        risk=BACKTEST_RISK,
        specs={SP500: SP_SPEC},
        schedule=FixedSchedule(contracts={SP500: SP_H}),
        store_path=tmp_path / "sim" / "journal.db",
        durability=StoreMode.LIVE,
        risk_level=("base", "test"),
        silence_limit=dt.timedelta(seconds=30),
        account_every=dt.timedelta(0),
        reconcile_every=dt.timedelta(0),
    )
    engine = build_engine(config, sim, clock)
    _passes(engine, clock, 3, targets=[])
    sim.faults.silence(600)
    _passes(engine, clock, 10, step=1.0)
    silent = _notes(engine.store, "venue.silent")
    assert silent, f"never noticed; queries waited on: {asked}"
    seconds = int(silent[0].text.split("for ")[1].split(" s")[0])
    assert 30 < seconds <= 30 + 5 + 1, silent[0].text
    engine.close()


def test_refused_intent_is_not_asked_again_at_every_pass_and_resumes_at_once(
    tmp_path: Path,
) -> None:
    """A HALTED account refuses every opening order. The refusal is journaled, but the
    stack does not make a new order for the same intent at every pass (a halted session
    grew its journal by three records a pass, without end); a resume is acted on at the
    next pass."""
    engine, _sim, clock = _kernel(tmp_path)
    engine.risk.operator(Scope.account(), StateEvent.OPERATOR_HALT, "drill")
    wanted = targets_for("s", {"SP500": 1}, clock.now())
    _passes(engine, clock, 600, targets=wanted)  # ten minutes of one-second passes
    denied = _notes(engine.store, "risk.denied")
    assert 1 <= len(denied) <= 15, len(denied)
    assert engine.oms.book.positions.contract_position(SP_H) == 0
    engine.risk.operator(Scope.account(), StateEvent.OPERATOR_RESUME, "drill over")
    _passes(engine, clock, 2, targets=wanted)
    assert engine.oms.book.positions.contract_position(SP_H) == 1
    engine.close()
