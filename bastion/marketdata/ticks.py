"""Tick-to-bar aggregation (R2.4).

Input: a frame with ``ts`` (aware UTC), ``price_ticks`` (integer ticks) and ``size``,
and optionally ``trade_id``. Duplicate ticks are dropped first: by ``trade_id`` when
the feed gives one, else rows identical in (ts, price, size) are taken as one tick
delivered twice (a feed without ids cannot tell two identical trades in the same
microsecond apart; this is the documented choice). Bars are labelled by their start,
closed on the left: a tick at exactly 09:01:00 belongs to the 09:01 bar. Volume is the
sum of sizes. Only intervals that have ticks produce bars.
"""

from __future__ import annotations

import polars as pl

from bastion.errors import DataError
from bastion.marketdata.bars import BAR_SCHEMA, BAR_SIZES, check_bar_size

__all__ = ["aggregate_ticks", "drop_duplicate_ticks"]


def drop_duplicate_ticks(ticks: pl.DataFrame) -> pl.DataFrame:
    """Ticks without repeats, in arrival order."""
    for column in ("ts", "price_ticks", "size"):
        if column not in ticks.columns:
            raise DataError(f"ticks: missing column {column!r}, expected ts, price_ticks, size")
    keys = ["trade_id"] if "trade_id" in ticks.columns else ["ts", "price_ticks", "size"]
    return ticks.unique(subset=keys, keep="first", maintain_order=True)


def aggregate_ticks(ticks: pl.DataFrame, bar_size: str = "1m") -> pl.DataFrame:
    """Bars in ``BAR_SCHEMA`` from ticks (duplicates dropped, then sorted stably by time)."""
    every = BAR_SIZES[check_bar_size(bar_size)]
    clean = drop_duplicate_ticks(ticks).sort("ts", maintain_order=True)
    if clean.schema["ts"] != pl.Datetime("us", "UTC"):
        clean = clean.with_columns(pl.col("ts").dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    bars = clean.group_by_dynamic("ts", every=every, closed="left", label="left").agg(
        pl.col("price_ticks").first().alias("open_ticks"),
        pl.col("price_ticks").max().alias("high_ticks"),
        pl.col("price_ticks").min().alias("low_ticks"),
        pl.col("price_ticks").last().alias("close_ticks"),
        pl.col("size").sum().alias("volume"),
    )
    return bars.with_columns(pl.lit(None, pl.Int64).alias("open_interest")).select(
        [pl.col(c).cast(t) for c, t in BAR_SCHEMA.items()]
    )
