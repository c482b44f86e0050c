"""An order marked LOST is adopted if it turns up, and re-sent only once confirmed gone.

Invariants: an order a restart's recovery marks LOST (the venue answered "no record")
still counts as working for its intent: the stack sends nothing in its place until
the profile's grace has passed on the engine's clock and the venue, asked again, still
has no record of it (a second LOST, journaled). An order the venue had after all and
that fills later is adopted (its fill fills the intent), never sent a second time.
Run with the kernel's engine, the sim venue and a simulated clock.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import msgspec

from bastion.domain.enums import Side
from bastion.domain.ids import ClientOrderId, StrategyId
from bastion.domain.order_state import OrderState
from bastion.domain.records import BrokerOrderCreated, JournalRecord, OrderTransition
from bastion.testing.dst.runner import CONTRACT, FIRST_PRICE, INSTRUMENT, Market, World
from bastion.testing.dst.schedule import Fault, FaultKind, Schedule
from bastion.venues.port import OrderStatusRecord, Snapshot, VenueOrderStatus
from bastion.venues.sim import Quote, SimVenue

_decoder = msgspec.json.Decoder(JournalRecord)
GRACE = dt.timedelta(seconds=30)  # the engine's default (the profile's lost_grace_seconds)


class _Market(Market):
    """A still market (one tick wide, ten lots a side) whose ask comes down to the bid
    at ``cross_at``: a resting bid then fills."""

    cross_at: int = 10_000

    def quote(self, step: int, venue: SimVenue, now: dt.datetime) -> Quote:
        ask = FIRST_PRICE if step >= self.cross_at else FIRST_PRICE + 1
        return Quote(
            contract_id=CONTRACT,
            bid_ticks=FIRST_PRICE - (step >= self.cross_at),
            ask_ticks=ask,
            bid_size=10,
            ask_size=10,
            timestamp=now,
        )


@contextmanager
def _ran(world: World) -> Iterator[list[JournalRecord]]:
    try:
        world.run(Counter())  # raises InvariantBroken if any invariant breaks
        rows = world.keeper.execute("SELECT payload FROM journal ORDER BY seq").fetchall()
        yield [_decoder.decode(payload) for (payload,) in rows]
    finally:
        world.close()


def _max_long(world: World) -> int:
    held = peak = 0
    for fill in world.venue.fills:
        held += fill.quantity * fill.side.sign
        peak = max(peak, held)
    return peak


def _hide_first_order(world: World, steps: range) -> None:
    """While the world's step is in ``steps`` the venue answers as if it had lost the
    first order it took (neither open nor known), then finds it again."""
    venue = world.venue
    open_orders, order_status = venue.open_orders, venue.order_status

    def hidden(coid: ClientOrderId) -> bool:
        return world.step in steps and coid == "C1-2.1"

    def open_hiding() -> Snapshot[tuple[object, ...]]:
        snap = open_orders()
        if snap.value is None:
            return snap
        return Snapshot.ok(
            tuple(o for o in snap.value if not hidden(o.client_order_id)), snap.taken_at
        )

    def status_hiding(coid: ClientOrderId) -> Snapshot[OrderStatusRecord]:
        if hidden(coid):
            return Snapshot.ok(
                OrderStatusRecord(client_order_id=coid, status=VenueOrderStatus.NOT_FOUND),
                venue.current_time(),
            )
        return order_status(coid)

    venue.open_orders = open_hiding  # type: ignore[method-assign,assignment]
    venue.order_status = status_hiding  # type: ignore[method-assign]


# A passive bid (best execution) rests; the engine crashes; at the restart the venue
# says it has no record of the bid, so recovery marks it LOST. The venue had it all
# along: 10 s later the market comes down and the bid fills.
LOST_THEN_FILLED = Schedule(
    21,
    80,
    (
        Fault(1, FaultKind.TARGET, (0, 1)),
        Fault(10, FaultKind.CRASH, (0, 0)),
    ),
    algo="best",
)


def test_dst_lost_order_that_fills_later_is_adopted_and_never_resent() -> None:
    world = World(LOST_THEN_FILLED)
    market = _Market(world.market.rng)
    market.cross_at = 30
    world.market = market
    _hide_first_order(world, range(10, 12))
    with _ran(world) as records:
        assert world.crashes == 1
        buys = [r for r in records if isinstance(r, BrokerOrderCreated) and r.side is Side.BUY]
        assert len(buys) == 1  # never re-sent
        coid = buys[0].client_order_id
        states = [
            r.state for r in records if isinstance(r, OrderTransition) and r.client_order_id == coid
        ]
        assert OrderState.LOST in states
        assert states[-1] is OrderState.FILLED  # adopted: its fill filled the intent
        assert _max_long(world) == 1
        book = world.engine.oms.book
        assert buys[0].client_order_id == "C1-2.1"
        assert book.positions.strategy_position(StrategyId("A"), INSTRUMENT) == 1
        assert not world.engine.locks.is_locked(INSTRUMENT)


# The engine crashes right after writing an order ahead, before its submit: the venue
# never had it. The intent is re-sent, but only after the grace and a second "no record".
WRITTEN_AHEAD_LOST = Schedule(
    22,
    120,
    (
        Fault(1, FaultKind.CRASH_AT, (0, 0)),  # right after the write-ahead record
        Fault(1, FaultKind.TARGET, (0, 1)),
    ),
)


def test_dst_lost_order_resent_only_after_grace_and_second_no_record() -> None:
    world = World(WRITTEN_AHEAD_LOST)
    with _ran(world) as records:
        buys = [r for r in records if isinstance(r, BrokerOrderCreated) and r.side is Side.BUY]
        assert len(buys) == 2
        lost = [
            r
            for r in records
            if isinstance(r, OrderTransition)
            and r.client_order_id == buys[0].client_order_id
            and r.state is OrderState.LOST
        ]
        assert len(lost) == 2  # recovery's, then the venue asked again after the grace
        assert lost[1].timestamp - lost[0].timestamp >= GRACE
        assert buys[1].timestamp >= lost[1].timestamp
        assert _max_long(world) == 1
