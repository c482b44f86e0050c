"""Invariant: the asyncio live runner drives the same core objects as the backtest runner:
on the same bars it produces the same orders, fills and positions."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

from bastion.backtest.build import build_engine, frictionless_venue_config
from bastion.backtest.runner import InstrumentBar
from bastion.ops.live import LiveRunner, ReplayClock, replay
from bastion.orders.rolls import FixedSchedule
from bastion.strategy.examples import EmaTrend
from bastion.testing.stack import ES, ES_H, ES_SPEC, minute_bars

START = dt.datetime(2024, 3, 1, 14, tzinfo=dt.UTC)


def _bars(n: int) -> list[InstrumentBar]:
    return minute_bars([(i % 37) - 18 if i % 5 else 9 for i in range(n)], start=START)


def _engine(clock_start: dt.datetime, clock: ReplayClock | None = None):  # type: ignore[no-untyped-def]
    return build_engine(
        clock=clock,
        specs={ES: ES_SPEC},
        contracts=[(ES, ES_H)],
        schedule=FixedSchedule(contracts={ES: ES_H}),
        strategies=[EmaTrend("ema", ES, lots=1, fast=3, slow=8)],
        start=clock_start,
        journal=None,
        venue_config=frictionless_venue_config(Decimal(2)),
    )


def test_live_runner_same_results_as_backtest_runner() -> None:
    bars = _bars(300)
    backtest = _engine(START)
    backtest.run(bars)
    backtest.stack.drain()

    clock = ReplayClock(START, speed=60 * 2000)  # a minute bar every 0.5 ms
    live = _engine(START, clock)
    runner = LiveRunner(live, poll_interval=0.001)
    asyncio.run(runner.run(replay(bars, clock)))

    assert backtest.pnl.fills > 10
    assert live.pnl.fills == backtest.pnl.fills
    assert live.venue.counters.send_order_calls == backtest.venue.counters.send_order_calls
    assert live.stack.oms.book.positions == backtest.stack.oms.book.positions
    assert live.pnl.net() == backtest.pnl.net()
    assert runner.polls > 0
