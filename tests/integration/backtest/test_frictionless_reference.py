"""Invariant: under the frictionless model (market orders fill at the next bar's open, no
volume cap, no latency, commission per contract per side) the full path produces exactly
the fills and P&L of an independent, by-hand implementation of the EMA(10)/EMA(30)
definition, so results can be compared with other engines bar for bar."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from bastion.backtest.build import build_engine, frictionless_venue_config
from bastion.backtest.runner import InstrumentBar
from bastion.orders.rolls import FixedSchedule
from bastion.strategy.examples import EmaTrend
from bastion.testing.stack import ES, ES_H, ES_SPEC
from bastion.venues.sim import Bar

START = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def _bars(n: int, seed: int) -> list[tuple[int, int, int, int]]:
    rng = random.Random(seed)
    out, price = [], 20000
    for _ in range(n):
        o = price
        c = o + round(rng.gauss(0, 5))
        out.append((o, max(o, c) + rng.randint(0, 2), min(o, c) - rng.randint(0, 2), c))
        price = c
    return out


def _reference(ohlc: list[tuple[int, int, int, int]], commission: Decimal):  # type: ignore[no-untyped-def]
    """EMA(N): alpha 2/(N+1), seeded with the mean of the first N closes; first target at
    the 30th close; +1 if fast > slow else -1; decided at the close, filled next open."""
    fast = slow = None
    fast_sum = slow_sum = 0.0
    position, cash_ticks, fills, lots = 0, 0, [], 0
    pending = None
    for i, (o, _h, _l, c) in enumerate(ohlc):
        if pending is not None:
            trade = pending - position
            cash_ticks -= trade * o
            position = pending
            fills.append((i, trade, o))
            lots += abs(trade)
            pending = None
        n = i + 1
        if fast is None:
            fast_sum += c
            fast = fast_sum / 10 if n == 10 else None
        else:
            fast += 2 / 11 * (c - fast)
        if slow is None:
            slow_sum += c
            slow = slow_sum / 30 if n == 30 else None
        else:
            slow += 2 / 31 * (c - slow)
        if fast is not None and slow is not None:
            target = 1 if fast > slow else -1
            if target != position:
                pending = target
    last_close = ohlc[-1][3]
    pnl = Decimal(cash_ticks + position * last_close) * ES_SPEC.tick_value - commission * lots
    return fills, pnl, position


def test_frictionless_fills_and_pnl_equal_reference() -> None:
    ohlc = _bars(3000, seed=11)
    minute = dt.timedelta(minutes=1)
    bars = [
        InstrumentBar(
            ES,
            Bar(
                contract_id=ES_H,
                open_ticks=o,
                high_ticks=h,
                low_ticks=lo,
                close_ticks=c,
                volume=100,
                start=START + i * minute,
                end=START + (i + 1) * minute,
            ),
        )
        for i, (o, h, lo, c) in enumerate(ohlc)
    ]
    engine = build_engine(
        specs={ES: ES_SPEC},
        contracts=[(ES, ES_H)],
        schedule=FixedSchedule(contracts={ES: ES_H}),
        strategies=[EmaTrend("ema", ES, lots=1, fast=10, slow=30)],
        start=START,
        journal=None,
        venue_config=frictionless_venue_config(Decimal("2.0")),
    )
    fills: list[tuple[int, int, int]] = []
    engine.engine.fill_listeners.append(
        lambda f: fills.append((engine.bars - 1, f.signed_quantity, f.price_ticks))
    )
    engine.run(bars)
    expected_fills, expected_pnl, expected_position = _reference(ohlc, Decimal("2.0"))
    assert len(expected_fills) > 50
    assert fills == expected_fills
    assert engine.pnl.net() == expected_pnl
    assert engine.stack.oms.book.positions.contract_position(ES_H) == expected_position
