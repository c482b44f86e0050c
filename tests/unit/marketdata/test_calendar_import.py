"""Invariant (R2.2, issue 15): an operator can add next year's China calendar from a
file; it is validated (make-up weekend working days stay exchange holidays, no weekday
is guessed, the source is recorded, no gap), stored with its source, and read after the
bundled file; until a year is present Chinese instruments fail closed with one line
naming the year and the command."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bastion.errors import DataError
from bastion.marketdata.calendar_import import import_year, imported_years, parse_year
from bastion.marketdata.calendars import (
    CalendarCoverageError,
    calendar_for,
    china_days,
    use_operator_calendars,
)
from bastion.marketdata.specs import SpecRegistry

NOW = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
END = dt.date(2026, 12, 31)
YEAR = """\
calendar: CN_FUTURES
year: 2027
source: State Council notice (test), checked against the SHFE notice
closed:
  - 2027-01-01 New Year's Day
  - 2027-02-08 Spring Festival
  - 2027-02-09 Spring Festival
makeup_workdays:
  - 2027-02-20
"""


@pytest.fixture(autouse=True)
def _bundled_only() -> object:
    use_operator_calendars(None)
    yield
    use_operator_calendars(None)


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "china-2027.yaml"
    path.write_text(text)
    return path


def test_calendar_import_year_then_china_trades_in_it(tmp_path: Path) -> None:
    rb = SpecRegistry.bundled()["rb"]
    with pytest.raises(CalendarCoverageError) as missing:
        calendar_for(rb).is_trading_day(dt.date(2027, 1, 4))
    assert "no China futures calendar for 2027" in str(missing.value)
    assert "'bastion data calendar import FILE'" in str(missing.value)
    stored, target = import_year(_file(tmp_path, YEAR), tmp_path / "data", END, now=NOW)
    assert target == tmp_path / "data" / "calendars" / "CN_FUTURES" / "2027.yaml"
    assert stored.source.startswith("State Council notice")
    assert len(stored.sha256) == 64
    use_operator_calendars(tmp_path / "data")
    cal = calendar_for(rb)
    assert china_days().covered_until == dt.date(2027, 12, 31)
    assert cal.is_trading_day(dt.date(2027, 1, 4))
    assert not cal.is_trading_day(dt.date(2027, 2, 8))
    assert not cal.is_trading_day(dt.date(2027, 2, 20))  # a make-up Saturday: closed
    assert cal.is_trading_day(dt.date(2027, 2, 10))  # not listed: trades
    # The night before a holiday is not held: 5 Feb (Fri) evening belongs to 10 Feb.
    assert len(cal.windows(dt.date(2027, 2, 10))) == 3
    assert imported_years(tmp_path / "data")[0].file == "china-2027.yaml"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("calendar: CN_FUTURES", "calendar: CMES"), "expected CN_FUTURES"),
        (("source: State", "source: ''\n# State"), "source is missing"),
        (
            ("  - 2027-02-09 Spring Festival\n", "  - 2027-02-13 Spring Festival\n"),
            "closed 2027-02-13 is a Saturday",
        ),
        (("  - 2027-02-20\n", "  - 2027-02-22\n"), "makeup_workdays 2027-02-22 is a Monday"),
        (("makeup_workdays:\n  - 2027-02-20\n", ""), "makeup_workdays is missing"),
        (
            ("  - 2027-01-01 New Year's Day", "  - 2028-01-03 New Year's Day"),
            "closed 2028-01-03 is not in 2027",
        ),
        (
            ("  - 2027-02-09 Spring Festival", "  - 2027-02-08 Spring Festival"),
            "closed 2027-02-08 is listed twice",
        ),
        (("  - 2027-02-08", "  - 2027-02-30"), "is not a date"),
    ],
)
def test_calendar_import_bad_file_one_line_nothing_written(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    with pytest.raises(DataError) as refused:
        import_year(_file(tmp_path, YEAR.replace(*change)), tmp_path / "data", END, now=NOW)
    assert expected in str(refused.value)
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "data").exists()


YEAR_2028 = """\
calendar: CN_FUTURES
year: 2028
source: a test notice
closed: [2028-01-03 New Year's Day]
makeup_workdays: []
"""


def test_calendar_import_gap_or_bundled_year_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"import 2027 before 2028 \(no gaps\)"):
        import_year(_file(tmp_path, YEAR_2028), tmp_path / "data", END, now=NOW)
    bundled = YEAR_2028.replace("2028", "2026").replace("2026-01-03", "2026-01-05")
    with pytest.raises(DataError, match="2026 is already in the calendar"):
        import_year(_file(tmp_path, bundled), tmp_path / "data", END, now=NOW)
    assert not (tmp_path / "data").exists()


def test_calendar_import_twice_needs_replace(tmp_path: Path) -> None:
    import_year(_file(tmp_path, YEAR), tmp_path / "data", END, now=NOW)
    with pytest.raises(DataError, match="already imported"):
        import_year(_file(tmp_path, YEAR), tmp_path / "data", dt.date(2027, 12, 31), now=NOW)
    import_year(
        _file(tmp_path, YEAR), tmp_path / "data", dt.date(2027, 12, 31), now=NOW, replace=True
    )


def test_calendar_imported_gap_ends_coverage() -> None:
    bundled = china_days()
    later = parse_year(YEAR_2028, "x")
    from bastion.marketdata.calendars import ChinaDays

    days = ChinaDays(
        (Path(__file__).parents[3] / "bastion/marketdata/data/china_calendar.yaml").read_text(),
        "bundled",
        [later],
    )
    assert days.covered_until == bundled.covered_until  # 2028 without 2027 is not used
