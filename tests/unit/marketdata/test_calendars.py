"""Calendars put every timestamp on the right trading day (night sessions on the next
one, Friday night on Monday, no night session before a Chinese holiday), know a CME
holiday, never call today complete, and fail closed past the China file's coverage."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bastion.errors import DataError
from bastion.marketdata.calendars import CalendarCoverageError, ChinaDays, calendar_for
from bastion.marketdata.specs import SpecRegistry

SH = ZoneInfo("Asia/Shanghai")
CHI = ZoneInfo("America/Chicago")
REG = SpecRegistry.bundled()


def sh(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)  # type: ignore[misc]


def chi(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHI)  # type: ignore[misc]


def test_china_night_after_midnight_belongs_to_next_trading_day() -> None:
    au = calendar_for(REG["au"])  # night session 21:00-02:30
    # Tuesday 2024-03-12 21:00 to Wednesday 02:30 belongs to Wednesday 2024-03-13.
    assert au.trading_day_of(sh(2024, 3, 12, 23, 59)) == dt.date(2024, 3, 13)
    assert au.trading_day_of(sh(2024, 3, 13, 1, 30)) == dt.date(2024, 3, 13)
    assert au.is_open(sh(2024, 3, 13, 2, 29))
    assert not au.is_open(sh(2024, 3, 13, 2, 30))
    assert au.trading_day_of(sh(2024, 3, 13, 10, 0)) == dt.date(2024, 3, 13)


def test_china_friday_night_belongs_to_monday() -> None:
    au = calendar_for(REG["au"])
    assert au.trading_day_of(sh(2024, 3, 15, 21, 5)) == dt.date(2024, 3, 18)
    assert au.trading_day_of(sh(2024, 3, 16, 2, 0)) == dt.date(2024, 3, 18)
    assert au.is_open(sh(2024, 3, 16, 2, 0))
    assert not au.is_open(sh(2024, 3, 16, 21, 5))  # Saturday evening: closed


def test_china_night_window_ending_2300_closed_after_2300() -> None:
    rb = calendar_for(REG["rb"])
    assert rb.is_open(sh(2024, 3, 12, 22, 59))
    assert not rb.is_open(sh(2024, 3, 12, 23, 30))
    assert rb.trading_day_of(sh(2024, 3, 12, 23, 30)) == dt.date(2024, 3, 13)


def test_china_holiday_week_no_trading_and_no_night_before_it() -> None:
    rb = calendar_for(REG["rb"])
    # National Day 2024: closed 1-7 October; no night session on Monday 30 September.
    assert rb.trading_days(dt.date(2024, 9, 28), dt.date(2024, 10, 9)) == [
        dt.date(2024, 9, 30), dt.date(2024, 10, 8), dt.date(2024, 10, 9),
    ]  # fmt: skip
    assert not rb.is_open(sh(2024, 9, 30, 21, 30))
    assert rb.trading_day_of(sh(2024, 9, 30, 21, 30)) == dt.date(2024, 10, 8)
    assert rb.windows(dt.date(2024, 10, 8))[0][0] == sh(2024, 10, 8, 9, 0)
    # ...and the night session is back on the evening of the 8th.
    assert rb.is_open(sh(2024, 10, 8, 21, 30))
    assert not rb.is_open(sh(2024, 10, 3, 10, 0))


def test_china_extra_closure_spring_festival_eve_2024_closed() -> None:
    rb = calendar_for(REG["rb"])
    assert not rb.is_trading_day(dt.date(2024, 2, 9))
    assert rb.next_trading_day(dt.date(2024, 2, 8)) == dt.date(2024, 2, 19)


def test_china_latest_completed_trading_day_never_today() -> None:
    rb = calendar_for(REG["rb"])
    assert rb.latest_completed_trading_day(sh(2024, 3, 13, 14, 59)) == dt.date(2024, 3, 12)
    assert rb.latest_completed_trading_day(sh(2024, 3, 13, 15, 0)) == dt.date(2024, 3, 13)
    assert rb.latest_completed_trading_day(sh(2024, 10, 5, 12, 0)) == dt.date(2024, 9, 30)


def test_china_coverage_limit_fails_closed() -> None:
    rb = calendar_for(REG["rb"])
    assert rb.is_trading_day(dt.date(2026, 12, 31))
    with pytest.raises(CalendarCoverageError, match="covers 2004-01-01 to 2026-12-31"):
        rb.trading_day_of(sh(2026, 12, 31, 21, 30))
    with pytest.raises(
        CalendarCoverageError, match=r"no China futures calendar for 2027.*calendar import"
    ):
        rb.is_trading_day(dt.date(2027, 1, 4))


def test_china_days_malformed_file_raises() -> None:
    with pytest.raises(DataError, match="malformed China calendar"):
        ChinaDays("version: 1\ncovered_from: nope\n", "x.yaml")


def test_china_days_no_night_range_suppresses_night() -> None:
    text = (
        "version: 9\ncovered_from: '2024-01-01'\ncovered_until: '2024-12-31'\n"
        "no_night_sessions: [['2024-03-12', '2024-03-12']]\nclosed: {2024: []}\n"
    )
    rb = calendar_for(REG["rb"], ChinaDays(text))
    assert not rb.is_open(sh(2024, 3, 12, 21, 30))
    assert rb.is_open(sh(2024, 3, 13, 21, 30))


def test_cme_christmas_is_not_a_trading_day() -> None:
    es = calendar_for(REG["SP500"])
    assert not es.is_trading_day(dt.date(2024, 12, 25))
    assert not es.is_open(chi(2024, 12, 25, 10, 0))
    assert es.next_trading_day(dt.date(2024, 12, 24)) == dt.date(2024, 12, 26)


def test_cme_evening_belongs_to_next_session_and_friday_to_monday() -> None:
    es = calendar_for(REG["SP500"])
    assert es.trading_day_of(chi(2024, 3, 12, 18, 0)) == dt.date(2024, 3, 13)
    assert es.is_open(chi(2024, 3, 12, 18, 0))
    assert not es.is_open(chi(2024, 3, 12, 16, 30))  # daily maintenance break
    assert es.trading_day_of(chi(2024, 3, 15, 16, 30)) == dt.date(2024, 3, 18)
    assert not es.is_open(chi(2024, 3, 16, 12, 0))
    assert es.is_open(chi(2024, 3, 17, 17, 0))  # Sunday evening opens Monday's session


def test_cme_latest_completed_trading_day_over_holiday() -> None:
    es = calendar_for(REG["SP500"])
    assert es.latest_completed_trading_day(chi(2024, 12, 25, 12, 0)) == dt.date(2024, 12, 24)
    assert es.latest_completed_trading_day(chi(2024, 12, 26, 15, 59)) == dt.date(2024, 12, 24)


def test_calendar_naive_timestamp_refused() -> None:
    es = calendar_for(REG["SP500"])
    with pytest.raises(ValueError, match="no timezone"):
        es.trading_day_of(dt.datetime(2024, 3, 12, 12, 0))  # noqa: DTZ001 - the point of the test


def test_western_calendar_out_of_range_fails_closed() -> None:
    es = calendar_for(REG["SP500"])
    with pytest.raises(CalendarCoverageError, match="exchange calendar CMES covers"):
        es.is_trading_day(dt.date(1990, 1, 2))
