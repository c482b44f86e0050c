"""Algo memory survives a restart (durable intent: what decides sending is journaled).

Invariant: an engine that crashes between an algo's decisions continues the algo's
schedule from the journal. TWAP's next clip waits its interval from the last clip
decided before the crash (never an early clip after a restart), and best execution's
patience runs from when it started before the crash (never started again). Run with
the kernel's engine, the sim venue and a simulated clock (the deterministic
simulation's world), on a still market so the schedule is the only thing that moves.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import msgspec

from bastion.domain.enums import OrderType, Side
from bastion.domain.records import AlgoStateRecorded, BrokerOrderCreated, JournalRecord
from bastion.testing.dst.runner import CONTRACT, FIRST_PRICE, Market, World
from bastion.testing.dst.schedule import Fault, FaultKind, Schedule
from bastion.venues.sim import Quote, SimVenue

_decoder = msgspec.json.Decoder(JournalRecord)


class _StillMarket(Market):
    """One price and ten lots a side for the whole run."""

    def quote(self, step: int, venue: SimVenue, now: dt.datetime) -> Quote:
        return Quote(
            contract_id=CONTRACT,
            bid_ticks=FIRST_PRICE,
            ask_ticks=FIRST_PRICE + 1,
            bid_size=10,
            ask_size=10,
            timestamp=now,
        )


@contextmanager
def _ran(schedule: Schedule) -> Iterator[tuple[World, list[JournalRecord]]]:
    world = World(schedule)
    world.market = _StillMarket(world.market.rng)
    try:
        world.run(Counter())  # raises InvariantBroken if any invariant breaks
        rows = world.keeper.execute("SELECT payload FROM journal ORDER BY seq").fetchall()
        yield world, [_decoder.decode(payload) for (payload,) in rows]
    finally:
        world.close()


def _buys(records: list[JournalRecord]) -> list[BrokerOrderCreated]:
    return [r for r in records if isinstance(r, BrokerOrderCreated) and r.side is Side.BUY]


# A 4-lot buy clipped by TWAP (one minute apart, 2 lots a clip: a fifth of the ten
# visible), and a crash 5 s after the first clip.
TWAP_CRASH = Schedule(
    11,
    160,
    (
        Fault(1, FaultKind.TARGET, (0, 4)),
        Fault(12, FaultKind.CRASH, (0, 0)),
    ),
    algo="twap",
)


def test_dst_twap_crash_between_clips_keeps_the_clip_schedule() -> None:
    with _ran(TWAP_CRASH) as (world, records):
        assert world.crashes == 1
        clips = _buys(records)
        assert [c.quantity for c in clips] == [2, 2]
        assert len({c.parent_id for c in clips}) == 1
        first, second = clips
        assert second.timestamp - first.timestamp >= dt.timedelta(minutes=1)
        memories = [r.memory for r in records if isinstance(r, AlgoStateRecorded)]
        assert [m.clips for m in memories] == [1, 2]
        assert memories[0].last_clip == first.timestamp


# A 1-lot buy worked by best execution: a passive bid that never fills on a still
# market, aggressive after the 5 min patience; a crash 150 s into it.
BEST_CRASH = Schedule(
    12,
    700,
    (
        Fault(1, FaultKind.TARGET, (0, 1)),
        Fault(300, FaultKind.CRASH, (0, 0)),
    ),
    algo="best",
)


def test_dst_best_execution_crash_keeps_its_patience_start() -> None:
    with _ran(BEST_CRASH) as (world, records):
        assert world.crashes == 1
        buys = _buys(records)
        passive, aggressive = buys
        assert passive.order_type is OrderType.LIMIT
        assert aggressive.order_type is OrderType.MARKET
        # Patience ran from the passive order, not from the restart 150 s later.
        waited = aggressive.timestamp - passive.timestamp
        assert dt.timedelta(minutes=5) <= waited < dt.timedelta(minutes=5, seconds=5)
        started = {r.memory.started for r in records if isinstance(r, AlgoStateRecorded)}
        assert started == {passive.timestamp}
