"""The Panama rule: the gap is FORWARD - PRICE on the last row of the old contract where
both exist and FORWARD is the new contract; it shifts all earlier prices; blank FORWARD
and repeated timestamps are handled; an undeterminable gap is reported, never guessed."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from bastion.errors import DataError
from bastion.marketdata.adjust import compare_adjusted, panama

D0 = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def multiple(rows: list[tuple[int, str, str, float | None, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": [D0 + dt.timedelta(days=d) for d, *_ in rows],
            "price_contract": [r[1] for r in rows],
            "forward_contract": [r[2] for r in rows],
            "carry_contract": [r[2] for r in rows],
            "price": [r[3] for r in rows],
            "forward": [r[4] for r in rows],
            "carry": [None] * len(rows),
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC"), "carry": pl.Float64},
    )


def test_panama_gap_from_last_row_with_both_prices_blank_forward_skipped() -> None:
    data = multiple([
        (0, "202003", "202006", 100.0, 103.0),
        (1, "202003", "202006", 101.0, 105.0),  # gap row: 105 - 101 = 4
        (2, "202003", "202006", 102.0, None),   # blank FORWARD before the roll
        (3, "202006", "202009", 107.0, 110.0),
        (4, "202006", "202009", 108.0, None),
    ])  # fmt: skip
    result = panama(data)
    assert result.series["adj"].to_list() == [104.0, 105.0, 106.0, 107.0, 108.0]
    [roll] = result.rolls
    assert (roll.old, roll.new, roll.gap, roll.gap_ts) == (
        "202003",
        "202006",
        4.0,
        D0 + dt.timedelta(days=1),
    )


def test_panama_repeated_timestamp_each_row_adjusted() -> None:
    data = multiple([
        (0, "202003", "202006", 100.0, 102.0),
        (0, "202003", "202006", 100.0, None),
        (1, "202006", "202009", 103.0, None),
    ])  # fmt: skip
    assert panama(data).series["adj"].to_list() == [102.0, 102.0, 103.0]


def test_panama_two_rolls_gaps_accumulate_and_blank_price_stays_blank() -> None:
    data = multiple([
        (0, "202003", "202006", 10.0, 11.0),
        (1, "202006", "202009", None, None),
        (2, "202006", "202009", 20.0, 25.0),
        (3, "202009", "202012", 30.0, None),
    ])  # fmt: skip
    assert panama(data).series["adj"].to_list() == [16.0, None, 25.0, 30.0]


def test_panama_undeterminable_gap_strict_raises_naming_roll() -> None:
    data = multiple([
        (0, "202003", "202006", 100.0, None),
        (1, "202006", "202009", 101.0, None),
    ])  # fmt: skip
    with pytest.raises(DataError, match=r"202003->202006 at 2020-01-02"):
        panama(data, strict=True)


def test_panama_forward_not_the_new_contract_is_undeterminable_and_history_blank() -> None:
    data = multiple([
        (0, "202003", "202006", 100.0, 101.0),
        (1, "202009", "202012", 110.0, 112.0),  # skipped past 202006
        (2, "202012", "202103", 113.0, None),
    ])  # fmt: skip
    result = panama(data)
    assert [(r.old, r.new) for r in result.unresolved] == [("202003", "202009")]
    assert result.series["adj"].to_list() == [None, 112.0, 113.0]


def test_panama_empty_input_raises() -> None:
    with pytest.raises(DataError, match="empty"):
        panama(multiple([]))


def test_compare_adjusted_reports_roll_with_different_gap() -> None:
    data = multiple([
        (0, "202003", "202006", 100.0, 104.0),
        (1, "202006", "202009", 107.0, 110.0),
        (2, "202009", "202012", 111.0, None),
    ])  # fmt: skip
    result = panama(data)  # gaps 4 and 3
    reference = pl.DataFrame({"ts": result.series["ts"], "adj": [105.0, 110.0, 111.0]})
    differences, stats = compare_adjusted(result, reference)
    assert [(d.old, d.new, d.ours, d.theirs) for d in differences] == [
        ("202003", "202006", 4.0, 2.0)
    ]
    assert stats["spread"].max() == 0.0
