"""Bar imports store exact ticks, are idempotent and incremental, and refuse bad input
(malformed CSV, wrong columns, unsorted or duplicate timestamps, off-tick prices,
unknown contracts) naming file and line, with nothing written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from bastion.domain.ids import ContractId
from bastion.errors import DataError
from bastion.marketdata.bars import BarStore, with_prices
from bastion.marketdata.importers.files import import_bar_file
from bastion.marketdata.specs import SpecRegistry

REG = SpecRegistry.bundled()
HEADER = "timestamp,open,high,low,close,volume,contract\n"
GOOD = (
    "2024-03-12T09:00:00+08:00,3500,3510,3490,3505,12,rb2405\n"
    "2024-03-12T09:01:00+08:00,3505,3506,3500,3502,10,rb2405\n"
    "2024-03-12T09:00:00+08:00,4500.2,4501,4499.8,4500,3,IF/202403\n"
)


def write(tmp_path: Path, body: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def stored_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def test_import_csv_stores_integer_ticks_per_contract(tmp_path: Path) -> None:
    store = BarStore(tmp_path / "data")
    results = import_bar_file(write(tmp_path, HEADER + GOOD), store, REG)
    assert [(r.contract, r.added) for r in results] == [("IF/202403", 1), ("rb/202405", 2)]
    bars = store.read(ContractId("IF/202403"), "1m")
    assert bars["open_ticks"].to_list() == [22501]  # 4500.2 / 0.2
    assert bars["ts"][0] == dt.datetime(2024, 3, 12, 1, 0, tzinfo=dt.UTC)
    assert with_prices(bars, REG["IF"])["low"][0] == pytest.approx(4499.8)


def test_import_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    store = BarStore(tmp_path / "data")
    path = write(tmp_path, HEADER + GOOD)
    import_bar_file(path, store, REG)
    before = {p: p.stat().st_mtime_ns for p in stored_files(store.root)}
    again = import_bar_file(path, store, REG)
    assert all(not r.changed and r.unchanged > 0 for r in again)
    assert {p: p.stat().st_mtime_ns for p in stored_files(store.root)} == before


def test_import_incremental_adds_and_replaces(tmp_path: Path) -> None:
    store = BarStore(tmp_path / "data")
    import_bar_file(write(tmp_path, HEADER + GOOD), store, REG)
    update = (
        "2024-03-12T09:01:00+08:00,3505,3507,3500,3503,11,rb2405\n"
        "2024-03-12T09:02:00+08:00,3503,3504,3501,3504,5,rb2405\n"
    )
    [result] = import_bar_file(write(tmp_path, HEADER + update, "u.csv"), store, REG)
    assert (result.added, result.replaced, result.unchanged) == (1, 1, 0)
    bars = store.read(ContractId("rb/202405"), "1m")
    assert bars["close_ticks"].to_list() == [3505, 3503, 3504]


def test_read_time_window_start_inclusive_end_exclusive(tmp_path: Path) -> None:
    store = BarStore(tmp_path / "data")
    import_bar_file(write(tmp_path, HEADER + GOOD), store, REG)
    start = dt.datetime(2024, 3, 12, 1, 1, tzinfo=dt.UTC)
    got = store.read(ContractId("rb/202405"), "1m", start, start + dt.timedelta(minutes=1))
    assert got.height == 1
    assert store.read(ContractId("rb/202512"), "1m").height == 0


def test_import_naive_timestamps_with_timezone_converted_to_utc(tmp_path: Path) -> None:
    store = BarStore(tmp_path / "data")
    body = "timestamp,open,high,low,close\n2024-03-12 09:00:00,3500,3500,3500,3500\n"
    import_bar_file(write(tmp_path, body), store, REG, contract="rb2405", timezone="Asia/Shanghai")
    assert store.read(ContractId("rb/202405"), "1m")["ts"][0].hour == 1


def test_import_parquet_file(tmp_path: Path) -> None:
    store = BarStore(tmp_path / "data")
    frame = pl.DataFrame({
        "timestamp": ["2024-03-12T09:00:00+08:00"], "open": [3500.0], "high": [3501.0],
        "low": [3499.0], "close": [3500.0], "volume": [1],
    })  # fmt: skip
    path = tmp_path / "bars.parquet"
    frame.write_parquet(path)
    [result] = import_bar_file(path, store, REG, contract="rb/202405")
    assert result.added == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            HEADER + "2024-03-12T09:00:00+08:00,3500,3510,3490,3505,12\n",
            r"bars.csv:2: 6 fields, expected 7",
        ),
        (
            "timestamp,open,high,low,close,vol\n",
            r"wrong columns \(missing \[\], unexpected \['vol'\]\)",
        ),
        ("timestamp,open,high,close\n", r"missing \['low'\]"),
        (
            HEADER + GOOD + "2024-03-12T08:59:00+08:00,3505,3506,3500,3502,10,rb2405\n",
            r"bars.csv:5: out-of-order timestamp",
        ),
        (
            HEADER + GOOD + "2024-03-12T09:01:00+08:00,3505,3506,3500,3502,10,rb2405\n",
            r"bars.csv:5: duplicate timestamp",
        ),
        (
            HEADER + "2024-03-12T09:00:00+08:00,3500.5,3510,3490,3505,12,rb2405\n",
            r"bars.csv:2: open 3500.5 is not on the tick of rb/202405 \(expected a multiple of 1\)",
        ),
        (
            HEADER + "2024-03-12T09:00:00+08:00,4500.1,4501,4499.8,4500,3,IF2403\n",
            r"bars.csv:2: open 4500.1 is not on the tick",
        ),
        (
            HEADER + GOOD + "2024-03-12T09:00:00+08:00,1,1,1,1,1,zz2405\n",
            r"bars.csv:5: unknown contract symbol 'zz2405'",
        ),
        (
            HEADER + "2024-03-12T09:00:00+08:00,1,1,1,1,1,NOPE/202405\n",
            r"bars.csv:2: unknown instrument 'NOPE'",
        ),
        (
            HEADER + "2024-03-12T09:00:00+08:00,abc,1,1,1,1,rb2405\n",
            r"bars.csv:2: open 'abc' is not a number",
        ),
        (
            HEADER + "12/03/2024 09:00,1,1,1,1,1,rb2405\n",
            r"bars.csv:2: timestamp '12/03/2024 09:00' is not ISO 8601",
        ),
        (HEADER + "2024-03-12 09:00:00,1,1,1,1,1,rb2405\n", r"bars.csv:2: .*has no UTC offset"),
        (
            HEADER + "2024-03-12T09:00:00+08:00,3500,3501,3502,3500,1,rb2405\n",
            r"bars.csv:2: high/low do not contain open and close",
        ),
        (
            HEADER + "2024-03-12T09:00:00+08:00,3500,3501,3499,3500,-4,rb2405\n",
            r"bars.csv:2: volume '-4' is not a whole number",
        ),
        ("", r"empty file"),
        ("timestamp,open,high,low,close\n", r"no rows"),
        (
            "timestamp,open,high,low,close\n2024-03-12T09:00:00+08:00,1,1,1,1\n",
            r"no 'contract' column",
        ),
    ],
)
def test_import_bad_input_reports_line_and_writes_nothing(
    tmp_path: Path, body: str, message: str
) -> None:
    store = BarStore(tmp_path / "data")
    with pytest.raises(DataError, match=message):
        import_bar_file(write(tmp_path, body), store, REG)
    assert stored_files(tmp_path) == []


def test_import_unknown_file_type_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown file type '.txt'"):
        import_bar_file(write(tmp_path, HEADER, "bars.txt"), BarStore(tmp_path), REG)


def test_import_unreadable_parquet_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a readable Parquet file"):
        import_bar_file(write(tmp_path, "junk", "bars.parquet"), BarStore(tmp_path), REG)


def test_import_unknown_bar_size_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"bar size '7m'"):
        import_bar_file(write(tmp_path, HEADER + GOOD), BarStore(tmp_path), REG, bar_size="7m")
    assert stored_files(tmp_path) == []


def test_store_write_duplicate_timestamps_refused(tmp_path: Path) -> None:
    ts = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    bars = pl.DataFrame({
        "ts": [ts, ts], "open_ticks": [1, 1], "high_ticks": [1, 1], "low_ticks": [1, 1],
        "close_ticks": [1, 1], "volume": [0, 0],
    })  # fmt: skip
    with pytest.raises(DataError, match="duplicate bar timestamp 2024-01-02"):
        BarStore(tmp_path).write(ContractId("rb/202405"), "1m", bars)
