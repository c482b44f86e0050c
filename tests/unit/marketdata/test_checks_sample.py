"""Completeness checks find missing days, missing session minutes, stale data, spikes
and bars outside sessions, and mark failing data unusable (never-checked data is
unusable too); the sample generator is deterministic, on the tick, inside sessions,
and crosses a roll."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from bastion.domain.ids import ContractId
from bastion.marketdata.bars import BAR_SCHEMA
from bastion.marketdata.calendars import calendar_for
from bastion.marketdata.checks import check_bars, is_usable, record_reports
from bastion.marketdata.sample import SampleSpec, generate
from bastion.marketdata.specs import SpecRegistry

REG = SpecRegistry.bundled()
RB = REG["rb"]
CAL = calendar_for(RB)
SAMPLE = SampleSpec("rb", ("202405", "202410"), dt.date(2024, 3, 25), dt.date(2024, 4, 10),
                    3850.0, 0.22, -0.03, 400, 7, switch_days=45)  # fmt: skip
CID = ContractId("rb/202410")
AFTER_CLOSE = dt.datetime(2024, 4, 10, 8, 0, tzinfo=dt.UTC)  # 16:00 Shanghai


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return generate(RB, CAL, SAMPLE)[CID]


def checks(frame: pl.DataFrame, now: dt.datetime = AFTER_CLOSE) -> dict[str, str]:
    report = check_bars(CID, "1m", frame, CAL, now)
    return {i.check: i.severity for i in report.issues}


def test_sample_generator_same_seed_same_bars_and_on_tick() -> None:
    first, second = generate(RB, CAL, SAMPLE), generate(RB, CAL, SAMPLE)
    assert set(first) == {ContractId("rb/202405"), CID}
    for cid, frame in first.items():
        assert frame.equals(second[cid])
        assert frame["open_ticks"].dtype == pl.Int64  # integer ticks: on the tick by construction
    other = generate(RB, CAL, dataclasses.replace(SAMPLE, seed=8))
    assert not other[CID].equals(first[CID])


def test_sample_generator_clean_data_passes_every_check(bars: pl.DataFrame) -> None:
    report = check_bars(CID, "1m", bars, CAL, AFTER_CLOSE)
    assert report.issues == []
    assert report.usable
    # night session bars exist (21:00 Shanghai = 13:00 UTC) and Qingming (4-5 April) is skipped
    assert bars.filter(pl.col("ts").dt.hour() == 13).height > 0
    days = {CAL.trading_day_of(ts) for ts in bars["ts"]}
    assert dt.date(2024, 4, 4) not in days
    assert dt.date(2024, 4, 3) in days


def test_check_missing_trading_day_is_error(bars: pl.DataFrame) -> None:
    day = dt.date(2024, 4, 1)
    windows = CAL.windows(day)
    gap = bars.filter((pl.col("ts") < windows[0][0]) | (pl.col("ts") >= windows[-1][1]))
    assert checks(gap)["missing_day"] == "error"


def test_check_missing_minutes_few_warn_many_fail(bars: pl.DataFrame) -> None:
    assert checks(bars.filter(pl.col("ts") != bars["ts"][100]))["missing_minutes"] == "warning"
    assert checks(bars.filter(pl.int_range(pl.len()) % 3 != 0))["missing_minutes"] == "error"


def test_check_stale_last_bar_after_next_completed_day(bars: pl.DataFrame) -> None:
    later = dt.datetime(2024, 4, 11, 8, 0, tzinfo=dt.UTC)
    assert checks(bars, later)["stale"] == "error"
    during = dt.datetime(2024, 4, 10, 6, 0, tzinfo=dt.UTC)  # 14:00 Shanghai, open
    assert (
        checks(bars.filter(pl.col("ts") < during - dt.timedelta(minutes=30)), during)["stale"]
        == "error"
    )


def test_check_price_spike_is_error(bars: pl.DataFrame) -> None:
    spiked = bars.with_columns(
        pl.when(pl.int_range(pl.len()) == 500).then(pl.col("close_ticks") + 400)
        .otherwise(pl.col("close_ticks")).alias("close_ticks")
    )  # fmt: skip
    assert checks(spiked)["spike"] == "error"


def test_check_bar_outside_session_is_error(bars: pl.DataFrame) -> None:
    odd = bars.with_columns(
        pl.when(pl.int_range(pl.len()) == 10).then(pl.col("ts") + dt.timedelta(hours=5))
        .otherwise(pl.col("ts")).alias("ts")
    ).sort("ts")  # fmt: skip
    assert checks(odd)["outside_session"] == "error"


def test_check_empty_series_unusable() -> None:
    report = check_bars(CID, "1m", pl.DataFrame(schema=BAR_SCHEMA), CAL, AFTER_CLOSE)
    assert not report.usable


def test_usable_verdicts_recorded_and_unknown_is_unusable(
    tmp_path: Path, bars: pl.DataFrame
) -> None:
    assert not is_usable(tmp_path, CID, "1m")
    good = check_bars(CID, "1m", bars, CAL, AFTER_CLOSE)
    bad = check_bars(ContractId("rb/202405"), "1m", bars.head(10), CAL, AFTER_CLOSE)
    record_reports(tmp_path, [good, bad], AFTER_CLOSE)
    assert is_usable(tmp_path, CID, "1m")
    assert not is_usable(tmp_path, ContractId("rb/202405"), "1m")
    assert not is_usable(tmp_path, CID, "1d")
