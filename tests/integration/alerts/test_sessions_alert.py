"""Invariant: a running engine's alerts reach a person and its heartbeat is on disk, in
every mode an operator runs an engine: the sim session (``bastion session`` on a sim
profile), a session against the venue process, the kill switch run by ``bastion
kill``'s own engine, and ``bastion recover``'s engine clearing a lock. Nothing here
feeds the alert chain by hand: the engine's journal notes go through the monitor the
session attached (``bastion.ops.monitor``) to the profile's notifier and a webhook
receiver on loopback."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bastion.config import parse_profile
from bastion.domain.targets import Target
from bastion.ops.heartbeat import heartbeat_path
from bastion.ops.paper import VenueSession, targets_for
from bastion.testing.paper_process import PaperVenueProcess
from bastion.testing.webhook_receiver import Received, WebhookReceiver
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO, run_cli


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def _alerts(url: str) -> dict[str, object]:
    return {"targets": [{"name": "receiver", "url": url}], "min_severity": "info"}


def _kinds(received: Sequence[Received]) -> set[str]:
    return {r.line("kind") or "" for r in received}


def _stopped_heartbeat(journal: Path) -> dict[str, object]:
    beat = json.loads(heartbeat_path(journal).read_text())
    assert beat["state"] == "stopped", beat  # a clean end: the watchdog stays quiet
    assert int(beat["iteration"]) > 0
    return beat


def test_sim_session_alerts_a_loss_limit_and_writes_its_heartbeat(
    in_tmp: Path, receiver: WebhookReceiver
) -> None:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    raw = yaml.safe_load((in_tmp / "examples" / "sim.yaml").read_text())
    raw["alerts"] = _alerts(receiver.url())
    raw["risk"]["daily_loss_limit"] = 1  # the first losing day trips it
    (in_tmp / "sim.yaml").write_text(yaml.safe_dump(raw))
    done = run_cli(["session", "--profile", "sim.yaml", "--end", "2024-02-05"])
    # The session ends HALTED: a verdict of NO (exit 3), and it says so.
    assert done.code == 3, done.out + done.err
    assert "engine state at the end" in done.out
    assert "trading is HALTED" in done.out
    got = receiver.wait_for(
        lambda rs: {"loss_limit_breached", "trading_state_tightened"} <= _kinds(rs)
    )
    breach = next(r for r in got if r.line("kind") == "loss_limit_breached")
    assert breach.line("severity") == "critical"
    assert breach.line("profile") == "sim-default"
    assert all("SIM-000001" not in r.text for r in got)
    _stopped_heartbeat(in_tmp / "runs" / "sim" / "journal.db")


def test_a_backtest_alerts_nobody(in_tmp: Path, receiver: WebhookReceiver) -> None:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    raw = yaml.safe_load((in_tmp / "examples" / "sim.yaml").read_text())
    raw["alerts"] = _alerts(receiver.url())
    raw["risk"]["daily_loss_limit"] = 1
    (in_tmp / "sim.yaml").write_text(yaml.safe_dump(raw))
    done = run_cli(["backtest", "--profile", "sim.yaml", "--end", "2024-02-05"])
    assert done.code == 0, done.out + done.err
    assert receiver.received == []
    assert not heartbeat_path(in_tmp / "runs" / "sim" / "journal.db").exists()


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(tmp_path / "venue.db")
    yield process
    process.stop()


def _paper(tmp_path: Path, port: int, url: str) -> dict[str, object]:
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"]["port"] = port
    raw["store"] = {"path": str(tmp_path / "paper" / "journal.db")}
    raw["records_dir"] = str(tmp_path / "paper" / "records")
    raw.pop("pool", None)
    raw["alerts"] = _alerts(url)
    return dict(raw)


def test_venue_session_alerts_a_kill_and_its_outcome(
    tmp_path: Path, venue: PaperVenueProcess, receiver: WebhookReceiver
) -> None:
    profile = parse_profile(_paper(tmp_path, venue.port, receiver.url()), "test")
    contracts = dict(DEFAULT_CONTRACTS)
    session = VenueSession(
        profile,
        fix_venue_for(profile, contracts, "engine"),
        contracts,
        risk_level="base",
        risk_level_source="test",
        reconcile_every=dt.timedelta(seconds=1),
    )
    engine = session.engine
    wanted = targets_for("paper_test", {"SP500": 2}, dt.datetime.now(dt.UTC))

    def targets() -> list[Target]:
        held = sum(engine.oms.book.positions.contract.values())
        if held == 2 and engine.risk.pending_kill() is None and not engine.kill_reports:
            engine.risk.request_kill("alert drill", "test")
        return wanted

    result = session.run(targets, seconds=30, until_met=False)
    assert result.kill_reports, result
    assert result.venue_positions in ({}, {"SP500/202406": 0})
    got = receiver.wait_for(
        lambda rs: (
            {"kill_requested", "kill_flat_confirmed", "trading_state_tightened"} <= _kinds(rs)
        )
    )
    requested = next(r for r in got if r.line("kind") == "kill_requested")
    assert "alert drill" in requested.title
    assert all("PAPER-000001" not in r.text for r in got)
    _stopped_heartbeat(profile.store.path)


def test_bastion_kill_with_no_engine_running_alerts_from_its_own_engine(
    tmp_path: Path, venue: PaperVenueProcess, receiver: WebhookReceiver, in_tmp: Path
) -> None:
    raw = _paper(tmp_path, venue.port, receiver.url())
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(raw))
    done = run_cli(["kill", "--profile", str(path), "--reason", "drill without a session"])
    assert done.code == 0, done.out + done.err
    got = receiver.wait_for(lambda rs: {"kill_requested", "kill_flat_confirmed"} <= _kinds(rs))
    assert any("drill without a session" in r.title for r in got)
    _stopped_heartbeat(tmp_path / "paper" / "journal.db")


def test_a_record_journaled_just_before_a_crash_still_alerts_after_the_restart(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """The feed resumes from the last entry whose alerts the outbox took, not from the
    journal's end: a kill request journaled in the pass the process died in alerts when
    the next engine starts."""
    from bastion.ops.monitor import attach_monitor
    from tests.integration.engine.test_duties import _kernel

    profile = parse_profile(
        {
            "name": "crash-alerts",
            "environment": "sim",
            "strategy_line": "ema_trend",
            "capital": 1_000_000,
            "account": "SIM-000001",
            "instruments": ["SP500"],
            "store": {"path": str(tmp_path / "sim" / "journal.db")},
            "alerts": _alerts(receiver.url()),
        },
        "test",
    )
    engine, _sim, _clock = _kernel(tmp_path)
    attach_monitor(engine, profile)
    engine.iterate([])
    engine.risk.request_kill("journaled, then the process died", "test")
    engine.close_listeners.clear()  # a crash: no final pass, no flush of the feed
    engine._close_store()
    assert not any(r.line("kind") == "kill_requested" for r in receiver.received)

    again, _sim2, _clock2 = _kernel(tmp_path)
    monitor = attach_monitor(again, profile)
    again.iterate([])
    got = receiver.wait_for(lambda rs: "kill_requested" in _kinds(rs))
    assert any("journaled, then the process died" in r.title for r in got)
    assert monitor.failures == 0
    again.close()


def test_bastion_recover_clearing_an_anomaly_lock_alerts_instrument_unlocked(
    tmp_path: Path, venue: PaperVenueProcess, receiver: WebhookReceiver, in_tmp: Path
) -> None:
    """A lock only an operator clears (an anomaly's) goes with ``bastion recover``; the
    unlock is journaled as a ``lock`` note and arrives as "instrument unlocked"."""
    from bastion.domain.ids import InstrumentId
    from bastion.domain.records import Note
    from bastion.recon.locks import LockBook, LockSource
    from bastion.store.sqlite import SqliteStore

    raw = _paper(tmp_path, venue.port, receiver.url())
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(raw))
    journal = tmp_path / "paper" / "journal.db"
    journal.parent.mkdir(parents=True)
    why = "a fill for an order Bastion did not place (drill)"
    with SqliteStore(journal) as store:
        LockBook(store).lock(InstrumentId("SP500"), LockSource.ANOMALY, why)
        store.record([Note(timestamp=store.clock.now(), kind="alert", text=f"SP500 locked: {why}")])
    done = run_cli(
        [
            "recover",
            "--profile",
            str(path),
            "--instrument",
            "SP500",
            "--adopt",
            "--reason",
            "drill: the venue holds nothing, nothing to adopt",
        ]
    )
    assert done.code == 0, done.out + done.err
    assert "recovery: CLEAN, unlocked" in done.out
    got = receiver.wait_for(lambda rs: "instrument_unlocked" in _kinds(rs))
    unlocked = [r for r in got if r.line("kind") == "instrument_unlocked"]
    assert len(unlocked) == 1
    assert unlocked[0].line("instrument") == "SP500"
    assert "anomaly lock cleared" in unlocked[0].title
    assert "drill: the venue holds nothing" in unlocked[0].title
    assert why in unlocked[0].message
    with SqliteStore(journal) as store:
        assert not LockBook(store).is_locked(InstrumentId("SP500"))


def test_sim_session_clean_day_all_clear_says_all_clear_with_pnl_and_a_break_day_does_not(
    in_tmp: Path, receiver: WebhookReceiver
) -> None:
    """The engine journals its first reconciliation (clean) and the account's equity at
    each trading day's close, so ``bastion alert all-clear`` after a clean sim day says
    "all clear" with a P&L (the close less the day's start); a day whose last
    reconciliation found a break (its note written here, after the session, in the
    reconciler's form) is a warning that names the break."""
    import re

    from bastion.clock import SimClock
    from bastion.domain.records import Note
    from bastion.store.sqlite import SqliteStore

    shutil.copytree(REPO / "examples", in_tmp / "examples")
    raw = yaml.safe_load((in_tmp / "examples" / "sim.yaml").read_text())
    raw["alerts"] = _alerts(receiver.url())
    (in_tmp / "sim.yaml").write_text(yaml.safe_dump(raw))
    done = run_cli(["session", "--profile", "sim.yaml", "--end", "2024-02-05"])
    assert done.code == 0, done.out + done.err

    sent = run_cli(["alert", "all-clear", "--profile", "sim.yaml", "--day", "2024-02-02"])
    assert sent.code == 0, sent.out + sent.err
    got = receiver.wait_for(lambda rs: "daily_all_clear" in _kinds(rs))
    clear = next(r for r in got if r.line("kind") == "daily_all_clear")
    assert clear.line("severity") == "info"
    assert "daily all-clear 2024-02-02" in clear.title
    assert "breaks none" in clear.title
    pnl = clear.line("P&L") or ""
    found = re.fullmatch(r"([+-][\d,]+\.\d\d) USD \(equity ([\d.]+) from ([\d.]+)\)", pnl)
    assert found, pnl
    change, close, start = (Decimal(g.replace(",", "")) for g in found.groups())
    assert change == close - start
    assert change != 0  # the day traded: a real P&L, not a placeholder

    journal = in_tmp / "runs" / "sim" / "journal.db"
    when = dt.datetime(2024, 2, 6, 15, 0, tzinfo=dt.UTC)
    with SqliteStore(journal, clock=SimClock(when)) as store:  # the next simulated day
        store.record(
            [
                Note(
                    timestamp=when,
                    kind="reconcile",
                    text="1 break(s)",
                    data={"breaks": "fills_vs_broker SP500 x", "unknown": "", "locks": ""},
                )
            ]
        )
    broken = run_cli(["alert", "all-clear", "--profile", "sim.yaml", "--day", "2024-02-06"])
    assert broken.code == 0, broken.out + broken.err
    got = receiver.wait_for(
        lambda rs: any("2024-02-06" in r.title for r in rs if r.line("kind") == "daily_all_clear")
    )
    summary = next(r for r in got if "2024-02-06" in r.title and "daily" in r.title)
    assert summary.line("severity") == "warning"
    assert "NOT all clear: breaks 1 break(s)" in summary.title
