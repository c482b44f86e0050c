"""Invariants of the engine's duties in a session against the paper venue process (the
kernel's engine on the wall clock; wall time only bounds the waits):

- margin reductions: the operator lowers the margin marks from another connection
  (``bastion risk limits --set``) while the session runs; the session's engine takes
  the change at its next pass and sends reducing orders through the one send path,
  split over the strategy that holds the position;
- loss limits are checked on every account update: a daily loss limit below the first
  fill's commission trips, the account is HALTED, and the session says so;
- with the venue down, the session says the venue is unreachable, never "done".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
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
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO, run_cli

SP_H = "SP500/202406"


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(tmp_path / "venue.db")
    yield process
    process.stop()


def _profile(tmp_path: Path, port: int, **risk: object) -> tuple[Profile, Path]:
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"]["port"] = port
    raw["store"] = {"path": str(tmp_path / "paper" / "journal.db")}
    raw["records_dir"] = str(tmp_path / "paper" / "records")
    raw.pop("pool", None)
    raw["risk"].update(risk)
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(raw))
    return parse_profile(raw, "test"), path


def _session(profile: Profile) -> VenueSession:
    contracts = dict(DEFAULT_CONTRACTS)
    return VenueSession(
        profile,
        fix_venue_for(profile, contracts, "engine"),
        contracts,
        risk_level="base",
        risk_level_source="test",
        reconcile_every=dt.timedelta(seconds=1),
    )


def _notes(journal: Path, kind: str) -> list[Note]:
    with SqliteStore(journal) as store:
        records = [e.record for e in store.entries()]
    return [r for r in records if isinstance(r, Note) and r.kind == kind]


def test_margin_marks_lowered_by_the_operator_reduce_the_running_sessions_position(
    tmp_path: Path, venue: PaperVenueProcess
) -> None:
    profile, path = _profile(tmp_path, venue.port)
    session = _session(profile)
    engine = session.engine
    wanted = targets_for("paper_test", {"SP500": 4}, dt.datetime.now(dt.UTC))
    lowered: list[bool] = []

    def targets() -> list[Target]:
        held = engine.oms.book.positions.contract_position(SP_H)  # type: ignore[arg-type]
        if held == 4 and not lowered:
            lowered.append(True)
            for change in ("margin_low_mark=0.001", "margin_high_mark=0.002"):
                done = run_cli(
                    ["risk", "limits", "-p", str(path), "--set", change, "--reason", "drill"]
                )
                assert done.code == 0, done.out + done.err
        return wanted

    def reduced() -> bool:
        book = engine.oms.book
        held = book.positions.contract_position(SP_H)  # type: ignore[arg-type]
        return bool(lowered) and held < 4 and not book.broker_orders

    result = session.run(targets, seconds=60, until_met=False, until=reduced)
    assert lowered, "the session never reached +4"
    margin = _notes(profile.store.path, "risk.margin")
    assert margin, "the running session never saw margin above the lowered mark"
    reductions = [n for n in _notes(profile.store.path, "manual_order") if "margin" in n.text]
    assert reductions, "no reducing order was sent"
    held = result.positions.get(SP_H, 0)
    assert held < 4
    assert result.venue_positions is not None
    assert result.venue_positions.get(SP_H, 0) == held
    with SqliteStore(profile.store.path) as store:
        positions = store.book.positions
        assert positions.strategy_position("paper_test", "SP500") == held  # type: ignore[arg-type]


def test_a_daily_loss_limit_trips_on_an_account_update(
    tmp_path: Path, venue: PaperVenueProcess
) -> None:
    profile, _ = _profile(tmp_path, venue.port, daily_loss_limit="0.01")
    session = _session(profile)
    engine = session.engine
    wanted = targets_for("paper_test", {"SP500": 1}, dt.datetime.now(dt.UTC))
    # The account is marked every few seconds; the first fill's commission is the day's
    # loss. Run until the breach halts the account (the time is only a bound).
    result = session.run(
        wanted, seconds=60, until_met=False, until=lambda: engine.state() is EngineState.HALTED
    )
    assert result.fills >= 1
    loss = _notes(profile.store.path, "risk.loss")
    assert any("daily_loss_limit breached" in n.text for n in loss), [n.text for n in loss]
    assert result.state == EngineState.HALTED.value
    assert not result.done
    assert any("daily_loss_limit breached" in p for p in result.problems)


def test_with_the_venue_down_the_session_says_unreachable_never_done(tmp_path: Path) -> None:
    profile, _ = _profile(tmp_path, 1)  # nothing listens on port 1
    result = _session(profile).run(
        targets_for("paper_test", {"SP500": 2}, dt.datetime.now(dt.UTC)), seconds=1.5
    )
    assert result.state == EngineState.UNREACHABLE.value
    assert not result.done
    assert not result.done_for_today
    assert result.send_order_calls == 0
