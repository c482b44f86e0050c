"""Issue 13's scenarios as fixed fault schedules of the deterministic simulation.

Invariants: an order written ahead and killed before its submit is marked LOST, its
family is stopped when the target moves and is never placed again, not in the same
step and not after later restarts; a target moved back before a slow fill report
arrives does not buy twice; a slow acknowledgement does not make the stack send
another buy at every step. Every invariant of the auditor holds throughout, and the
final recovery ends with Bastion's positions equal to the venue's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import msgspec

from bastion.domain.enums import Side
from bastion.domain.order_state import OrderState
from bastion.domain.records import (
    BrokerOrderCreated,
    ContractOrderCreated,
    JournalRecord,
    OrderStopped,
    OrderTransition,
)
from bastion.testing.dst.runner import World
from bastion.testing.dst.schedule import Fault, FaultKind, Schedule

_decoder = msgspec.json.Decoder(JournalRecord)

TRACED_63157 = Schedule(
    63157,
    20,
    (
        Fault(1, FaultKind.TARGET, (0, 1)),
        Fault(1, FaultKind.CRASH_AT, (0, 0)),  # right after the write-ahead record
        Fault(2, FaultKind.TARGET, (0, 0)),  # the target moved while the engine was down
        Fault(6, FaultKind.CRASH, (0, 0)),  # the next restart
        Fault(7, FaultKind.TARGET, (0, -2)),  # a sell of 2
        Fault(12, FaultKind.CRASH, (0, 0)),
        Fault(13, FaultKind.TARGET, (0, 0)),
    ),
)
SLOW_FILL = Schedule(
    2,
    30,
    (
        Fault(0, FaultKind.LATENCY, (0, 2000, 20)),
        Fault(1, FaultKind.TARGET, (0, 1)),
        Fault(2, FaultKind.TARGET, (0, 0)),  # before the fill report arrives
    ),
)
SLOW_ACK = Schedule(
    5,
    30,
    (
        Fault(0, FaultKind.LATENCY, (5000, 0, 30)),
        Fault(1, FaultKind.TARGET, (0, 1)),
        Fault(2, FaultKind.TARGET, (0, 0)),  # the buy is not even acknowledged yet
    ),
)


@contextmanager
def _ran(schedule: Schedule) -> Iterator[tuple[World, list[JournalRecord]]]:
    world = World(schedule)
    try:
        world.run(Counter())  # raises InvariantBroken if any invariant breaks
        rows = world.keeper.execute("SELECT payload FROM journal ORDER BY seq").fetchall()
        yield world, [_decoder.decode(payload) for (payload,) in rows]
    finally:
        world.close()


def _max_long(world: World) -> int:
    held = peak = 0
    for fill in world.venue.fills:
        held += fill.quantity * fill.side.sign
        peak = max(peak, held)
    return peak


def test_dst_written_ahead_then_killed_order_lost_and_never_placed_again() -> None:
    with _ran(TRACED_63157) as (world, records):
        assert world.crashes == 3
        lost = [
            r.client_order_id
            for r in records
            if isinstance(r, OrderTransition) and r.state is OrderState.LOST
        ]
        assert len(lost) == 1
        created = {r.client_order_id: r for r in records if isinstance(r, BrokerOrderCreated)}
        family = created[lost[0]].parent_id
        stopped_at = next(
            i for i, r in enumerate(records) if isinstance(r, OrderStopped) and r.order_id == family
        )
        parent = next(
            r.parent_id
            for r in records
            if isinstance(r, ContractOrderCreated) and r.order_id == family
        )
        # Never placed again: no new contract order for its intent after the stop...
        assert not [
            r
            for r in records[stopped_at:]
            if isinstance(r, ContractOrderCreated) and r.parent_id == parent
        ]
        # ... and no order of the stopped contract order reached the venue at all.
        assert not [f for f in world.venue.fills if f.client_order_id.startswith(f"{family}.")]
        assert _max_long(world) == 0


def test_dst_target_back_before_slow_fill_report_buys_once() -> None:
    with _ran(SLOW_FILL) as (world, records):
        buys = [r for r in records if isinstance(r, BrokerOrderCreated) and r.side is Side.BUY]
        assert len(buys) == 1
        assert _max_long(world) == 1
        assert world.venue.counters.send_order_calls == 2  # the buy, then the sell back


def test_dst_slow_acknowledgement_sends_no_buy_at_each_step() -> None:
    with _ran(SLOW_ACK) as (world, records):
        buys = [r for r in records if isinstance(r, BrokerOrderCreated) and r.side is Side.BUY]
        assert len(buys) == 1
        assert _max_long(world) == 1
