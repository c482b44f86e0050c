"""Invariant: every alert kind reaches a person, from the journal. Real engine parts
(the risk engine, the kill switch, the OMS, the reconciler) write their journal notes
in a sim session; the alert feed reads the journal; the notifier's worker thread sends
through apprise's ``json://`` target to a webhook receiver on loopback; each kind
arrives with its severity, profile, instrument and correlation id, and the profile's
account id never appears. The daily all-clear, built from the same journal, arrives
too, and ``bastion alert test`` reaches the receiver."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bastion.config import Profile, parse_profile
from bastion.domain.ids import InstrumentId, StrategyId
from bastion.domain.records import Note
from bastion.domain.venue_events import Canceled
from bastion.oms.manager import OrderManager
from bastion.ops.alerts import (
    AlertFeed,
    Notifier,
    clock_skew_note,
    equity_note,
    gate_note,
    open_notifier,
)
from bastion.ops.alerts.allclear import daily_all_clear
from bastion.ops.alerts.mapping import reconnect_note
from bastion.recon import LockBook, Reconciler, balance_trade
from bastion.risk.states import Scope, StateEvent
from bastion.store.sqlite import SqliteStore, StoreMode
from bastion.testing.oms_driver import OmsDriver
from bastion.testing.venue_stubs import CONTRACT, make_order, make_sim_venue, quote
from bastion.testing.webhook_receiver import Received, WebhookReceiver
from tests.conftest import run_cli
from tests.integration.risk.simrig import SimRig, build_book, make_sim_rig

ACCOUNT = "DU7654321"


def _profile(tmp_path: Path, url: str, **alerts: Any) -> Profile:
    return parse_profile(
        {
            "name": "sim-alerts",
            "environment": "sim",
            "strategy_line": "ema_trend",
            "capital": 1_000_000,
            "account": ACCOUNT,
            "instruments": ["ES"],
            "store": {"path": str(tmp_path / "sim" / "journal.db")},
            "alerts": {
                "targets": [{"name": "receiver", "url": url}],
                "min_severity": "info",
                "rate_limit_count": 100,
                "disconnect_seconds": 60,
                **alerts,
            },
        },
        "test",
    )


@dataclass
class Chain:
    receiver: WebhookReceiver
    profile: Profile
    notifier: Notifier
    feed: AlertFeed

    def arrive(self, *kinds: str) -> list[Received]:
        """Wait until every kind in ``kinds`` arrived; the requests of those kinds."""
        got = self.receiver.wait_for(lambda rs: set(kinds) <= {r.line("kind") for r in rs})
        return [r for r in got if r.line("kind") in kinds]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    with WebhookReceiver() as receiver:
        profile = _profile(tmp_path, receiver.url("json"))
        notifier = open_notifier(profile)
        feed = AlertFeed(profile.name, notifier, disconnect_seconds=60)
        try:
            yield Chain(receiver, profile, notifier, feed)
        finally:
            notifier.close(10)


def _no_account(received: list[Received]) -> None:
    for r in received:
        assert ACCOUNT not in r.text


def test_kill_switch_flat_alerts_request_halt_and_outcome(tmp_path: Path, chain: Chain) -> None:
    rig = make_sim_rig(tmp_path)
    build_book(rig)
    rig.kill("operator drill")
    chain.feed.catch_up(rig.store)
    got = chain.arrive("kill_requested", "trading_state_tightened", "kill_flat_confirmed")
    by_kind = {r.line("kind"): r for r in got}
    assert by_kind["kill_requested"].line("severity") == "critical"
    assert "operator drill" in by_kind["kill_requested"].title
    assert by_kind["trading_state_tightened"].line("severity") == "critical"  # HALTED
    assert "flat confirmed" in by_kind["kill_flat_confirmed"].title
    for r in got:
        assert r.line("profile") == "sim-alerts"
        assert (r.line("correlation") or "").startswith("journal-")
        assert r.fields["type"] in {"failure", "warning"}
    _no_account(got)


def test_kill_switch_not_flat_alerts_critical_with_residual(tmp_path: Path, chain: Chain) -> None:
    rig = make_sim_rig(tmp_path)
    build_book(rig)
    rig.venue.faults.disconnect(10_000.0)
    rig.kill("venue gone")
    chain.feed.catch_up(rig.store)
    got = chain.arrive("kill_not_flat", "kill_step_failed")
    not_flat = next(r for r in got if r.line("kind") == "kill_not_flat")
    assert not_flat.line("severity") == "critical"
    assert "NOT FLAT" in not_flat.title


def test_loss_limit_margin_and_resume_alert(tmp_path: Path, chain: Chain) -> None:
    rig = make_sim_rig(tmp_path, daily_loss_limit=Decimal(1000))
    rig.engine.on_account(Decimal(10_000_000))
    rig.engine.on_account(Decimal(9_998_000), margin_used=Decimal(9_500_000))
    rig.engine.operator(Scope.account(), StateEvent.OPERATOR_RESUME, "loss understood")
    chain.feed.catch_up(rig.store)
    got = chain.arrive(
        "loss_limit_breached",
        "margin_threshold",
        "trading_state_tightened",
        "trading_state_resumed",
    )
    loss = next(r for r in got if r.line("kind") == "loss_limit_breached")
    assert "daily_loss_limit breached" in loss.title
    assert loss.line("severity") == "critical"


def test_anomaly_alerts_with_its_instrument(tmp_path: Path, chain: Chain) -> None:
    rig = make_sim_rig(tmp_path)
    build_book(rig)
    filled = next(
        o
        for o in rig.oms.book.history.values()
        if getattr(o, "client_order_id", None) and getattr(o, "filled", 0)
    )
    rig.oms.apply(Canceled(client_order_id=filled.client_order_id, timestamp=rig.clock.now()))
    chain.feed.catch_up(rig.store)
    (anomaly,) = chain.arrive("anomaly")
    assert anomaly.line("instrument") == "ES"


def _lock_world(tmp_path: Path) -> tuple[Any, Any, SqliteStore, OrderManager, Reconciler]:
    venue, clock = make_sim_venue()
    venue.on_quote(quote(16000, 16001, at=clock.now()))
    (tmp_path / "recon").mkdir()
    store = SqliteStore(tmp_path / "recon" / "journal.db", mode=StoreMode.LIVE, clock=clock)
    oms = OrderManager(store)
    rec = Reconciler(oms, LockBook(store), clock, journal=store)
    driver = OmsDriver(venue, oms, clock)
    driver.send(replace(make_order(), strategy_id=StrategyId("ema")))
    driver.pump()
    return venue, clock, store, oms, rec


def test_break_locks_instrument_and_clearing_unlocks(tmp_path: Path, chain: Chain) -> None:
    venue, clock, store, oms, rec = _lock_world(tmp_path)
    rec.run(venue)
    venue.submit(make_order(client_order_id="HAND-1"))  # a trade behind Bastion's back
    rec.run(venue)
    chain.feed.catch_up(store)
    (locked,) = chain.arrive("instrument_locked")
    assert locked.line("instrument") == "ES"
    assert "contract_vs_broker" in locked.title
    fill = next(f for f in venue.fills if f.client_order_id == "HAND-1")
    balance_trade(
        oms,
        clock.now(),
        CONTRACT,
        1,
        price_ticks=fill.price_ticks,
        note="bought by hand; ticket 9",
        exec_id=fill.exec_id,
    )
    rec.run(venue)
    chain.feed.catch_up(store)
    (unlocked,) = chain.arrive("instrument_unlocked")
    assert unlocked.line("instrument") == InstrumentId("ES")
    store.close()


def test_disconnect_past_threshold_and_reconnect_alert(tmp_path: Path, chain: Chain) -> None:
    rig = make_sim_rig(tmp_path)
    # The note the engine journals when the venue drops (shape of the venue session's).
    rig.oms.record(
        Note(
            timestamp=rig.clock.now(),
            kind="disconnect",
            text="disconnected (peer reset); new orders halted until recovery and a clean"
            " reconciliation",
            data={"in_flight": ""},
        )
    )
    chain.feed.catch_up(rig.store)
    assert chain.feed.tick(rig.clock.now() + dt.timedelta(seconds=59)) == []
    rig.wait(61)
    chain.feed.tick(rig.clock.now())
    rig.oms.record(reconnect_note(rig.clock.now(), "sim", 2))
    chain.feed.catch_up(rig.store)
    got = chain.arrive("disconnected", "reconnected")
    down = next(r for r in got if r.line("kind") == "disconnected")
    assert "peer reset" in down.title


def test_gate_no_and_clock_skew_alert(tmp_path: Path, chain: Chain) -> None:
    rig = make_sim_rig(tmp_path)
    now = rig.clock.now()
    rig.store.record(
        [
            gate_note(now, "dry-run gate", passed=False, result="blocked", reason="pool is stale"),
            gate_note(now, "after-close check", passed=True, result="ok", reason="all done"),
            clock_skew_note(now, 4.2, "venue SendingTime"),
        ]
    )
    chain.feed.catch_up(rig.store)
    got = chain.arrive("gate_no", "clock_skew")
    gate = next(r for r in got if r.line("kind") == "gate_no")
    assert "dry-run gate says NO: pool is stale" in gate.title
    assert sum(1 for r in chain.receiver.accepted if r.line("kind") == "gate_no") == 1


def _clean_day(rig: SimRig) -> None:
    rig.engine.on_account(Decimal(10_000_000))
    build_book(rig)
    rig.engine.on_account(Decimal(10_001_250))
    rig.store.record(
        [
            equity_note(rig.clock.now(), Decimal(10_001_250)),  # the kernel, at the close
            Note(
                timestamp=rig.clock.now(),
                kind="reconcile",
                text="clean",
                data={"breaks": "", "unknown": "", "locks": ""},
            ),
        ]
    )


def test_daily_all_clear_from_the_journal_arrives(tmp_path: Path, chain: Chain) -> None:
    rig = make_sim_rig(tmp_path)
    _clean_day(rig)
    alert = daily_all_clear(rig.store, chain.profile, rig.clock.now().date())
    assert alert.severity == "info", alert.summary
    chain.notifier.send(alert)
    (clear,) = chain.arrive("daily_all_clear")
    assert "daily all-clear" in clear.title
    assert "breaks none" in clear.title
    assert "ES/202606 +5" in clear.message
    assert "P&L: +1,250.00 USD" in clear.message
    assert "fills: 1 (5 lots" in clear.message


def test_daily_summary_not_clear_names_what_is_not(tmp_path: Path, chain: Chain) -> None:
    rig = make_sim_rig(tmp_path)
    _clean_day(rig)
    rig.kill("end of day drill")
    alert = daily_all_clear(rig.store, chain.profile, rig.clock.now().date())
    assert alert.severity == "warning"
    assert "NOT all clear" in alert.summary
    assert "account HALTED" in alert.summary
    assert "critical alerts" in alert.summary


def test_cli_alert_test_reaches_the_receiver(tmp_path: Path, in_tmp: Path) -> None:
    with WebhookReceiver() as receiver:
        profile = tmp_path / "sim.yaml"
        profile.write_text(
            "name: sim-alerts\nenvironment: sim\nstrategy_line: ema\ncapital: 1\n"
            f"account: {ACCOUNT}\ninstruments: [ES]\n"
            f"store: {{path: {tmp_path / 'sim' / 'journal.db'}}}\n"
            "alerts:\n  targets:\n"
            f"    - {{name: ok, url: '{receiver.url('json')}'}}\n"
            "    - {name: down, url: 'json://127.0.0.1:9/nothing-listens'}\n"
        )
        result = run_cli(["alert", "test", "--profile", str(profile)])
        assert result.code == 1, result.out + result.err
        assert "ok: delivered" in result.out
        assert "down: FAILED" in result.out
        assert "1 of 2 targets delivered" in result.out
        (got,) = receiver.accepted
        assert got.line("kind") == "test"
        assert ACCOUNT not in result.out


def test_cli_alert_test_without_targets_is_one_line_error(tmp_path: Path, in_tmp: Path) -> None:
    profile = tmp_path / "sim.yaml"
    profile.write_text(
        "name: quiet\nenvironment: sim\nstrategy_line: ema\ncapital: 1\naccount: SIM-1\n"
        f"instruments: [ES]\nstore: {{path: {tmp_path / 'sim' / 'journal.db'}}}\n"
    )
    result = run_cli(["alert", "test", "--profile", str(profile)])
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "no alerts.targets" in result.err
