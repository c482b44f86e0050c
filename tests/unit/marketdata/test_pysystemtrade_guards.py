"""A pysystemtrade import never writes a price or date `bastion data import` would refuse,
and never silently replaces stored history: prices finite, positive unless the spec allows
negative ones, within the instrument's bound; dates an exchange could have; an older
stored row replaced only with ``replace_history``; a refusal names the file and line and
writes nothing (issue 16)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bastion.errors import DataError
from bastion.marketdata.bars import RevisionRefused
from bastion.marketdata.importers.pysystemtrade import ImportSummary, import_pysystemtrade
from bastion.marketdata.revisions import RevisionRule
from bastion.marketdata.series import SeriesStore

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
HEADER = "DATETIME,PRICE_CONTRACT,FORWARD_CONTRACT,CARRY_CONTRACT,PRICE,FORWARD,CARRY\n"


def history(days: int = 49, price: float = 400.0) -> str:
    start = dt.date(2024, 1, 2)
    rows = [
        f"{start + dt.timedelta(days=i)} 23:00:00,202403,202405,202405,{price + i},{price + i + 5},"
        for i in range(days)
    ]
    return HEADER + "\n".join(rows) + "\n"


def folder(tmp_path: Path, name: str, text: str, tag: str = "a", adjusted: str = "") -> Path:
    root = tmp_path / f"psys-{tag}"
    (root / "multiple_prices_csv").mkdir(parents=True)
    (root / "multiple_prices_csv" / f"{name}.csv").write_text(text, encoding="utf-8")
    if adjusted:
        (root / "adjusted_prices_csv").mkdir()
        (root / "adjusted_prices_csv" / f"{name}.csv").write_text(adjusted, encoding="utf-8")
    return root


def run(root: Path, store: SeriesStore, rule: RevisionRule | None = None) -> ImportSummary:
    return import_pysystemtrade(root, store, rule=rule, now=NOW)


def stored_files(store: SeriesStore) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(store.root.rglob("*")) if p.is_file()}


@pytest.fixture
def store(tmp_path: Path) -> SeriesStore:
    series = SeriesStore(tmp_path / "data")
    run(folder(tmp_path, "CORN", history(), "base"), series)
    assert series.read("CORN", "multiple").height == 49
    return series


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2024-02-20 23:00:00,202403,202405,202405,-5,,", r"CORN.csv:3: PRICE -5 is not a"),
        ("2024-02-20 23:00:00,202403,202405,202405,0,,", r"CORN.csv:3: PRICE 0 is not a positive"),
        ("2024-02-20 23:00:00,202403,202405,202405,400,,inf", r"CORN.csv:3: CARRY 'inf' is not a"),
        ("2024-02-20 23:00:00,202403,202405,202405,400,-inf,", r"CORN.csv:3: FORWARD '-inf' is"),
        ("2024-02-20 23:00:00,202403,202405,202405,1e300,,", r"CORN.csv:3: PRICE 1e300 is beyond"),
        ("9999-09-28 00:00:00,202403,202405,202405,400,,", r"CORN.csv:3: timestamp 9999-09-28"),
        ("1700-01-02 00:00:00,202403,202405,202405,400,,", r"CORN.csv:2: timestamp 1700-01-02"),
    ],
)
def test_pysystemtrade_bad_value_refused_naming_line_store_unchanged(
    tmp_path: Path, store: SeriesStore, row: str, message: str
) -> None:
    first = "2024-02-19 23:00:00,202403,202405,202405,401,,\n"
    text = HEADER + (row + "\n" + first if row.startswith("1700") else first + row + "\n")
    before = stored_files(store)
    with pytest.raises(DataError, match=message):
        run(folder(tmp_path, "CORN", text, "bad"), store)
    assert stored_files(store) == before


def test_pysystemtrade_issue_reproduction_refused_history_kept(
    tmp_path: Path, store: SeriesStore
) -> None:
    text = HEADER + (
        "2024-02-20 23:00:00,202403,202405,202405,-5,,\n"
        "9999-09-28 00:00:00,202403,202405,202405,400,,inf\n"
    )
    with pytest.raises(DataError, match=r"CORN.csv:\d"):
        run(folder(tmp_path, "CORN", text, "bad"), store)
    assert store.read("CORN", "multiple").height == 49


def test_pysystemtrade_negative_price_allowed_by_spec_imported(tmp_path: Path) -> None:
    series = SeriesStore(tmp_path / "data")
    text = HEADER + "2020-04-20 23:00:00,202005,202006,202006,-37.63,10.01,\n"
    run(folder(tmp_path, "CRUDE_W", text), series)
    assert series.read("CRUDE_W", "multiple")["price"].to_list() == [-37.63]


def test_pysystemtrade_instrument_without_spec_negative_refused(tmp_path: Path) -> None:
    text = HEADER + "2020-04-20 23:00:00,202005,202006,202006,-1,,\n"
    with pytest.raises(DataError, match=r"XX.csv:2: PRICE -1 is not a positive price"):
        run(folder(tmp_path, "XX", text), SeriesStore(tmp_path / "data"))


def test_pysystemtrade_adjusted_may_be_negative_but_finite(tmp_path: Path) -> None:
    text = HEADER + "2020-04-20 23:00:00,202005,202006,202006,400,,\n"
    good = "DATETIME,ADJ\n2020-04-20 23:00:00,-120.5\n"
    series = SeriesStore(tmp_path / "data")
    run(folder(tmp_path, "CORN", text, "ok", adjusted=good), series)
    assert series.read("CORN", "adjusted_reference")["adj"].to_list() == [-120.5]
    bad = "DATETIME,ADJ\n2020-04-20 23:00:00,nan\n"
    with pytest.raises(DataError, match=r"adjusted_prices_csv/CORN.csv:2: ADJ 'nan'"):
        run(folder(tmp_path, "CORN", text, "bad", adjusted=bad), series)


def test_pysystemtrade_older_row_differs_refused_naming_line(
    tmp_path: Path, store: SeriesStore
) -> None:
    text = HEADER + "2024-01-10 23:00:00,202403,202405,202405,999,,\n"
    before = stored_files(store)
    with pytest.raises(RevisionRefused, match=r"CORN.csv:2: CORN at 2024-01-10 23:00 UTC differs"):
        run(folder(tmp_path, "CORN", text, "old"), store)
    assert stored_files(store) == before


def test_pysystemtrade_older_row_with_replace_accepted(tmp_path: Path, store: SeriesStore) -> None:
    text = HEADER + "2024-01-10 23:00:00,202403,202405,202405,999,,\n"
    run(folder(tmp_path, "CORN", text, "old"), store, RevisionRule(replace_history=True))
    multiple = store.read("CORN", "multiple")
    assert multiple.height == 49
    assert multiple["price"][8] == 999.0


def test_pysystemtrade_latest_day_revised_and_listed_short_file_keeps_history(
    tmp_path: Path, store: SeriesStore
) -> None:
    text = HEADER + (
        "2024-02-19 23:00:00,202403,202405,202405,500,,\n"
        "2024-02-20 23:00:00,202403,202405,202405,501,,\n"
    )
    summary = run(folder(tmp_path, "CORN", text, "new"), store)
    merge = summary.merges["CORN"]
    assert (merge.added, merge.revised, merge.unchanged) == (1, 1, 0)
    assert "1 added, 1 revised, 0 unchanged (revised: 2024-02-19 23:00 UTC)" in merge.line("CORN")
    multiple = store.read("CORN", "multiple")
    assert multiple.height == 50
    assert multiple["price"].to_list()[-3:] == [447.0, 500.0, 501.0]


def test_pysystemtrade_same_folder_twice_changes_nothing(
    tmp_path: Path, store: SeriesStore
) -> None:
    before = store.read("CORN", "multiple")
    summary = run(folder(tmp_path, "CORN", history(), "again"), store)
    merge = summary.merges["CORN"]
    assert (merge.added, merge.revised, merge.unchanged) == (0, 0, 49)
    assert store.read("CORN", "multiple").equals(before)
