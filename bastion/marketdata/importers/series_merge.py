"""Merge an imported multiple-prices series with the stored one (issue 16): revisions of
the latest days are listed, older history is never silently replaced.

Multiple prices may repeat a timestamp, so rows are compared in groups of one timestamp.
A stored group that the new file does not have is kept; a new group at a timestamp
nothing is stored for is added; a new group at a stored timestamp replaces it, which is
*unchanged* when every row is the same, a *revision* when it differs and its day is
among the latest ``rule.days`` stored days (the UTC date stands for the trading day:
pysystemtrade's timestamps are naive and read as UTC), and is refused otherwise, naming
the file and line, unless ``rule.replace_history`` (``--replace``). So importing the same
folder twice changes nothing, and a short file never erases the history it lacks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from bastion.marketdata.bars import RevisionRefused
from bastion.marketdata.revisions import RevisionRule, revisable_from

__all__ = ["SeriesMerge", "merge_series"]

_SHOWN = 3
_KEY = "_key"


@dataclass(frozen=True, slots=True)
class SeriesMerge:
    frame: pl.DataFrame
    """The stored rows the new file does not touch, and the new file's rows, by time."""
    added: int
    """New rows at timestamps nothing was stored for."""
    revised: int
    """Timestamps whose stored rows the new rows replace with different values."""
    unchanged: int
    """Timestamps whose rows are the same in the store and the file."""
    revised_first: tuple[dt.datetime, ...] = ()

    def line(self, name: str) -> str:
        text = f"{name}: {self.added} added, {self.revised} revised, {self.unchanged} unchanged"
        if self.revised:
            shown = ", ".join(f"{t:%Y-%m-%d %H:%M}" for t in self.revised_first)
            more = self.revised - len(self.revised_first)
            text += f" (revised: {shown}{f' and {more} more' if more > 0 else ''} UTC)"
        return text


def _keys(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per timestamp: its rows' values as one text, in file order."""
    values = [c for c in frame.columns if c != "ts"]
    row = pl.concat_str(
        [pl.col(c).cast(pl.Utf8).fill_null("-") for c in values], separator=","
    ).alias(_KEY)
    grouped = frame.select("ts", row).group_by("ts", maintain_order=True)
    return grouped.agg(pl.col(_KEY).str.join(";"))


def merge_series(
    new: pl.DataFrame, stored: pl.DataFrame | None, rule: RevisionRule, path: Path, name: str
) -> SeriesMerge:
    """Merge ``new`` (read from ``path``, row ``i`` on line ``i + 2``) into ``stored``."""
    if stored is None or stored.height == 0:
        return SeriesMerge(new, new.height, 0, 0)
    stored = stored.select(new.columns)
    both = _keys(new).join(_keys(stored), on="ts", how="inner", suffix="_old")
    changed = both.filter(pl.col(_KEY) != pl.col(f"{_KEY}_old"))["ts"].sort()
    if changed.len() and not rule.replace_history:
        cutoff = revisable_from(stored.lazy(), "1d", rule)
        older = changed.filter(changed < cutoff) if cutoff is not None else changed
        if older.len():
            ts = older[0]
            line = int((new["ts"] == ts).arg_max() or 0) + 2
            window = (
                f"older than the latest {rule.days} stored day(s) (from {cutoff:%Y-%m-%d} UTC)"
                if cutoff is not None
                else "no stored row may be revised (--revise-days 0)"
            )
            raise RevisionRefused(
                f"{path}:{line}: {name} at {ts:%Y-%m-%d %H:%M} UTC differs from the stored"
                f" multiple prices and is {window}; history is not replaced without --replace"
            )
    kept = stored.filter(~pl.col("ts").is_in(new["ts"].unique().implode()))
    added = new.filter(~pl.col("ts").is_in(stored["ts"].unique().implode())).height
    merged = pl.concat([kept, new]).sort("ts", maintain_order=True)
    return SeriesMerge(
        merged, added, changed.len(), both.height - changed.len(), tuple(changed.head(_SHOWN))
    )
