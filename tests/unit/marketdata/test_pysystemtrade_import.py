"""The pysystemtrade importer reads the four file kinds, refuses malformed files with
file and line, and writes nothing when any file is bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.errors import DataError
from bastion.marketdata.importers.pysystemtrade import import_pysystemtrade
from bastion.marketdata.series import SeriesStore

MULTI = "DATETIME,PRICE_CONTRACT,FORWARD_CONTRACT,CARRY_CONTRACT,PRICE,FORWARD,CARRY\n"
ROWS = (
    "2020-01-02 00:00:00,202003,202006,202006,100.0,101.5,\n"
    "2020-01-02 00:00:00,202003,202006,202006,100.0,,\n"
    "2020-01-03 23:00:00,202006,202009,202009,102.0,,\n"
)


def make_folder(tmp_path: Path, multi: str = MULTI + ROWS, roll: str | None = None) -> Path:
    root = tmp_path / "psys"
    for sub in ("multiple_prices_csv", "adjusted_prices_csv", "roll_calendars_csv", "csvconfig"):
        (root / sub).mkdir(parents=True)
    (root / "multiple_prices_csv" / "XX.csv").write_text(multi, encoding="utf-8")
    (root / "adjusted_prices_csv" / "XX.csv").write_text(
        "DATETIME,ADJ\n2020-01-02 00:00:00,101.5\n2020-01-02 00:00:00,101.5\n"
        "2020-01-03 23:00:00,102.0\n",
        encoding="utf-8",
    )
    (root / "roll_calendars_csv" / "XX.csv").write_text(
        "DATE_TIME,current_contract,next_contract,carry_contract\n"
        "2020-01-03 00:00:00,20200300,20200600,20200600\n",
        encoding="utf-8",
    )
    (root / "csvconfig" / "rollconfig.csv").write_text(
        roll
        or "Instrument,HoldRollCycle,RollOffsetDays,CarryOffset,PricedRollCycle,ExpiryOffset\n"
        "XX,HMUZ,-5,1,HMUZ,14\n",
        encoding="utf-8",
    )
    return root


def test_import_pysystemtrade_reads_all_kinds(tmp_path: Path) -> None:
    store = SeriesStore(tmp_path / "data")
    summary = import_pysystemtrade(make_folder(tmp_path), store)
    assert summary.instruments == ["XX"]
    assert summary.rows == {"XX": 3}
    multiple = store.read("XX", "multiple")
    assert multiple["forward"].to_list() == [101.5, None, None]
    assert store.read("XX", "roll_calendar_reference")["next"].to_list() == ["202006"]
    assert store.read_config("rollconfig")["XX"]["HoldRollCycle"] == "HMUZ"


@pytest.mark.parametrize(
    ("multi", "message"),
    [
        ("DATETIME,PRICE,FORWARD\n2020-01-02 00:00:00,1,2\n", r"XX.csv: wrong columns, missing"),
        (
            MULTI + ROWS + "2020-01-01 00:00:00,202006,202009,202009,1,,\n",
            r"XX.csv:5: earlier timestamp",
        ),
        (MULTI + "2020/01/02,202003,202006,202006,1,,\n", r"XX.csv:2: DATETIME '2020/01/02'"),
        (
            MULTI + "2020-01-02 00:00:00,202013,202006,202006,1,,\n",
            r"XX.csv:2: PRICE_CONTRACT '202013'",
        ),
        (
            MULTI + "2020-01-02 00:00:00,202003,202006,202006,abc,,\n",
            r"XX.csv:2: PRICE 'abc' is not a number",
        ),
        (MULTI, r"XX.csv: no rows"),
    ],
)
def test_import_pysystemtrade_bad_multiple_prices_writes_nothing(
    tmp_path: Path, multi: str, message: str
) -> None:
    store = SeriesStore(tmp_path / "data")
    with pytest.raises(DataError, match=message):
        import_pysystemtrade(make_folder(tmp_path, multi), store)
    assert not (tmp_path / "data").exists()


def test_import_pysystemtrade_bad_roll_config_writes_nothing(tmp_path: Path) -> None:
    bad = "Instrument,HoldRollCycle,RollOffsetDays,ExpiryOffset\nXX,HMUZ,soon,14\n"
    with pytest.raises(DataError, match=r"rollconfig.csv:2: XX RollOffsetDays 'soon'"):
        import_pysystemtrade(make_folder(tmp_path, roll=bad), SeriesStore(tmp_path / "data"))
    assert not (tmp_path / "data").exists()


def test_import_pysystemtrade_not_a_folder_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a pysystemtrade data folder"):
        import_pysystemtrade(tmp_path, SeriesStore(tmp_path / "data"))
