"""The bar store: one Parquet file per contract and bar size (R2.4).

Layout: ``<data_dir>/bars/<instrument>/<YYYYMM>/<bar size>.parquet``.

Schema (``BAR_SCHEMA``): ``ts`` is the bar's *start* as a UTC microsecond timestamp;
``open_ticks``/``high_ticks``/``low_ticks``/``close_ticks`` are prices as whole
numbers of the instrument's tick (exact, as the core uses them); ``volume`` and
``open_interest`` are integers (open interest may be null). Prices as decimals are
derived at the edge with ``with_prices``.

Writes merge with what is stored: a bar at a new timestamp is added, a bar at a
stored timestamp replaces it (the newer import wins and is counted as replaced), an
identical bar changes nothing. So importing the same data twice changes nothing, and
each write is one atomic file rename.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId
from bastion.errors import DataError
from bastion.marketdata._atomic import write_parquet
from bastion.marketdata.specs import MarketSpec

__all__ = [
    "BAR_SCHEMA",
    "BAR_SIZES",
    "PRICE_COLUMNS",
    "BarStore",
    "UpdateResult",
    "validate_bars",
    "with_prices",
]

BAR_SIZES: dict[str, dt.timedelta] = {
    "1m": dt.timedelta(minutes=1),
    "5m": dt.timedelta(minutes=5),
    "15m": dt.timedelta(minutes=15),
    "1h": dt.timedelta(hours=1),
    "1d": dt.timedelta(days=1),
}
PRICE_COLUMNS = ("open_ticks", "high_ticks", "low_ticks", "close_ticks")
BAR_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    **{c: pl.Int64() for c in PRICE_COLUMNS},
    "volume": pl.Int64(),
    "open_interest": pl.Int64(),
}


@dataclass(frozen=True, slots=True)
class UpdateResult:
    contract: ContractId
    bar_size: str
    added: int
    replaced: int
    unchanged: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)


def check_bar_size(bar_size: str) -> str:
    if bar_size not in BAR_SIZES:
        raise DataError(f"bar size {bar_size!r}, expected one of {sorted(BAR_SIZES)}")
    return bar_size


def validate_bars(df: pl.DataFrame, where: str) -> pl.DataFrame:
    """Check schema and invariants; return the frame in ``BAR_SCHEMA`` column order.

    ``ts`` strictly increasing (no duplicates), high >= open/close/low, low <=
    open/close, volume >= 0. The first offending bar is named by its timestamp.
    """
    missing = [c for c in BAR_SCHEMA if c not in df.columns and c != "open_interest"]
    if missing:
        raise DataError(f"{where}: missing bar columns {missing}, expected {list(BAR_SCHEMA)}")
    if "open_interest" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.Int64).alias("open_interest"))
    try:
        df = df.select([pl.col(c).cast(t, strict=True) for c, t in BAR_SCHEMA.items()])
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{where}: bar columns have the wrong types ({exc})") from exc
    ts = df["ts"]
    bad = df.filter(
        pl.any_horizontal(pl.col(c).is_null() for c in ("ts", *PRICE_COLUMNS, "volume"))
    )
    if bad.height:
        raise DataError(f"{where}: bar at {bad['ts'][0]} has an empty required value")
    order = ts.diff().dt.total_microseconds()
    not_increasing = order.fill_null(1) <= 0
    if not_increasing.any():
        i = int(not_increasing.arg_max() or 0)
        kind = "duplicate" if order[i] == 0 else "out-of-order"
        raise DataError(f"{where}: {kind} bar timestamp {ts[i]} after {ts[i - 1]}")
    o, h, lo, c = (pl.col(x) for x in PRICE_COLUMNS)
    broken = df.filter((h < pl.max_horizontal(o, c, lo)) | (lo > pl.min_horizontal(o, c)))
    if broken.height:
        raise DataError(f"{where}: bar at {broken['ts'][0]} has high/low outside open/close")
    negative = df.filter(pl.col("volume") < 0)
    if negative.height:
        raise DataError(f"{where}: bar at {negative['ts'][0]} has negative volume")
    return df


def with_prices(df: pl.DataFrame, spec: MarketSpec) -> pl.DataFrame:
    """Add ``open``/``high``/``low``/``close`` as Float64 prices for display and research.

    The tick columns stay the exact values; these are ``ticks * tick_size``.
    """
    tick = float(spec.tick_size)
    return df.with_columns(
        (pl.col(f"{name}_ticks") * tick).alias(name) for name in ("open", "high", "low", "close")
    )


class BarStore:
    """Parquet bars per contract and bar size under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, contract: ContractId, bar_size: str) -> Path:
        instrument, expiry = parse_contract_id(contract)
        return self.root / "bars" / instrument / expiry / f"{check_bar_size(bar_size)}.parquet"

    def exists(self, contract: ContractId, bar_size: str) -> bool:
        return self.path(contract, bar_size).exists()

    def read(
        self,
        contract: ContractId,
        bar_size: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> pl.DataFrame:
        """Bars with ``start <= ts < end``; an empty frame if nothing is stored."""
        path = self.path(contract, bar_size)
        if not path.exists():
            return pl.DataFrame(schema=BAR_SCHEMA)
        lazy = pl.scan_parquet(path)
        if start is not None:
            lazy = lazy.filter(pl.col("ts") >= _utc(start))
        if end is not None:
            lazy = lazy.filter(pl.col("ts") < _utc(end))
        return lazy.collect()

    def write(self, contract: ContractId, bar_size: str, bars: pl.DataFrame) -> UpdateResult:
        """Merge ``bars`` into the stored file (see the module docstring)."""
        new = validate_bars(bars, f"{contract} {bar_size}")
        old = self.read(contract, bar_size)
        joined = new.join(old, on="ts", how="left", suffix="_old", nulls_equal=False)
        same = pl.all_horizontal(
            pl.col(c).eq_missing(pl.col(f"{c}_old")) for c in BAR_SCHEMA if c != "ts"
        )
        matched = joined["open_ticks_old"].is_not_null()
        unchanged = int((matched & joined.select(same).to_series()).sum())
        replaced = int(matched.sum()) - unchanged
        added = new.height - int(matched.sum())
        result = UpdateResult(contract, bar_size, added, replaced, unchanged)
        if result.changed:
            merged = (
                pl.concat([old.join(new.select("ts"), on="ts", how="anti"), new])
                .sort("ts")
                .select(list(BAR_SCHEMA))
            )
            write_parquet(merged, self.path(contract, bar_size))
        return result

    def contracts(self, instrument: str | None = None) -> list[tuple[ContractId, str]]:
        """Stored ``(contract, bar size)`` pairs, sorted."""
        base = self.root / "bars"
        if not base.exists():
            return []
        pattern = f"{instrument}/*/*.parquet" if instrument else "*/*/*.parquet"
        found = [
            (ContractId(f"{p.parent.parent.name}/{p.parent.name}"), p.stem)
            for p in base.glob(pattern)
            if p.stem in BAR_SIZES
        ]
        return sorted(found)


def _utc(ts: dt.datetime) -> dt.datetime:
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts} has no timezone; Bastion needs aware UTC times")
    return ts.astimezone(dt.UTC)
