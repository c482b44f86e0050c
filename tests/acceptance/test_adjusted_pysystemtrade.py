"""Bastion's Panama series, built from pysystemtrade's multiple prices, equals
pysystemtrade's published adjusted prices to 1e-6 from 2016 on, and before 2016 moves
exactly like it within every held contract (only roll gaps may differ there).

Reads ../shared/data/pysystemtrade (or $BASTION_SHARED_DATA/pysystemtrade); the data is
never copied into the repository.
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

_SHARED = os.environ.get("BASTION_SHARED_DATA")
DATA = (
    Path(_SHARED) / "pysystemtrade"
    if _SHARED
    else Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "pysystemtrade"
)
INSTRUMENTS = ("SP500", "US10", "GOLD", "CRUDE_W", "CORN", "EUR")
CUTOFF = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
TOLERANCE = 1e-6

pytestmark = pytest.mark.skipif(
    not (DATA / "multiple_prices_csv").is_dir(),
    reason=f"shared pysystemtrade data not found at {DATA.resolve()}",
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SeriesStore:
    series = SeriesStore(tmp_path_factory.mktemp("bastion-data"))
    summary = import_pysystemtrade(DATA, series)
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

    recent = diff.filter(pl.col("ts") >= CUTOFF)
    assert recent.height > 1000
    assert recent["diff"].abs().max() <= TOLERANCE

    spread = diff.group_by("segment").agg((pl.col("diff").max() - pl.col("diff").min()).alias("s"))
    assert spread["s"].max() <= TOLERANCE

    differences, _ = compare_adjusted(result, reference, TOLERANCE)
    assert all(d.roll_ts < CUTOFF for d in differences)
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
