"""Benchmark the sim venue's matching engine; prints JSON.

Figures:
- ``market_round_trip``: marketable orders submitted against a quote and drained
  (submit -> ack + fill events), alternating sides so margin never binds;
- ``resting_limits``: limit orders that rest and are filled by later quotes;
- ``bars_with_no_orders``: bars through ``on_bar`` with no working order;
- event counts: acks and fills seen per order submitted (submit-to-ack, submit-to-fill).

Usage: ``python bench/venue.py [--orders N]``
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal

from bastion.domain.enums import OrderType, Side
from bastion.domain.venue_events import Acknowledged, FillReport
from bastion.testing.venue_stubs import bar, make_order, make_sim_venue, quote
from bastion.venues.sim.config import SimVenueConfig


def _market_round_trip(n: int) -> dict[str, float | int]:
    venue, clock = make_sim_venue(SimVenueConfig(initial_cash=Decimal(10**12)))
    venue.on_quote(quote(16000, 16001, bid_size=10**9, ask_size=10**9, at=clock.now()))
    orders = [make_order(Side.BUY if i % 2 else Side.SELL, 1) for i in range(n)]
    acks = fills = 0
    start = time.perf_counter()
    for order in orders:
        venue.submit(order)
        for event in venue.poll_events():
            if isinstance(event, FillReport):
                fills += 1
            elif isinstance(event, Acknowledged):
                acks += 1
    elapsed = time.perf_counter() - start
    return {
        "orders": n,
        "orders_per_second": round(n / elapsed),
        "microseconds_per_order": round(elapsed / n * 1e6, 2),
        "submit_to_ack_events": acks,
        "submit_to_fill_events": fills,
    }


def _resting_limits(n: int) -> dict[str, float | int]:
    venue, clock = make_sim_venue(SimVenueConfig(initial_cash=Decimal(10**12)))
    venue.on_quote(quote(16000, 16001, bid_size=10**9, ask_size=10**9, at=clock.now()))
    acks = fills = 0
    start = time.perf_counter()
    for i in range(n):
        side = Side.BUY if i % 2 else Side.SELL
        limit = 15999 if side is Side.BUY else 16002
        venue.submit(make_order(side, 1, OrderType.LIMIT, limit_ticks=limit))
        if side is Side.BUY:
            venue.on_quote(quote(15998, 15999, bid_size=10**9, ask_size=10**9, at=clock.now()))
        else:
            venue.on_quote(quote(16002, 16003, bid_size=10**9, ask_size=10**9, at=clock.now()))
        for event in venue.poll_events():
            if isinstance(event, FillReport):
                fills += 1
            elif isinstance(event, Acknowledged):
                acks += 1
    elapsed = time.perf_counter() - start
    return {
        "orders": n,
        "orders_per_second": round(n / elapsed),
        "microseconds_per_order": round(elapsed / n * 1e6, 2),
        "submit_to_ack_events": acks,
        "submit_to_fill_events": fills,
    }


def _bars_no_orders(n: int) -> dict[str, float | int]:
    venue, _ = make_sim_venue()
    bars = [bar(16000 + i % 7, 16010, 15990, 16001) for i in range(n)]
    start = time.perf_counter()
    for item in bars:
        venue.on_bar(item)
        venue.poll_events()
    elapsed = time.perf_counter() - start
    return {
        "bars": n,
        "bars_per_second": round(n / elapsed),
        "microseconds_per_bar": round(elapsed / n * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=50_000)
    args = parser.parse_args()
    _market_round_trip(1000)  # warm up
    result = {
        "market_round_trip": _market_round_trip(args.orders),
        "resting_limits": _resting_limits(args.orders),
        "bars_with_no_orders": _bars_no_orders(args.orders * 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
