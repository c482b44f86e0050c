"""Invariant: every bundled instrument spec has a price band and a volume bound, the
import checks bars against them (refusing one outside, naming file, line, value and
bound), and the bands hold the price history Bastion ships and imports: the bundled
sample bars and pysystemtrade's published multiple prices."""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from bastion.errors import DataError
from bastion.marketdata.bars import BarStore
from bastion.marketdata.importers.convert import PriceRule
from bastion.marketdata.importers.files import import_bar_file
from bastion.marketdata.importers.pysystemtrade import read_multiple_prices
from bastion.marketdata.specs import MAX_VOLUME, SpecRegistry

REG = SpecRegistry.bundled()
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
HEADER = "timestamp,open,high,low,close,volume,contract\n"
SHARED = (
    Path(os.environ["BASTION_SHARED_DATA"]) / "pysystemtrade"
    if os.environ.get("BASTION_SHARED_DATA")
    else Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "pysystemtrade"
)


def test_bundled_specs_every_instrument_has_band_and_volume_bound() -> None:
    assert len(REG) > 100
    for iid, spec in REG.items():
        assert spec.min_price is not None, iid
        assert spec.max_price is not None, iid
        assert spec.min_price < spec.max_price, iid
        assert (spec.min_price <= 0) == spec.negative_prices, iid
        assert spec.max_volume < MAX_VOLUME, iid
        # a band, not a guard: no wider than 5000 times its low end
        if spec.min_price > 0:
            assert spec.max_price / spec.min_price <= 5000, iid


def _import(tmp_path: Path, row: str) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "2024-03-13T09:00:00+08:00,3500,3510,3490,3505,10,rb2405\n" + row)
    import_bar_file(path, BarStore(tmp_path / "data"), REG, now=NOW)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "2024-03-13T09:01:00+08:00,3500,40001,3490,3505,10,rb2405\n",
            (
                r"bars.csv:3: high 40001 is beyond the largest price accepted for rb \(40000;"
                r" max_price in a spec file changes it\)"
            ),
        ),
        (
            "2024-03-13T09:01:00+08:00,3500,3510,299,3505,10,rb2405\n",
            (
                r"bars.csv:3: low 299 is below the lowest price accepted for rb \(300;"
                r" min_price in a spec file changes it\)"
            ),
        ),
        (
            "2024-03-13T09:01:00+08:00,3500,3510,3490,3505,100000001,rb2405\n",
            (
                r"bars.csv:3: volume 100000001 is above the largest volume accepted for rb"
                r" \(100000000 lots per bar"
            ),
        ),
    ],
)
def test_import_price_or_volume_outside_instrument_band_refused_naming_line_value_bound(
    tmp_path: Path, row: str, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        _import(tmp_path, row)
    assert not (tmp_path / "data" / "bars").exists(), "nothing written"


def test_import_crude_below_its_negative_band_refused(tmp_path: Path) -> None:
    """WTI may trade below zero (its band starts at -200), not at -2000."""
    path = tmp_path / "cl.csv"
    path.write_text(HEADER + "2020-04-20T13:29:00-05:00,1.00,10.01,-2000.00,-37.63,5,CLK0\n")
    with pytest.raises(DataError, match=r"cl.csv:2: low -2000.00 is below the lowest price"
                       r" accepted for CRUDE_W \(-200;"):  # fmt: skip
        import_bar_file(path, BarStore(tmp_path / "data"), REG, now=NOW)


def test_bundled_sample_bars_inside_their_bands(sample_data: Path) -> None:
    store = BarStore(sample_data)
    seen = set()
    for contract, size in store.contracts():
        spec = REG[contract.split("/")[0]]
        bars = store.read(contract, size)
        tick = spec.tick_size
        assert spec.min_price is not None
        assert spec.max_price is not None
        assert Decimal(int(bars["low_ticks"].min())) * tick >= spec.min_price, contract  # type: ignore[arg-type]
        assert Decimal(int(bars["high_ticks"].max())) * tick <= spec.max_price, contract  # type: ignore[arg-type]
        assert int(bars["volume"].max()) <= spec.max_volume  # type: ignore[arg-type]
        seen.add(spec.instrument_id)
    assert seen == {"SP500", "rb"}


@pytest.mark.skipif(
    not (SHARED / "multiple_prices_csv").is_dir(), reason=f"no shared data at {SHARED}"
)
def test_pysystemtrade_multiple_prices_inside_bands() -> None:
    """Every published price lies in its band, but pysystemtrade's one SP500 roll artifact
    (-5.75), refused as not positive before any band (docs/marketdata.md)."""
    checked = []
    for path in sorted((SHARED / "multiple_prices_csv").glob("*.csv")):
        spec = REG[path.stem]
        rule = PriceRule.of(spec)
        if path.stem == "SP500":
            with pytest.raises(DataError, match=r"PRICE -5.75 is not a positive price"):
                read_multiple_prices(path, rule, now=NOW)
            frame = pl.read_csv(path, infer_schema_length=0)
            values = pl.concat(
                [frame[c].cast(pl.Float64) for c in ("PRICE", "FORWARD", "CARRY")]
            ).drop_nulls()
            assert set(values.filter(values <= 0).to_list()) == {-5.75}  # PRICE and CARRY
            kept = values.filter(values > 0)
            assert float(spec.min_price or 0) <= kept.min() <= kept.max() <= float(rule.limit)  # type: ignore[operator]
        else:
            read_multiple_prices(path, rule, now=NOW)
        checked.append(path.stem)
    assert len(checked) >= 6


_USER_SPEC = """version: 1
defaults: {currency: USD, timezone: America/Chicago, calendar: CMES, symbol_style: month_code}
exchanges:
  CME:
    TEST: {root: TT, tick_size: "0.25", multiplier: "50", %s}
"""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('min_price: "0"', "min_price 0 must be above 0 (prices at or below zero need"),
        ('min_price: "-5", negative_prices: false', "min_price -5 must be above 0"),
        ('min_price: "500", max_price: "500"', "min_price 500 must be below max_price 500"),
        (
            'min_price: "-1e12", negative_prices: true',
            "min_price -1E+12 is beyond 1,000,000,000 ticks",
        ),
    ],
)
def test_spec_file_band_that_cannot_be_refused_naming_key(
    tmp_path: Path, fields: str, message: str
) -> None:
    path = tmp_path / "specs.yaml"
    path.write_text(_USER_SPEC % fields)
    with pytest.raises(DataError, match=re.escape(f"CME.TEST: {message}")):
        SpecRegistry.load([path])


def test_spec_file_negative_band_allowed_with_negative_prices(tmp_path: Path) -> None:
    path = tmp_path / "specs.yaml"
    path.write_text(_USER_SPEC % 'min_price: "-50", max_price: "500", negative_prices: true')
    spec = SpecRegistry.load([path])["TEST"]
    assert (spec.min_price, spec.max_price) == (Decimal(-50), Decimal(500))
