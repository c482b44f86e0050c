"""Back-adjusted (Panama) continuous series from multiple prices (R2.4, issue 4).

**The rule.** Rows are taken in file order. A *roll* happens between two consecutive
rows whose held contract (``price_contract``) differs; the old contract is the one held
before, the new one is held after. The roll's *gap* is ``forward - price`` on the
**last row held in the old contract where both prices exist and the forward contract is
the new one**. The adjusted price of a row is its ``price`` plus the sum of the gaps of
every roll after it, so the latest contract's prices are unchanged and every earlier
price is shifted by the gaps in between.

Real-data quirks: blank ``forward`` prices around rolls are skipped when looking for
the gap row (the last row where both exist is used); a duplicated timestamp is just
another row (both rows get their own adjusted value, as pysystemtrade does); a blank
``price`` gives a blank adjusted value. A roll with no row that gives a gap (e.g. the
held contract skips past the forward contract) is **reported, never guessed**: with
``strict=True`` ``panama`` raises ``DataError`` naming each such roll; otherwise the
series is left blank up to and including the last such roll (history that cannot be
adjusted without guessing is not adjusted) and the rolls are listed in ``unresolved``.

Adjusted prices are research values, not prices on the tick, so they are Float64.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from bastion.errors import DataError

__all__ = [
    "GapDifference",
    "PanamaResult",
    "RollGap",
    "compare_adjusted",
    "contract_shifts",
    "panama",
    "segments",
]


@dataclass(frozen=True, slots=True)
class RollGap:
    roll_ts: dt.datetime
    """Timestamp of the first row held in the new contract."""
    old: str
    new: str
    gap: float | None
    gap_ts: dt.datetime | None
    """Timestamp of the row the gap was taken from."""


@dataclass(frozen=True, slots=True)
class PanamaResult:
    series: pl.DataFrame
    """``ts``, ``price_contract``, ``price``, ``adj``, ``segment``; one row per input row."""
    rolls: list[RollGap]

    @property
    def unresolved(self) -> list[RollGap]:
        """Rolls whose gap could not be determined; the series is blank before them."""
        return [r for r in self.rolls if r.gap is None]


def segments(multiple: pl.DataFrame) -> pl.DataFrame:
    """The input with a ``row`` index and a ``segment`` number per held-contract run."""
    change = pl.col("price_contract") != pl.col("price_contract").shift(1)
    return multiple.with_row_index("row").with_columns(
        change.fill_null(value=False).cum_sum().cast(pl.Int64).alias("segment")
    )


def panama(multiple: pl.DataFrame, *, strict: bool = False) -> PanamaResult:
    """Apply the rule above; undeterminable gaps raise when ``strict``, else blank history."""
    if multiple.height == 0:
        raise DataError("cannot back-adjust an empty multiple-prices series")
    rows = segments(multiple)
    heads = (
        rows.group_by("segment")
        .agg(pl.col("price_contract").first(), pl.col("ts").first().alias("start_ts"))
        .sort("segment")
    )
    heads = heads.with_columns(
        pl.col("price_contract").shift(-1).alias("next_contract"),
        pl.col("start_ts").shift(-1).alias("roll_ts"),
    )
    candidates = rows.join(heads.select("segment", "next_contract"), on="segment").filter(
        pl.col("price").is_not_null()
        & pl.col("forward").is_not_null()
        & (pl.col("forward_contract") == pl.col("next_contract"))
    )
    gap_rows = candidates.group_by("segment").agg(
        (pl.col("forward") - pl.col("price")).last().alias("gap"),
        pl.col("ts").last().alias("gap_ts"),
    )
    table = heads.join(gap_rows, on="segment", how="left").sort("segment")
    last = table.height - 1
    rolls = [
        RollGap(r["roll_ts"], r["price_contract"], r["next_contract"], r["gap"], r["gap_ts"])
        for r in table.iter_rows(named=True)
        if r["segment"] < last
    ]
    missing = [r for r in rolls if r.gap is None]
    if missing and strict:
        detail = "; ".join(f"{r.old}->{r.new} at {r.roll_ts}" for r in missing[:5])
        raise DataError(
            f"cannot determine the roll gap for {len(missing)} roll(s): no row of the old "
            f"contract has both PRICE and FORWARD for the new one ({detail})"
        )
    blank_until = max((i for i, r in enumerate(rolls) if r.gap is None), default=-1)
    cumulative = table.select(
        "segment",
        pl.when(pl.col("segment") == last)
        .then(0.0)
        .otherwise(pl.col("gap").fill_null(0.0))
        .reverse()
        .cum_sum()
        .reverse()
        .alias("shift"),
    ).with_columns(pl.when(pl.col("segment") > blank_until).then(pl.col("shift")).alias("shift"))
    series = (
        rows.join(cumulative, on="segment")
        .sort("row")
        .select(
            "ts",
            "price_contract",
            "price",
            (pl.col("price") + pl.col("shift")).alias("adj"),
            "segment",
        )
    )
    return PanamaResult(series, rolls)


def contract_shifts(result: PanamaResult) -> dict[str, float | None]:
    """Each held contract's back-adjustment: what is added to its prices to put them on
    the adjusted series (the sum of the gaps of every roll after it; 0 for the latest
    contract). ``None`` for a contract whose history is blank (an unresolved roll lies
    after it). A contract held in several segments takes its last segment's shift."""
    frame = (
        result.series.group_by("segment")
        .agg(
            pl.col("price_contract").first(),
            (pl.col("adj") - pl.col("price")).drop_nulls().first().alias("shift"),
            pl.col("adj").is_null().all().alias("blank"),
        )
        .sort("segment")
    )
    out: dict[str, float | None] = {}
    for contract, shift, blank in frame.select("price_contract", "shift", "blank").iter_rows():
        out[str(contract)] = None if blank or shift is None else float(shift)
    return out


@dataclass(frozen=True, slots=True)
class GapDifference:
    roll_ts: dt.datetime
    old: str
    new: str
    ours: float
    theirs: float


def compare_adjusted(
    result: PanamaResult, reference: pl.DataFrame, tolerance: float = 1e-6
) -> tuple[list[GapDifference], pl.DataFrame]:
    """Rolls where the reference series implies a different gap, and per-segment stats.

    Rows are matched by position when both series have the same timestamps, else by
    timestamp (last row of a repeated timestamp). Within a held contract the difference
    ours - theirs should be constant; its step across a roll is ours - theirs gap.
    """
    ours = result.series
    if reference.height == ours.height and reference["ts"].equals(ours["ts"]):
        joined = ours.with_columns(reference["adj"].alias("ref"))
    else:
        ref = reference.unique("ts", keep="last").rename({"adj": "ref"})
        joined = ours.join(ref, on="ts", how="inner")
    diff = joined.filter(pl.col("adj").is_not_null() & pl.col("ref").is_not_null()).with_columns(
        (pl.col("adj") - pl.col("ref")).alias("diff")
    )
    stats = (
        diff.group_by("segment")
        .agg(
            pl.col("ts").first().alias("first_ts"),
            pl.col("diff").median().alias("offset"),
            (pl.col("diff").max() - pl.col("diff").min()).alias("spread"),
            pl.len().alias("rows"),
        )
        .sort("segment")
    )
    offsets = dict(zip(stats["segment"], stats["offset"], strict=True))
    differences = []
    for seg, roll in enumerate(result.rolls):
        if seg in offsets and seg + 1 in offsets and roll.gap is not None:
            step = offsets[seg] - offsets[seg + 1]
            if abs(step) > tolerance:
                differences.append(
                    GapDifference(roll.roll_ts, roll.old, roll.new, roll.gap, roll.gap - step)
                )
    return differences, stats
