"""Invariant: a running sim session (the example sim profile on the bundled sample
bars, the kernel's engine in its bar driver, the monitor a session attaches) alerts a
margin threshold crossed and a market pause and its end, caused the way an operator or
the market would cause them, never by notes the test writes:

- margin: while the session holds a position, the operator lowers the margin marks
  (``LimitBook.set``, what ``bastion risk limits --set`` does; a sim session holds its
  journal for the whole run, so the change is made in its process); the engine's next
  account mark is above the new high mark;
- market pause: the bars' assumed spread (the sim market's spread, ``BarMarket``) widens
  past the spread breaker while the engine wants to trade, then narrows again.

Each arrives at the loopback webhook receiver."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from bastion.backtest.session import finish_session, prepare_session
from bastion.ops.monitor import attach_monitor
from bastion.testing.webhook_receiver import Received, WebhookReceiver
from tests.integration.sim_profiles import sim_profile


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def _kinds(received: Sequence[Received]) -> set[str]:
    return {r.line("kind") or "" for r in received}


def test_sim_session_margin_lowered_and_a_wide_spread_alert(
    tmp_path: Path, bundled_sample: Path, receiver: WebhookReceiver
) -> None:
    alerts = {
        "targets": [{"name": "receiver", "url": receiver.url()}],
        "min_severity": "info",
        "rate_limit_count": 1000,
    }
    profile = sim_profile(tmp_path, bundled_sample, alerts=alerts, risk={"max_spread_ticks": 10})
    prepared = prepare_session(profile, start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 20))
    runner = prepared.runner
    engine = runner.engine
    monitor = attach_monitor(engine, profile)
    bars = iter(prepared.bars)

    def run_until(done: Callable[[], bool], what: str) -> None:
        for n, item in enumerate(bars):
            runner.on_bar(item)
            if n % 50 == 0 and done():
                return
        pytest.fail(f"the bars ended before {what}")

    run_until(lambda: any(engine.oms.book.positions.contract.values()), "a position")
    book = engine.risk.limit_book  # what bastion risk limits --set changes
    book.set("margin_low_mark", "0.001", "drill", engine.clock.now())
    book.set("margin_high_mark", "0.002", "drill", engine.clock.now())
    run_until(lambda: "margin_threshold" in _kinds(receiver.received), "a margin alert")
    runner.market.set_spread(50)
    run_until(lambda: "market_paused" in _kinds(receiver.received), "a pause")
    runner.market.set_spread(0)
    run_until(lambda: "market_resumed" in _kinds(receiver.received), "the pause's end")
    finish_session(prepared)

    got = receiver.wait_for(
        lambda rs: {"margin_threshold", "market_paused", "market_resumed"} <= _kinds(rs)
    )
    margin = next(r for r in got if r.line("kind") == "margin_threshold")
    assert "above the high mark 0.2%" in margin.title
    assert margin.line("profile") == profile.name
    paused = next(r for r in got if r.line("kind") == "market_paused")
    assert "wider than 10" in paused.title
    assert paused.line("instrument") in {"SP500", "rb"}
    assert monitor.failures == 0
