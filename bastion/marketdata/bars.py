"""The bar store: one Parquet file per contract and bar size (R2.4).

Layout: ``<data_dir>/bars/<instrument>/<YYYYMM>/<bar size>.parquet``.

Schema (``BAR_SCHEMA``): ``ts`` is the bar's *start* as a UTC microsecond timestamp;
``open_ticks``/``high_ticks``/``low_ticks``/``close_ticks`` are prices as whole
numbers of the instrument's tick (exact, as the core uses them); ``volume`` and
``open_interest`` are integers (open interest may be null). Prices as decimals are
derived at the edge with ``with_prices``.

Writes merge with what is stored: a bar at a new timestamp is added, an identical bar
changes nothing (so importing the same data twice changes nothing), and a different bar
at a stored timestamp replaces it only as ``RevisionRule`` allows: within the latest
stored trading days (listed in ``UpdateResult.replaced_first``), older bars only when
told to (``replace_history``); otherwise ``RevisionRefused`` names the bar, and its file
and line when the caller gave them. Writing is staged: ``stage`` writes the merged file
beside the target (a streaming, sorted merge: memory does not grow with the file),
``commit`` renames every staged file into place, ``discard`` removes them; a failed
import leaves the store as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId
from bastion.errors import DataError, EnvironmentFault
from bastion.marketdata._atomic import io_problem
from bastion.marketdata.revisions import RevisionRule, revisable_from
from bastion.marketdata.specs import MarketSpec

__all__ = [
    "BAR_SCHEMA",
    "BAR_SIZES",
    "PRICE_COLUMNS",
    "BarStore",
    "RevisionRefused",
    "RevisionRule",
    "Staged",
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


LINE = "_line"
"""Optional column of bars being merged: the line (or row) of the file each came from."""
_SHOWN = 5
_staged = itertools.count()


class RevisionRefused(DataError):  # noqa: N818 - the name says what happened
    """An import would replace a stored bar older than the revision window."""


@dataclass(frozen=True, slots=True)
class UpdateResult:
    contract: ContractId
    bar_size: str
    added: int
    replaced: int
    unchanged: int
    replaced_first: tuple[dt.datetime, ...] = ()
    """The first few replaced bars' timestamps, for the summary."""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)

    def line(self) -> str:
        text = (
            f"{self.contract} {self.bar_size}: {self.added} added, {self.replaced} replaced,"
            f" {self.unchanged} unchanged"
        )
        if self.replaced:
            shown = ", ".join(f"{t:%Y-%m-%d %H:%M}" for t in self.replaced_first)
            more = self.replaced - len(self.replaced_first)
            text += f" (revised bars: {shown}{f' and {more} more' if more > 0 else ''} UTC)"
        return text


@dataclass(frozen=True, slots=True)
class Staged:
    """A merged file written beside its target, not yet in place."""

    target: Path
    temp: Path | None
    """``None`` when nothing changes."""
    result: UpdateResult


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

    def write(
        self,
        contract: ContractId,
        bar_size: str,
        bars: pl.DataFrame,
        rule: RevisionRule | None = None,
    ) -> UpdateResult:
        """Merge ``bars`` into the stored file (see the module docstring)."""
        new = validate_bars(bars, f"{contract} {bar_size}")
        staged = self.stage(contract, bar_size, new.lazy(), rule or RevisionRule())
        self.commit([staged])
        return staged.result

    def stage(  # noqa: PLR0917 - the subject, its bars and how to merge them
        self,
        contract: ContractId,
        bar_size: str,
        new: pl.LazyFrame,
        rule: RevisionRule,
        base: Path | None = None,
        where: Callable[[int], str] | None = None,
    ) -> Staged:
        """Write the merge of ``new`` (sorted, checked bars; ``_line`` optional) into
        ``base`` (default: the stored file) beside the target; nothing is in place yet.

        ``where`` turns a ``_line`` into ``file:line`` for a refusal.
        """
        target = self.path(contract, bar_size)
        base = base if base is not None else (target if target.exists() else None)
        columns = list(BAR_SCHEMA)
        span = new.select(pl.len(), pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi"))
        count, lo, hi = span.collect().row(0)
        old = pl.scan_parquet(base) if base is not None else None
        matched = changed = 0
        first: tuple[dt.datetime, ...] = ()
        if old is not None and count:
            joined = _overlap(new, old, lo, hi)
            stats = joined.select(
                pl.len().alias("matched"), pl.col("_changed").sum().alias("changed")
            ).collect()
            matched, changed = int(stats["matched"][0]), int(stats["changed"][0] or 0)
            if changed:
                _check_revisions(joined, old, contract, bar_size, rule, where)
                first = tuple(joined.filter("_changed").select("ts").head(_SHOWN).collect()["ts"])
        result = UpdateResult(
            contract, bar_size, count - matched, changed, matched - changed, first
        )
        if not result.changed:
            return Staged(target, None, result)
        temp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{next(_staged)}")
        body = new.select(columns)
        if old is not None and count:
            ts, stored = pl.col("ts"), old.select(columns)
            inside = stored.filter(ts.is_between(lo, hi)).join(
                new.select("ts"), on="ts", how="anti"
            )
            kept = pl.concat([stored.filter(ts < lo), inside, stored.filter(ts > hi)])
            body = kept.merge_sorted(body, key="ts")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            body.sink_parquet(temp, compression="zstd", statistics=True)
        except (OSError, pl.exceptions.PolarsError) as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise _write_failed(target, exc) from None
        return Staged(target, temp, result)

    def commit(self, staged: Iterable[Staged]) -> None:
        """Put every staged file in its place (each an atomic rename)."""
        for item in staged:
            if item.temp is not None:
                try:
                    with item.temp.open("rb") as handle:
                        os.fsync(handle.fileno())
                    item.temp.replace(item.target)
                except OSError as exc:
                    raise _write_failed(item.target, exc) from None

    def discard(self, staged: Iterable[Staged]) -> None:
        """Remove staged files that will not be committed."""
        for item in staged:
            if item.temp is not None:
                with contextlib.suppress(OSError):
                    item.temp.unlink()

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


def _write_failed(target: Path, exc: Exception) -> EnvironmentFault:
    return EnvironmentFault(
        f"bar store {target}: cannot be written ({io_problem(exc)}); nothing was imported"
    )


def _overlap(
    new: pl.LazyFrame, old: pl.LazyFrame, lo: dt.datetime, hi: dt.datetime
) -> pl.LazyFrame:
    """New bars at stored timestamps (only the stored span between ``lo`` and ``hi``, the
    new bars' first and last, is joined), with the stored values and whether they differ."""
    values = [c for c in BAR_SCHEMA if c != "ts"]
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"{c}_old")) for c in values)
    stored = old.select(list(BAR_SCHEMA)).filter(pl.col("ts").is_between(lo, hi))
    return new.join(stored, on="ts", how="inner", suffix="_old").with_columns(
        (~same).alias("_changed")
    )


def _check_revisions(  # noqa: PLR0917 - the overlap and everything the refusal names
    joined: pl.LazyFrame,
    old: pl.LazyFrame,
    contract: ContractId,
    bar_size: str,
    rule: RevisionRule,
    where: Callable[[int], str] | None,
) -> None:
    if rule.replace_history:
        return
    cutoff = revisable_from(old, bar_size, rule)
    older = joined.filter(pl.col("_changed"))
    if cutoff is not None:
        older = older.filter(pl.col("ts") < cutoff)
    row = older.sort("ts").head(1).collect()
    if row.height == 0:
        return
    bar = row.row(0, named=True)
    diffs = ", ".join(
        f"{c} {bar[f'{c}_old']} stored, {bar[c]} new"
        for c in BAR_SCHEMA
        if c != "ts" and bar[c] != bar[f"{c}_old"]
    )
    place = f"{where(bar[LINE])}: " if where is not None and LINE in bar else ""
    window = (
        f"older than the latest {rule.days} stored trading day(s)"
        f" (from {cutoff:%Y-%m-%d %H:%M} UTC)"
        if cutoff is not None
        else "no stored bar may be revised (--revise-days 0)"
    )
    raise RevisionRefused(
        f"{place}bar at {bar['ts']:%Y-%m-%d %H:%M} UTC for {contract} {bar_size} differs from"
        f" the stored one ({diffs}) and is {window}; history is not replaced without --replace"
    )


def _utc(ts: dt.datetime) -> dt.datetime:
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts} has no timezone; Bastion needs aware UTC times")
    return ts.astimezone(dt.UTC)
