"""Backtest throughput through the full path (issue 5).

EMA(10) against EMA(30), always in the market at +1/-1 contract, market orders, on
seeded synthetic one-minute bars. Every order goes targets -> stack -> risk gate ->
journal (backtest mode, SQLite) -> sim venue -> fills -> positions.

    python bench/backtest.py --bars 100000
    python bench/backtest.py --data bars.csv --slippage-ticks 0 --commission 2.0

Prints one JSON object: bars/s, and the cost per bar (the same bars through the same
engine with a strategy that holds one lot: every duty, the venue, the strategy, the
marks) and per order (the rest, over the orders sent). The engine is the kernel's, with
the real risk engine and every duty on, loss limits included (set far away, so each
bar's equity mark is checked against all three).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import json
import random
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bastion.backtest.build import BACKTEST_RISK, build_engine, frictionless_venue_config
from bastion.backtest.runner import BarRunner, InstrumentBar
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId, InstrumentId
from bastion.orders.rolls import FixedSchedule
from bastion.strategy.examples import BarStrategy, EmaTrend, Hold
from bastion.venues.sim import Bar

ES = InstrumentId("ES")
CONTRACT = ContractId("ES/203012")
SPEC = ContractSpec(
    instrument_id=ES,
    exchange="CME",
    currency="USD",
    tick_size=Decimal("0.25"),
    multiplier=Decimal(50),
)
START = dt.datetime(2030, 1, 2, tzinfo=dt.UTC)
RISK = BACKTEST_RISK.model_copy(
    update={
        "daily_loss_limit": Decimal(10**8),
        "weekly_loss_limit": Decimal(10**8),
        "max_drawdown": Decimal(10**8),
    }
)
"""Loss limits set (far away): every equity mark is checked against all three."""


def synthetic(n: int, seed: int) -> list[InstrumentBar]:
    rng = random.Random(seed)
    price = 16000  # ticks: 4000.00
    bars = []
    minute = dt.timedelta(minutes=1)
    end = START
    for _ in range(n):
        o = price
        c = max(100, o + round(rng.gauss(0, 4)))
        h = max(o, c) + rng.randint(0, 3)
        lo = min(o, c) - rng.randint(0, 3)
        start, end = end, end + minute  # a bar's end is the next one's start: one object
        bars.append(
            InstrumentBar(
                ES,
                Bar(
                    contract_id=CONTRACT,
                    open_ticks=o,
                    high_ticks=h,
                    low_ticks=lo,
                    close_ticks=c,
                    volume=rng.randint(50, 500),
                    start=start,
                    end=end,
                ),
            )
        )
        price = c
    return bars


def from_csv(path: Path) -> list[InstrumentBar]:
    bars = []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        expected = ["timestamp", "open", "high", "low", "close", "volume"]
        if reader.fieldnames != expected:
            sys.exit(f"bench: {path}: columns {reader.fieldnames}, expected {expected}")
        previous = None
        for line, row in enumerate(reader, start=2):
            try:
                start = dt.datetime.fromisoformat(row["timestamp"])
                if start.tzinfo is None:
                    start = start.replace(tzinfo=dt.UTC)
                o, h, lo, c = (SPEC.to_ticks(row[k]) for k in ("open", "high", "low", "close"))
                bar = Bar(
                    contract_id=CONTRACT,
                    open_ticks=o,
                    high_ticks=h,
                    low_ticks=lo,
                    close_ticks=c,
                    volume=int(float(row["volume"])),
                    start=start,
                    end=start + dt.timedelta(minutes=1),
                )
            except (ValueError, KeyError) as exc:
                sys.exit(f"bench: {path}:{line}: {exc}")
            if previous is not None and start <= previous:
                sys.exit(f"bench: {path}:{line}: timestamp {start} is not after {previous}")
            previous = start
            bars.append(InstrumentBar(ES, bar))
    return bars


def _run(
    bars: list[InstrumentBar], folder: Path, args: argparse.Namespace, strategy: BarStrategy
) -> tuple[BarRunner, float]:
    folder.mkdir()
    engine = build_engine(
        specs={ES: SPEC},
        contracts=[(ES, CONTRACT)],
        schedule=FixedSchedule(contracts={ES: CONTRACT}),
        strategies=[strategy],
        start=bars[0].bar.start,
        journal=None if args.no_journal else folder / "journal.db",
        venue_config=frictionless_venue_config(args.commission, args.slippage_ticks),
        risk=RISK,
    )
    began = time.perf_counter()
    engine.run(bars)
    engine.stack.drain()
    elapsed = time.perf_counter() - began
    engine.engine.store.flush()
    return engine, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--slippage-ticks", type=int, default=0)
    parser.add_argument("--commission", type=Decimal, default=Decimal("2.0"))
    parser.add_argument("--no-journal", action="store_true", help="in-memory ledger")
    args = parser.parse_args()
    bars = from_csv(args.data) if args.data else synthetic(args.bars, args.seed)
    # The bars live for the whole run: move them out of the cyclic collector's way
    # (run_session does the same for the bars it loads).
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as tmp:
        # The same bars through the same engine with a strategy that holds one lot from
        # the first bar: what every bar costs with a position (the duties, the venue, the
        # strategy, the marks); the rest of the trading run is the cost of its orders.
        idle = _run(bars, Path(tmp) / "idle", args, Hold("hold", ES, lots=1))
        engine, elapsed = _run(
            bars, Path(tmp) / "backtest", args, EmaTrend("ema_10_30", ES, lots=1, fast=10, slow=30)
        )
        book = engine.stack.oms.book
        broker_orders = engine.venue.counters.send_order_calls
        per_bar = idle[1] / len(bars)
        per_order = (elapsed - idle[1]) / broker_orders if broker_orders else None
        result = {
            "bars": len(bars),
            "seconds": round(elapsed, 3),
            "bars_per_s": round(len(bars) / elapsed),
            "us_per_bar": round(per_bar * 1e6, 2),
            "us_per_order": None if per_order is None else round(per_order * 1e6, 1),
            "orders": broker_orders,
            "fills": engine.pnl.fills,
            "pnl": str(engine.pnl.net()),
            "commissions": str(engine.pnl.commissions),
            "final_position": book.positions.contract_position(CONTRACT),
            "journal": "none" if args.no_journal else "sqlite-backtest",
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "journal_records": engine.engine.store.last_seq,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
