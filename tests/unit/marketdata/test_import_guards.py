"""Invariants of bar imports against data that would overwrite good data (issue 16):

* a price at or below zero is refused (naming file and line) unless the instrument's
  spec allows negative prices (WTI crude), and never replaces a stored bar;
* prices and volumes beyond an instrument's bounds are one clear error, not a polars
  overflow;
* timestamps no exchange could have (before 1800, or in the future) are refused;
* a stored bar may be revised only within the latest stored trading days (listed in
  the result); an older one that differs is refused unless replacing is asked for;
* a file read in many pieces gives the same bars, the same line numbers and the same
  refusals as one read whole.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from bastion.domain.ids import ContractId
from bastion.errors import DataError
from bastion.marketdata.bars import BarStore, RevisionRefused
from bastion.marketdata.importers.files import import_bar_file, read_bar_file
from bastion.marketdata.specs import SpecRegistry

REG = SpecRegistry.bundled()
HEADER = "timestamp,open,high,low,close,volume,contract\n"
RB = ContractId("rb/202405")
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def _csv(tmp_path: Path, rows: list[str], name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def _rb(day: int, minute: int, close: int = 3505, volume: int = 10) -> str:
    return f"2024-03-{day:02d}T09:{minute:02d}:00+08:00,3500,3510,3490,{close},{volume},rb2405"


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    store = BarStore(tmp_path / "data")
    path = _csv(tmp_path, [_rb(12, 0), _rb(12, 1), _rb(13, 0), _rb(13, 1)], "seed.csv")
    import_bar_file(path, store, REG, now=NOW)
    return store


@pytest.mark.parametrize("price", ["0", "-3505"])
def test_import_price_not_positive_refused_store_unchanged(
    tmp_path: Path, store: BarStore, price: str
) -> None:
    before = _files(store.root)
    row = f"2024-03-13T09:01:00+08:00,3500,3510,{price},3505,10,rb2405"
    with pytest.raises(DataError, match=rf"bars.csv:2: low {price} is not a positive price"):
        import_bar_file(_csv(tmp_path, [row]), store, REG, now=NOW)
    assert _files(store.root) == before


@pytest.mark.parametrize(("low", "close", "ticks"), [("-40.32", "-37.63", -3763), ("0", "0", 0)])
def test_import_crude_negative_or_zero_price_accepted(
    tmp_path: Path, low: str, close: str, ticks: int
) -> None:
    """WTI settled at -37.63 on 2020-04-20: its spec allows prices at or below zero."""
    store = BarStore(tmp_path / "data")
    path = tmp_path / "cl.csv"
    path.write_text(
        HEADER + f"2020-04-20T13:29:00-05:00,1.00,10.01,{low},{close},5,CLK0\n", encoding="utf-8"
    )
    [result] = import_bar_file(path, store, REG, now=NOW)
    assert result.added == 1
    assert store.read(ContractId("CRUDE_W/202005"), "1m")["close_ticks"].to_list() == [ticks]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "2024-03-13T09:01:00+08:00,1e300,1e300,3490,3505,10,rb2405",
            r"bars.csv:2: open 1e300 is beyond the largest price accepted for rb \(40000;",
        ),
        (
            "2024-03-13T09:01:00+08:00,3500,inf,3490,3505,10,rb2405",
            r"bars.csv:2: high 'inf' is not a number",
        ),
        (
            "2024-03-13T09:01:00+08:00,3500,3510,3490,3505,1e23,rb2405",
            (
                r"bars.csv:2: volume 1e23 is above the largest volume accepted for rb"
                r" \(100000000 lots per bar"
            ),
        ),
        (
            "9999-03-13T09:01:00+08:00,3500,3510,3490,3505,10,rb2405",
            (
                r"bars.csv:2: timestamp 9999-03-13T09:01:00\+08:00 is outside the dates a bar can"
                r" have \(from 1800-01-01 to 7 days after now, 2024-06-08\)"
            ),
        ),
        (
            "1799-12-31T09:01:00+08:00,3500,3510,3490,3505,10,rb2405",
            r"bars.csv:2: timestamp 1799-12-31T09:01:00\+08:00 is outside the dates",
        ),
    ],
)
def test_import_extreme_values_one_clear_error(
    tmp_path: Path, store: BarStore, row: str, message: str
) -> None:
    before = _files(store.root)
    with pytest.raises(DataError, match=message):
        import_bar_file(_csv(tmp_path, [row]), store, REG, now=NOW)
    assert _files(store.root) == before


def test_import_revision_of_latest_trading_day_listed(tmp_path: Path, store: BarStore) -> None:
    [result] = import_bar_file(
        _csv(tmp_path, [_rb(13, 1, close=3506), _rb(13, 2)]), store, REG, now=NOW
    )
    assert (result.added, result.replaced, result.unchanged) == (1, 1, 0)
    assert result.replaced_first == (dt.datetime(2024, 3, 13, 1, 1, tzinfo=dt.UTC),)
    assert "revised bars: 2024-03-13 01:01 UTC" in result.line()
    assert store.read(RB, "1m")["close_ticks"].to_list() == [3505, 3505, 3505, 3506, 3505]


def test_import_older_bar_differs_refused_naming_line(tmp_path: Path, store: BarStore) -> None:
    before = _files(store.root)
    path = _csv(tmp_path, [_rb(12, 1), _rb(13, 0, close=3509)])  # a move, then a revision
    path.write_text(
        HEADER + f"{_rb(12, 0)}\n{_rb(12, 1, close=3499)}\n{_rb(13, 2)}\n", encoding="utf-8"
    )
    with pytest.raises(RevisionRefused) as caught:
        import_bar_file(path, store, REG, now=NOW)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: bar at 2024-03-12 01:01 UTC for rb/202405 1m differs")
    assert "close_ticks 3505 stored, 3499 new" in message
    assert "older than the latest 1 stored trading day(s)" in message
    assert message.endswith("history is not replaced without --replace")
    assert _files(store.root) == before


def test_import_older_bar_with_replace_or_wider_window_accepted(
    tmp_path: Path, store: BarStore
) -> None:
    path = _csv(tmp_path, [_rb(12, 1, close=3499)])
    [wider] = import_bar_file(path, store, REG, now=NOW, revise_days=2)
    assert wider.replaced == 1
    again = _csv(tmp_path, [_rb(12, 1, close=3498)], "again.csv")
    with pytest.raises(RevisionRefused):
        import_bar_file(again, store, REG, now=NOW)
    [forced] = import_bar_file(again, store, REG, now=NOW, replace=True)
    assert forced.replaced == 1
    assert store.read(RB, "1m")["close_ticks"][1] == 3498


def test_import_older_identical_bar_is_unchanged_not_refused(
    tmp_path: Path, store: BarStore
) -> None:
    [result] = import_bar_file(_csv(tmp_path, [_rb(12, 0), _rb(12, 1)]), store, REG, now=NOW)
    assert (result.added, result.replaced, result.unchanged) == (0, 0, 2)


def test_import_daily_bars_window_is_latest_stored_day(tmp_path: Path) -> None:
    store = BarStore(tmp_path / "data")
    rows = [f"2024-03-{d:02d}T00:00Z,5000,5010,4990,5005,100,ESM4" for d in (11, 12, 13)]
    import_bar_file(_csv(tmp_path, rows), store, REG, bar_size="1d", now=NOW)
    revised = _csv(tmp_path, ["2024-03-13T00:00Z,5000,5010,4990,5006,100,ESM4"], "r.csv")
    [ok] = import_bar_file(revised, store, REG, bar_size="1d", now=NOW)
    assert ok.replaced == 1
    older = _csv(tmp_path, ["2024-03-12T00:00Z,5000,5010,4990,5006,100,ESM4"], "o.csv")
    with pytest.raises(RevisionRefused, match=r"o.csv:2: bar at 2024-03-12 00:00 UTC"):
        import_bar_file(older, store, REG, bar_size="1d", now=NOW)


def test_import_in_small_pieces_same_bars_and_lines(tmp_path: Path) -> None:
    rows = [
        f"2024-03-{12 + i // 60:02d}T{9 + (i % 60) // 60:02d}:{i % 60:02d}:00+08:00,"
        f"3500,3510,3490,{3500 + i % 7},{i},rb2405"
        for i in range(120)
    ]
    whole = read_bar_file(_csv(tmp_path, rows), REG, now=NOW)
    small, big = BarStore(tmp_path / "small"), BarStore(tmp_path / "big")
    import_bar_file(_csv(tmp_path, rows), small, REG, now=NOW, chunk_bytes=300)
    import_bar_file(_csv(tmp_path, rows), big, REG, now=NOW)
    assert small.read(RB, "1m").equals(big.read(RB, "1m"))
    assert big.read(RB, "1m").equals(whole[RB])
    broken = [*rows[:100], rows[98], *rows[101:]]  # line 102 goes back in time
    with pytest.raises(DataError, match=r"bars.csv:102: out-of-order timestamp"):
        import_bar_file(_csv(tmp_path, broken), small, REG, now=NOW, chunk_bytes=300)
    short = [*rows[:80], "2024-03-13T09:30:00+08:00,3500,3510", *rows[81:]]
    with pytest.raises(DataError, match=r"bars.csv:82: 3 fields, expected 7"):
        import_bar_file(_csv(tmp_path, short), small, REG, now=NOW, chunk_bytes=300)
    blank = [*rows[:50], "", *rows[51:]]
    with pytest.raises(DataError, match=r"bars.csv:52: 0 fields, expected 7"):
        import_bar_file(_csv(tmp_path, blank), small, REG, now=NOW, chunk_bytes=300)


def test_import_quoted_line_break_refused_naming_line(tmp_path: Path) -> None:
    body = HEADER + _rb(12, 0) + '\n2024-03-12T09:01:00+08:00,3500,3510,3490,3505,"1\n0",rb2405\n'
    path = tmp_path / "q.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=r"q.csv:3: malformed CSV"):
        import_bar_file(path, BarStore(tmp_path / "d"), REG, now=NOW)


def test_import_parquet_refusal_names_row(tmp_path: Path) -> None:
    frame = pl.DataFrame({
        "timestamp": ["2024-03-12T09:00:00+08:00", "2024-03-12T09:01:00+08:00"],
        "open": [3500.0, 0.0], "high": [3501.0, 3501.0], "low": [3499.0, 0.0],
        "close": [3500.0, 3500.0], "volume": [1, 1],
    })  # fmt: skip
    path = tmp_path / "bars.parquet"
    frame.write_parquet(path)
    with pytest.raises(DataError, match=r"bars.parquet:row 2: open 0.0 is not a positive price"):
        import_bar_file(path, BarStore(tmp_path / "d"), REG, contract="rb/202405", now=NOW)
