"""Invariant: `check_bars` is honest about a calendar's coverage (issue 16). Bars before
the calendar's range are history, reported as unchecked (a warning); bars after it, or a
`now` it cannot place, are an error for that series (the calendar needs extending); bars
that start after `now` are an error; a series none of whose bars could be judged is
UNCHECKED, never usable; whatever the calendar covers is still checked in full. Nothing
raises: each series gets a verdict."""

from __future__ import annotations

import datetime as dt

import polars as pl

from bastion.domain.ids import ContractId
from bastion.marketdata.calendars import ChinaDays, calendar_for
from bastion.marketdata.checks import check_bars
from bastion.marketdata.specs import SpecRegistry

REG = SpecRegistry.bundled()
DAYS = ChinaDays(
    "version: 9\ncovered_from: '2024-01-01'\ncovered_until: '2024-06-30'\nclosed: {2024: []}\n"
)
RB = calendar_for(REG["rb"], DAYS)
CID = ContractId("rb/202409")


def _daily(*days: dt.date) -> pl.DataFrame:
    ts = [dt.datetime.combine(d, dt.time(), tzinfo=dt.UTC) for d in days]
    n = len(ts)
    return pl.DataFrame({
        "ts": ts, "open_ticks": [3500] * n, "high_ticks": [3510] * n, "low_ticks": [3490] * n,
        "close_ticks": [3505] * n, "volume": [1] * n, "open_interest": [None] * n,
    }, schema_overrides={"open_interest": pl.Int64})  # fmt: skip


def _weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    return [
        start + dt.timedelta(days=i)
        for i in range((end - start).days + 1)
        if (start + dt.timedelta(days=i)).weekday() < 5
    ]


def test_check_history_before_coverage_warning_rest_checked() -> None:
    days = _weekdays(dt.date(2023, 12, 20), dt.date(2024, 3, 14))
    report = check_bars(CID, "1d", _daily(*days), RB, dt.datetime(2024, 3, 15, 3, tzinfo=dt.UTC))
    [issue] = report.issues
    assert (issue.check, issue.severity) == ("unchecked", "warning")
    assert "bar(s) from 2023-12-20 to 2023-12-29 lie before" in issue.detail
    assert report.usable
    assert report.verdict == "usable"


def test_check_all_bars_before_coverage_unchecked_not_usable() -> None:
    report = check_bars(
        CID, "1d", _daily(dt.date(2023, 5, 2)), RB, dt.datetime(2024, 3, 15, tzinfo=dt.UTC)
    )
    assert not report.failed
    assert report.unchecked
    assert not report.usable
    assert report.verdict == "UNCHECKED"


def test_check_bars_after_coverage_error_for_the_series() -> None:
    days = _weekdays(dt.date(2024, 6, 3), dt.date(2024, 7, 5))
    report = check_bars(CID, "1d", _daily(*days), RB, dt.datetime(2024, 7, 6, tzinfo=dt.UTC))
    checks = {(i.check, i.severity) for i in report.issues}
    assert ("unchecked", "error") in checks
    assert report.failed
    assert report.verdict == "UNUSABLE"


def test_check_now_outside_coverage_error_not_raised() -> None:
    days = _weekdays(dt.date(2024, 5, 6), dt.date(2024, 5, 31))
    report = check_bars(CID, "1d", _daily(*days), RB, dt.datetime(2024, 9, 2, tzinfo=dt.UTC))
    [issue] = [i for i in report.issues if i.check == "unchecked"]
    assert issue.severity == "error"
    assert issue.detail.startswith("cannot be judged as of 2024-09-02 00:00 UTC")


def test_check_bar_after_now_error() -> None:
    days = [*_weekdays(dt.date(2024, 3, 4), dt.date(2024, 3, 14)), dt.date(2024, 3, 28)]
    report = check_bars(CID, "1d", _daily(*days), RB, dt.datetime(2024, 3, 15, 3, tzinfo=dt.UTC))
    [issue] = report.issues
    assert (issue.check, issue.severity) == ("future", "error")
    assert "1 bar(s) start after 2024-03-15 03:00 UTC: 2024-03-28" in issue.detail
