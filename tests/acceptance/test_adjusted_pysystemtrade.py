"""Bastion's Panama series, built from pysystemtrade's multiple prices, equals
pysystemtrade's published adjusted prices to 1e-6 from 2016 on, and before 2016 moves
exactly like it within every held contract (only roll gaps may differ there).

Reads ../shared/data/pysystemtrade (or $BASTION_SHARED_DATA/pysystemtrade); the data is
never copied into the repository. It is imported through ``guarded_copy``: the two
SP500 cells where pysystemtrade stored a roll spread (-5.75) as a price are blank there,
since Bastion refuses a non-positive SP500 price (issue 16).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl
import pytest

from bastion.marketdata.adjust import compare_adjusted, panama
from bastion.marketdata.importers.pysystemtrade import import_pysystemtrade
from bastion.marketdata.series import SeriesStore
from bastion.testing.pysystemtrade import guarded_copy

_SHARED = os.environ.get("BASTION_SHARED_DATA")
DATA = (
    Path(_SHARED) / "pysystemtrade"
    if _SHARED
    else Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "pysystemtrade"
)
INSTRUMENTS = ("SP500", "US10", "GOLD", "CRUDE_W", "CORN", "EUR")
CUTOFF = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
ARTIFACT_ROLL = dt.datetime(2018, 3, 12, 16, 41, 2, tzinfo=dt.UTC)
"""SP500's roll whose gap pysystemtrade took from its -5.75 artifact: its adjusted series
is 2796.625 away from one built on the real prices before it, so SP500 is compared from
this roll on."""
CUTOFFS = {"SP500": ARTIFACT_ROLL}
TOLERANCE = 1e-6

pytestmark = pytest.mark.skipif(
    not (DATA / "multiple_prices_csv").is_dir(),
    reason=f"shared pysystemtrade data not found at {DATA.resolve()}",
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SeriesStore:
    series = SeriesStore(tmp_path_factory.mktemp("bastion-data"))
    copy = tmp_path_factory.mktemp("pysystemtrade") / "futures"
    assert guarded_copy(DATA, copy) == [
        "SP500.csv:8087 FORWARD -5.75",
        "SP500.csv:8088 PRICE -5.75",
    ]
    summary = import_pysystemtrade(copy, series)
    assert set(INSTRUMENTS) <= set(summary.instruments)
    return series


@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_adjusted_series_matches_pysystemtrade(store: SeriesStore, instrument: str) -> None:
    result = panama(store.read(instrument, "multiple"))
    reference = store.read(instrument, "adjusted_reference")
    assert reference["ts"].equals(result.series["ts"])
    both = result.series.with_columns(reference["adj"].alias("ref")).filter(
        pl.col("adj").is_not_null() & pl.col("ref").is_not_null()
    )
    diff = both.with_columns((pl.col("adj") - pl.col("ref")).alias("diff"))

    cutoff = CUTOFFS.get(instrument, CUTOFF)
    recent = diff.filter(pl.col("ts") >= cutoff)
    assert recent.height > 900
    assert recent["diff"].abs().max() <= TOLERANCE

    spread = diff.group_by("segment").agg((pl.col("diff").max() - pl.col("diff").min()).alias("s"))
    assert spread["s"].max() <= TOLERANCE

    differences, _ = compare_adjusted(result, reference, TOLERANCE)
    assert all(d.roll_ts <= cutoff for d in differences)
    # Undeterminable gaps only where the data itself skips the forward contract.
    for roll in result.unresolved:
        assert roll.roll_ts < CUTOFF
    unadjusted = result.series.filter(pl.col("adj").is_null() & pl.col("price").is_not_null())
    assert unadjusted.height == 0 or unadjusted["ts"].max() < CUTOFF


def test_gold_1980_roll_past_forward_contract_reported_not_guessed(store: SeriesStore) -> None:
    result = panama(store.read("GOLD", "multiple"))
    assert [(r.old, r.new) for r in result.unresolved] == [("198002", "198012")]
    first = result.series.filter(pl.col("adj").is_not_null())["ts"][0]
    assert first == dt.datetime(1980, 1, 18, tzinfo=dt.UTC)
