"""Roll calendars come from rules, never hand-edited months: fixed roll config (with
roll-early), the open-interest main contract (forward only, confirmed), or the rolls
recorded in multiple prices."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from bastion.errors import DataError
from bastion.marketdata.rolls import (
    RollConfig,
    main_contract_calendar,
    roll_calendar_from_config,
    rolls_from_multiple,
)


def utc(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, tzinfo=dt.UTC)


def test_config_calendar_quarterly_roll_five_days_before_expiry() -> None:
    cfg = RollConfig("HMUZ", roll_offset_days=-5, expiry_offset=14)  # SP500's config
    cal = roll_calendar_from_config(cfg, dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert cal.rows() == [
        (utc(2024, 3, 8), "202403", "202406"),  # 15 Mar - 5 = Sun 10 Mar -> Fri 8 Mar
        (utc(2024, 6, 10), "202406", "202409"),
        (utc(2024, 9, 10), "202409", "202412"),
        (utc(2024, 12, 10), "202412", "202503"),
    ]


def test_config_calendar_roll_early_days_counts_business_days() -> None:
    cfg = RollConfig("HMUZ", roll_offset_days=-5, expiry_offset=14, roll_early_days=2)
    cal = roll_calendar_from_config(cfg, dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    assert cal["ts"].to_list() == [utc(2024, 3, 6)]


def test_config_calendar_uses_given_trading_days() -> None:
    cfg = RollConfig("Z", roll_offset_days=-60, expiry_offset=14)
    closed = {dt.date(2024, 10, 16)}
    cal = roll_calendar_from_config(
        cfg,
        dt.date(2024, 1, 1),
        dt.date(2024, 12, 31),
        lambda d: d.weekday() < 5 and d not in closed,
    )
    assert cal.rows() == [(utc(2024, 10, 15), "202412", "202512")]


def test_roll_config_bad_cycle_refused() -> None:
    with pytest.raises(DataError, match="hold cycle 'HMX1'"):
        RollConfig("HMX1", -5, 14)


def daily(rows: list[tuple[int, str, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [dt.date(2024, 3, 1) + dt.timedelta(days=d) for d, *_ in rows],
            "contract": [r[1] for r in rows],
            "open_interest": [r[2] for r in rows],
            "volume": [r[3] for r in rows],
        }
    )


OI = daily([
    (0, "202405", 900, 50), (0, "202410", 100, 10),
    (1, "202405", 800, 50), (1, "202410", 850, 10),  # 2410 leads once
    (2, "202405", 900, 50), (2, "202410", 850, 10),  # back to 2405
    (3, "202405", 700, 50), (3, "202410", 950, 10),
    (4, "202405", 600, 50), (4, "202410", 990, 10),
    (5, "202405", 500, 50), (5, "202410", 999, 10),
    (6, "202405", 400, 50), (6, "202410", 999, 10),
])  # fmt: skip


def test_main_contract_switch_confirmed_then_rolls_next_day() -> None:
    cal = main_contract_calendar(OI, confirm_days=2)
    assert cal.rows() == [(utc(2024, 3, 6), "202405", "202410")]


def test_main_contract_roll_early_days_moves_roll_back() -> None:
    cal = main_contract_calendar(OI, confirm_days=2, roll_early_days=2)
    assert cal["ts"].to_list() == [utc(2024, 3, 4)]


def test_main_contract_never_rolls_back_to_an_earlier_contract() -> None:
    data = daily([
        (0, "202405", 1, 0), (0, "202410", 9, 0), (1, "202405", 9, 0), (1, "202410", 1, 0),
    ])  # fmt: skip
    assert main_contract_calendar(data).height == 0


def test_main_contract_missing_columns_refused() -> None:
    with pytest.raises(DataError, match=r"missing columns \['volume'\]"):
        main_contract_calendar(OI.drop("volume"))


def test_rolls_from_multiple_first_row_of_each_new_contract() -> None:
    multiple = pl.DataFrame(
        {
            "ts": [utc(2024, 1, d) for d in (2, 3, 3, 4)],
            "price_contract": ["202403", "202403", "202406", "202406"],
        }
    )
    assert rolls_from_multiple(multiple).rows() == [(utc(2024, 1, 3), "202403", "202406")]
