"""Tick-to-bar aggregation drops duplicate ticks and builds OHLCV bars labelled by
their start, so a replayed feed gives the same bars."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from bastion.errors import DataError
from bastion.marketdata.ticks import aggregate_ticks, drop_duplicate_ticks

T0 = dt.datetime(2024, 3, 12, 1, 0, tzinfo=dt.UTC)


def ticks(rows: list[tuple[int, int, int]], ids: list[str] | None = None) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "ts": [T0 + dt.timedelta(seconds=s) for s, _, _ in rows],
            "price_ticks": [p for _, p, _ in rows],
            "size": [q for _, _, q in rows],
        },
        schema={"ts": pl.Datetime("us", "UTC"), "price_ticks": pl.Int64, "size": pl.Int64},
    )
    return frame.with_columns(trade_id=pl.Series(ids)) if ids else frame


def test_aggregate_ticks_builds_ohlcv_per_minute() -> None:
    bars = aggregate_ticks(ticks([(0, 100, 1), (10, 103, 2), (59, 99, 1), (60, 101, 5)]))
    assert bars["ts"].to_list() == [T0, T0 + dt.timedelta(minutes=1)]
    assert bars.row(0)[1:6] == (100, 103, 99, 99, 4)
    assert bars.row(1)[1:6] == (101, 101, 101, 101, 5)


def test_aggregate_ticks_duplicate_ticks_dropped() -> None:
    once = aggregate_ticks(ticks([(0, 100, 1), (10, 103, 2)]))
    twice = aggregate_ticks(ticks([(0, 100, 1), (10, 103, 2), (10, 103, 2), (0, 100, 1)]))
    assert twice.equals(once)


def test_drop_duplicate_ticks_by_trade_id_keeps_distinct_trades() -> None:
    frame = ticks([(0, 100, 1), (0, 100, 1), (0, 100, 1)], ids=["a", "b", "a"])
    assert drop_duplicate_ticks(frame)["trade_id"].to_list() == ["a", "b"]


def test_aggregate_ticks_out_of_order_arrival_sorted() -> None:
    bars = aggregate_ticks(ticks([(30, 105, 1), (0, 100, 1)]))
    assert bars.row(0)[1:5] == (100, 105, 100, 105)


def test_drop_duplicate_ticks_missing_column_raises() -> None:
    with pytest.raises(DataError, match="missing column 'size'"):
        drop_duplicate_ticks(pl.DataFrame({"ts": [T0], "price_ticks": [1]}))
