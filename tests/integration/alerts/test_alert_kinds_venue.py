"""Invariant: the alert kinds an engine raises about money and the market reach a person
from a session against the venue process (``bastion venue serve``, FIX on loopback),
caused by the venue and the operator's own controls, never by notes the test writes:

- margin threshold crossed: the operator lowers the margin marks from another process
  (``bastion risk limits --set``) while the session holds a position;
- loss limit breached: a daily loss limit below the first fill's commission;
- market paused and resumed: the venue's quote (a control message of the paper venue)
  widens past the spread breaker while the session wants to trade, then narrows.

Each arrives at the loopback webhook receiver through the monitor the session attached;
wall time only bounds the waits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import yaml

from bastion.config import Profile, parse_profile
from bastion.domain.ids import ContractId
from bastion.domain.targets import Target
from bastion.engine.engine import EngineState
from bastion.ops.paper import VenueSession, targets_for
from bastion.testing.paper_process import PaperVenueProcess
from bastion.testing.webhook_receiver import Received, WebhookReceiver
from bastion.venues.fix.execution import FixVenue
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO, run_cli

SP_H = ContractId("SP500/202406")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def _kinds(received: Sequence[Received]) -> set[str]:
    return {r.line("kind") or "" for r in received}


def _profile(tmp_path: Path, port: int, url: str, **risk: object) -> tuple[Profile, Path]:
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"]["port"] = port
    raw["store"] = {"path": str(tmp_path / "paper" / "journal.db")}
    raw["records_dir"] = str(tmp_path / "paper" / "records")
    raw.pop("pool", None)
    raw["risk"].update(risk)
    raw["alerts"] = {"targets": [{"name": "receiver", "url": url}], "min_severity": "info"}
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(raw))
    return parse_profile(raw, "test"), path


def _session(profile: Profile) -> VenueSession:
    return _with_fix(profile)[0]


def _with_fix(profile: Profile) -> tuple[VenueSession, FixVenue]:
    contracts = dict(DEFAULT_CONTRACTS)
    fix = fix_venue_for(profile, contracts, "engine")
    session = VenueSession(
        profile,
        fix,
        contracts,
        risk_level="base",
        risk_level_source="test",
        reconcile_every=dt.timedelta(seconds=1),
    )
    return session, fix


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(tmp_path / "venue.db")
    yield process
    process.stop()


def test_venue_session_margin_marks_lowered_by_the_operator_alert_margin_threshold(
    tmp_path: Path, venue: PaperVenueProcess, receiver: WebhookReceiver
) -> None:
    profile, path = _profile(tmp_path, venue.port, receiver.url())
    session = _session(profile)
    engine = session.engine
    wanted = targets_for("paper_test", {"SP500": 2}, dt.datetime.now(dt.UTC))
    lowered: list[bool] = []

    def targets() -> list[Target]:
        if engine.oms.book.positions.contract_position(SP_H) == 2 and not lowered:
            lowered.append(True)
            for change in ("margin_low_mark=0.001", "margin_high_mark=0.002"):
                done = run_cli(
                    ["risk", "limits", "-p", str(path), "--set", change, "--reason", "drill"]
                )
                assert done.code == 0, done.out + done.err
        return wanted

    session.run(
        targets,
        seconds=60,
        until_met=False,
        until=lambda: "margin_threshold" in _kinds(receiver.received),
    )
    assert lowered, "the session never reached +2"
    got = receiver.wait_for(lambda rs: "margin_threshold" in _kinds(rs))
    margin = next(r for r in got if r.line("kind") == "margin_threshold")
    assert margin.line("severity") == "warning"
    assert "above the high mark 0.2%" in margin.title
    assert margin.line("profile") == "paper-default"
    assert all("PAPER-000001" not in r.text for r in got)


def test_venue_session_daily_loss_limit_alerts_loss_limit_breached(
    tmp_path: Path, venue: PaperVenueProcess, receiver: WebhookReceiver
) -> None:
    profile, _ = _profile(tmp_path, venue.port, receiver.url(), daily_loss_limit="0.01")
    session = _session(profile)
    engine = session.engine
    wanted = targets_for("paper_test", {"SP500": 1}, dt.datetime.now(dt.UTC))
    result = session.run(
        wanted, seconds=60, until_met=False, until=lambda: engine.state() is EngineState.HALTED
    )
    assert result.state == EngineState.HALTED.value
    got = receiver.wait_for(
        lambda rs: {"loss_limit_breached", "trading_state_tightened"} <= _kinds(rs)
    )
    breach = next(r for r in got if r.line("kind") == "loss_limit_breached")
    assert breach.line("severity") == "critical"
    assert "daily_loss_limit breached" in breach.title


@pytest.fixture
def controlled(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    """A venue whose quotes the test sets (its own feed stays still)."""
    process = PaperVenueProcess(tmp_path / "venue.db", control=True, tick_seconds=3600)
    yield process
    process.stop()


def test_venue_session_spread_breaker_alerts_market_paused_then_resumed(
    tmp_path: Path, controlled: PaperVenueProcess, receiver: WebhookReceiver
) -> None:
    profile, _ = _profile(
        tmp_path,
        controlled.port,
        receiver.url(),
        max_spread_ticks=10,
        spread_hold_seconds=0,
        stale_data_seconds=3600,
    )
    session, fix = _with_fix(profile)
    mid = 21684
    wanted = targets_for("paper_test", {"SP500": 1}, dt.datetime.now(dt.UTC))
    steps: list[str] = []

    def targets() -> list[Target]:
        """Wide before the first target is seen; narrow once the pause has arrived."""
        if not steps:
            if not fix.control("quote", contract=str(SP_H), bid=mid - 25, ask=mid + 25):
                return []  # not logged on yet
            steps.append("wide")
        elif steps == ["wide"] and "market_paused" in _kinds(receiver.received):
            assert fix.control("quote", contract=str(SP_H), bid=mid - 1, ask=mid + 1)
            steps.append("narrow")
        return wanted

    result = session.run(
        targets,
        seconds=60,
        until_met=False,
        until=lambda: "market_resumed" in _kinds(receiver.received),
    )
    assert steps == ["wide", "narrow"], f"the session never paused: {result.problems}"
    got = receiver.wait_for(lambda rs: {"market_paused", "market_resumed"} <= _kinds(rs))
    paused = next(r for r in got if r.line("kind") == "market_paused")
    assert paused.line("instrument") == "SP500"
    assert "the spread is 50 ticks, wider than 10" in paused.title
    resumed = next(r for r in got if r.line("kind") == "market_resumed")
    assert resumed.line("instrument") == "SP500"
    assert "cleared; new orders resume" in resumed.title


def _trade_by_hand(profile: Profile) -> None:
    """A person buys one lot at the venue from their own FIX session, behind the
    engine's back (the paper venue keeps one account for every session)."""
    from bastion.clock import WallClock
    from bastion.testing.venue_stubs import make_order

    hand = fix_venue_for(profile, dict(DEFAULT_CONTRACTS), "smoke")
    try:
        assert hand.connect()
        order = make_order(contract_id=SP_H, client_order_id="BY-HAND-1", created=WallClock().now())
        assert hand.submit(order).taken
    finally:
        hand.disconnect()


def test_venue_session_a_trade_behind_its_back_locks_alerts_and_the_all_clear_says_not_clear(
    tmp_path: Path, venue: PaperVenueProcess, receiver: WebhookReceiver, in_tmp: Path
) -> None:
    """A real break, caused at the venue: the running session receives a fill for an
    order it did not place, locks SP500 and alerts; ``bastion recover --adopt`` clears
    the lock and alerts "instrument unlocked"; the day's all-clear still says NOT all
    clear, naming the fill Bastion did not place."""
    profile, path = _profile(tmp_path, venue.port, receiver.url())
    session = _session(profile)
    engine = session.engine
    traded: list[bool] = []

    def targets() -> list[Target]:
        if engine.ready and not traded:
            _trade_by_hand(profile)
            traded.append(True)
        return []

    session.run(
        targets,
        seconds=60,
        until_met=False,
        until=lambda: "instrument_locked" in _kinds(receiver.received),
    )
    assert traded, "the session never became ready"
    got = receiver.wait_for(lambda rs: "instrument_locked" in _kinds(rs))
    locked = next(r for r in got if r.line("kind") == "instrument_locked")
    assert locked.line("instrument") == "SP500"

    recovered = run_cli(
        ["recover", "--profile", str(path), "--instrument", "SP500", "--adopt",
         "--reason", "bought by hand at the venue; adopted"]
    )  # fmt: skip
    assert recovered.code == 0, recovered.out + recovered.err
    got = receiver.wait_for(lambda rs: any("anomaly lock cleared" in r.title for r in rs))
    unlocked = next(r for r in got if "anomaly lock cleared" in r.title)
    assert unlocked.line("kind") == "instrument_unlocked"
    assert unlocked.line("instrument") == "SP500"

    day = dt.datetime.now(dt.UTC).date().isoformat()
    summary = run_cli(["alert", "all-clear", "--profile", str(path), "--day", day])
    assert summary.code == 0, summary.out + summary.err
    got = receiver.wait_for(lambda rs: "daily_all_clear" in _kinds(rs))
    clear = next(r for r in got if r.line("kind") == "daily_all_clear")
    assert clear.line("severity") == "warning"
    # Adopted and unlocked, the day still had a fill Bastion did not place: not clear.
    assert "NOT all clear: 1 fill Bastion did not place" in clear.title
    assert "fills: 0 (0 lots, commissions 0); 1 not placed by Bastion" in clear.message
    assert "locked instruments: none" in clear.message
