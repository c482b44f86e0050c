"""Invariants of the engine's clock and heartbeat duties against the paper venue process
(``bastion venue serve --control``; the kernel's engine in a venue session on the wall
clock, its alerts through the session's monitor to a webhook receiver on loopback). The
test drives the venue with its wire controls from a FIX connection of its own, and each
step waits for a deterministic signal (an engine state, a journal note, an alert that
arrived); wall time only bounds the waits:

- a venue whose SendingTime runs beyond ``venue.max_clock_skew_seconds`` halts new
  orders from the first pass (nothing is sent), the session says why, a critical
  ``clock_skew`` alert arrives; when the venue's clock is back, trading resumes by
  itself and ``clock_skew_cleared`` arrives;
- a skew from ``alerts.clock_skew_seconds`` up to the limit warns once (warning) and
  trading goes on;
- a venue that goes silent (no heartbeat, no answer) past ``venue.silence_seconds`` is
  treated as disconnected; a ``disconnected`` alert arrives once it has lasted
  ``alerts.disconnect_seconds``; when the venue speaks again the engine reconnects,
  recovers and reconciles clean, trades on, and ``reconnected`` arrives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import yaml

from bastion.config import Profile, parse_profile
from bastion.domain.records import Note
from bastion.domain.targets import Target
from bastion.engine.engine import EngineState
from bastion.ops.paper import VenueSession, targets_for
from bastion.store import SqliteStore
from bastion.testing.paper_process import PaperVenueProcess
from bastion.testing.webhook_receiver import Received, WebhookReceiver
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO

SP_H = "SP500/202406"


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(tmp_path / "venue.db", control=True, max_seconds=120)
    yield process
    process.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


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


def _profile(tmp_path: Path, port: int, url: str, **venue: object) -> Profile:
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"]["port"] = port
    raw["venue"].update(venue)
    raw["store"] = {"path": str(tmp_path / "paper" / "journal.db")}
    raw["records_dir"] = str(tmp_path / "paper" / "records")
    raw.pop("pool", None)
    raw["alerts"] = {
        "targets": [{"name": "receiver", "url": url}],
        "min_severity": "info",
        "disconnect_seconds": 1,
    }
    return parse_profile(raw, "test")


def _session(profile: Profile) -> VenueSession:
    contracts = dict(DEFAULT_CONTRACTS)
    # A pass that queries a silent venue waits out the query timeout before the next
    # pass can see the silence: 1 s keeps the test short.
    return VenueSession(
        profile,
        fix_venue_for(profile, contracts, "engine", query_timeout=1.0),
        contracts,
        risk_level="base",
        risk_level_source="test",
        reconcile_every=dt.timedelta(seconds=1),
    )


def _notes(journal: Path, kind: str) -> list[Note]:
    with SqliteStore(journal) as store:
        records = [e.record for e in store.entries()]
    return [r for r in records if isinstance(r, Note) and r.kind == kind]


def _kinds(received: Sequence[Received]) -> set[str]:
    return {r.line("kind") or "" for r in received}


def test_a_skewed_venue_clock_halts_new_orders_until_it_is_back(
    tmp_path: Path, venue: PaperVenueProcess, operator: FixVenue, receiver: WebhookReceiver
) -> None:
    profile = _profile(tmp_path, venue.port, receiver.url())
    assert profile.venue.max_clock_skew_seconds == 5
    # The venue's clock runs 12 s ahead before the engine logs on: its Logon already
    # carries the skewed SendingTime, so the engine halts before its first order.
    assert operator.control("clock", offset=12)
    session = _session(profile)
    engine = session.engine
    wanted = targets_for("paper_test", {"SP500": 2}, dt.datetime.now(dt.UTC))
    halted: list[str] = []
    sent_while_halted: list[int] = []

    def targets() -> list[Target]:
        if not halted and engine.state() is EngineState.CLOCK_SKEW:
            halted.append(engine.state().value)
            sent_while_halted.append(engine.gateway.counters.send_order_calls)
        if halted and "clock_skew" in _kinds(receiver.received) and len(halted) == 1:
            halted.append("fixed")
            assert operator.control("clock", offset=0)  # the clock is fixed
        return wanted

    def traded() -> bool:
        held = engine.oms.book.positions.contract_position(SP_H)  # type: ignore[arg-type]
        return len(halted) == 2 and held == 2 and engine.state() is EngineState.TRADING

    result = session.run(targets, seconds=60, until_met=False, until=traded)
    assert halted, "the session never halted for the venue's clock"
    assert "the venue's clock is too far from this machine's" in halted[0]
    assert sent_while_halted == [0], "an order was sent while the venue's clock was off"
    assert result.positions.get(SP_H) == 2, result
    assert result.state == EngineState.TRADING.value
    notes = _notes(profile.store.path, "clock.skew")
    assert [n.data["level"] for n in notes] == ["halt", "ok"], [n.text for n in notes]
    assert 10 < float(notes[0].data["skew_seconds"]) <= 12  # 12 s less the wire's delay
    assert "limit 5 s" in notes[0].text
    assert "new orders halted" in notes[0].text
    assert "new orders resume" in notes[1].text
    got = receiver.wait_for(lambda rs: {"clock_skew", "clock_skew_cleared"} <= _kinds(rs))
    skew = next(r for r in got if r.line("kind") == "clock_skew")
    assert skew.line("severity") == "critical"
    assert "new orders halted" in skew.title


def test_a_skew_below_the_halt_limit_warns_and_trading_goes_on(
    tmp_path: Path, venue: PaperVenueProcess, operator: FixVenue, receiver: WebhookReceiver
) -> None:
    """The warning band (``alerts.clock_skew_seconds`` 2 s up to the 5 s limit) alerts
    once and trades; past the limit it halts (critical); back in step it clears."""
    profile = _profile(tmp_path, venue.port, receiver.url())
    assert profile.alerts.clock_skew_seconds == 2
    assert operator.control("clock", offset=3.5)
    session = _session(profile)
    engine = session.engine
    now = dt.datetime.now(dt.UTC)
    one, two = (targets_for("paper_test", {"SP500": n}, now) for n in (1, 2))
    steps: list[str] = []
    sent_at_halt: list[int] = []

    def held() -> int:
        return engine.oms.book.positions.contract_position(SP_H)  # type: ignore[arg-type]

    def targets() -> list[Target]:
        kinds = _kinds(receiver.received)
        if not steps and held() == 1 and "clock_skew" in kinds:
            steps.append("past the limit")
            assert engine.state() is EngineState.TRADING  # the warning halted nothing
            assert operator.control("clock", offset=12)
        elif steps[-1:] == ["past the limit"] and engine.state() is EngineState.CLOCK_SKEW:
            steps.append("halted")
            sent_at_halt.append(engine.gateway.counters.send_order_calls)
        elif steps[-1:] == ["halted"] and len(_skew_alerts(receiver)) == 2:
            steps.append("fixed")
            assert engine.gateway.counters.send_order_calls == sent_at_halt[0]
            assert operator.control("clock", offset=0)
        return two if "halted" in steps else one

    def traded() -> bool:
        return len(steps) == 3 and held() == 2 and engine.state() is EngineState.TRADING

    result = session.run(targets, seconds=60, until_met=False, until=traded)
    assert steps == ["past the limit", "halted", "fixed"], (
        steps,
        [(r.line("kind"), r.line("severity"), r.status) for r in receiver.received],
        [n.text for n in _notes(profile.store.path, "clock.skew")],
    )
    assert result.positions.get(SP_H) == 2, result
    notes = _notes(profile.store.path, "clock.skew")
    assert [(n.data["before"], n.data["level"]) for n in notes] == [
        ("ok", "warn"),
        ("warn", "halt"),
        ("halt", "ok"),
    ], [n.text for n in notes]
    assert "trading goes on" in notes[0].text
    got = receiver.wait_for(lambda rs: "clock_skew_cleared" in _kinds(rs))
    assert [r.line("severity") for r in _skew_alerts(receiver)] == ["warning", "critical"]
    cleared = next(r for r in got if r.line("kind") == "clock_skew_cleared")
    assert "new orders resume" in cleared.title


def _skew_alerts(receiver: WebhookReceiver) -> list[Received]:
    return [r for r in receiver.received if r.line("kind") == "clock_skew"]


def test_a_silent_venue_is_disconnected_then_reconnected_recovered_and_alerted(
    tmp_path: Path, venue: PaperVenueProcess, operator: FixVenue, receiver: WebhookReceiver
) -> None:
    # The venue beats every 2 s (PaperVenueProcess); 4 s of nothing is silence, long
    # before the FIX session's own heartbeat timeout (30 s) would say so.
    profile = _profile(
        tmp_path, venue.port, receiver.url(), silence_seconds=4, heartbeat_seconds=30
    )
    session = _session(profile)
    engine = session.engine
    fix = engine.venue
    now = dt.datetime.now(dt.UTC)
    one, two = (targets_for("paper_test", {"SP500": n}, now) for n in (1, 2))
    steps: list[str] = []
    epochs: list[int] = []

    def targets() -> list[Target]:
        held = engine.oms.book.positions.contract_position(SP_H)  # type: ignore[arg-type]
        if not steps and held == 1 and engine.ready:
            steps.append("silenced")
            epochs.append(fix.connection_epoch)
            assert operator.control("silence", on=1)
        elif steps == ["silenced"] and "disconnected" in _kinds(receiver.received):
            steps.append("speaking")
            assert operator.control("silence", on=0)
        return two if steps else one

    def recovered() -> bool:
        held = engine.oms.book.positions.contract_position(SP_H)  # type: ignore[arg-type]
        return (
            len(steps) == 2
            and fix.connection_epoch > epochs[0]
            and engine.ready
            and held == 2
            and "reconnected" in _kinds(receiver.received)
        )

    result = session.run(targets, seconds=90, until_met=False, until=recovered)
    assert steps == ["silenced", "speaking"], steps
    assert result.positions.get(SP_H) == 2, result
    assert result.reconcile_clean, result.breaks
    silent = _notes(profile.store.path, "venue.silent")
    assert silent, "the engine never noticed the silence"
    assert "the venue sent nothing for" in silent[0].text
    assert _notes(profile.store.path, "disconnect")
    got = receiver.wait_for(lambda rs: {"disconnected", "reconnected"} <= _kinds(rs))
    down = next(r for r in got if r.line("kind") == "disconnected")
    assert "new orders halted until it reconnects" in down.title
    assert all("PAPER-000001" not in r.text for r in got)
