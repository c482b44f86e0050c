"""Port value types: an unknown or stale snapshot is never read as a value (never "flat").

Invariant: ``Snapshot.usable`` gives a value only when the query succeeded and is young
enough; counters and rate limits are well formed.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bastion.clock import utc
from bastion.domain.ids import ContractId
from bastion.venues.port import (
    OrderApiCounters,
    PositionRecord,
    RateLimits,
    Snapshot,
    SnapshotStatus,
)

T0 = utc(2026, 3, 2, 9)
MAX_AGE = dt.timedelta(seconds=300)


def test_snapshot_unknown_has_no_value_and_no_age() -> None:
    snap: Snapshot[dict[ContractId, PositionRecord]] = Snapshot.unknown("timeout")
    assert snap.status is SnapshotStatus.UNKNOWN
    assert not snap.is_known
    assert snap.age(T0) is None
    assert snap.usable(T0, MAX_AGE) is None


def test_snapshot_known_empty_positions_is_confirmed_flat_while_fresh() -> None:
    snap: Snapshot[dict[ContractId, PositionRecord]] = Snapshot.ok({}, T0)
    assert snap.usable(T0 + MAX_AGE, MAX_AGE) == {}


def test_snapshot_older_than_limit_is_not_usable() -> None:
    snap = Snapshot.ok({"x": 1}, T0)
    assert snap.usable(T0 + MAX_AGE + dt.timedelta(microseconds=1), MAX_AGE) is None
    assert snap.age(T0 + dt.timedelta(seconds=5)) == dt.timedelta(seconds=5)


def test_position_record_books_sum_to_net() -> None:
    record = PositionRecord(
        contract_id=ContractId("rb/202610"),
        long_today=2,
        long_yesterday=3,
        short_today=1,
        short_yesterday=6,
    )
    assert (record.long, record.short, record.net) == (5, 7, -2)


@pytest.mark.parametrize(
    ("rate", "burst", "queries"), [(0.0, 1, 1.0), (1.0, 0, 1.0), (1.0, 1, 0.0), (-1.0, 5, 1.0)]
)
def test_rate_limits_non_positive_values_rejected(rate: float, burst: int, queries: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimits(orders_per_second=rate, order_burst=burst, queries_per_second=queries)


def test_counters_start_at_zero_and_total_both_kinds() -> None:
    counters = OrderApiCounters()
    assert counters.as_dict() == {"send_order_calls": 0, "cancel_order_calls": 0}
    counters.send_order_calls += 2
    counters.cancel_order_calls += 1
    assert counters.total == 3
    assert "send_order_calls=2" in repr(counters)
