"""Which stored bars an import may replace (issue 16): revisions, never silent rewrites.

A vendor revises its latest bars (the last minute of a day, a settlement price), so an
import may replace a stored bar whose trading day is among the latest ``days`` trading
days that have stored bars (default 1); each replaced bar is listed in the import's
summary. Replacing an older bar with different values is refused, naming the file and
line, unless the operator says ``--replace`` (``replace_history``). An identical bar is
never a replacement, so importing the same data twice changes nothing.

The trading day of a bar comes from the instrument's calendar; daily bars carry theirs
as ``ts`` (00:00 UTC). Outside the calendar's coverage (or without one) the exchange's
local calendar date stands in for it. The search looks back at most ``4 * days + 10``
calendar days from the last stored bar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl

from bastion.marketdata.calendars import CalendarCoverageError, SessionCalendar

__all__ = ["RevisionRule", "revisable_from"]


@dataclass(frozen=True, slots=True)
class RevisionRule:
    days: int = 1
    """Stored bars of the latest ``days`` trading days may be replaced (0: none)."""
    replace_history: bool = False
    """Older bars may be replaced too (``--replace``)."""
    calendar: Callable[[], SessionCalendar | None] | None = None
    """The instrument's calendar, asked for only when a stored bar would change."""
    timezone: str = "UTC"
    """The exchange's timezone: its local date stands in where the calendar cannot tell."""


def _day_start(rule: RevisionRule, bar_size: str, ts: dt.datetime) -> tuple[dt.date, dt.datetime]:
    """The trading day of a bar at ``ts`` and the earliest time that belongs to that day."""
    if bar_size == "1d":
        day = ts.date()
        return day, dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    calendar = rule.calendar() if rule.calendar is not None else None
    if calendar is not None:
        try:
            day = calendar.trading_day_of(ts)
            return day, calendar.close(calendar.previous_trading_day(day))
        except CalendarCoverageError:
            pass
    zone = ZoneInfo(rule.timezone)
    local = ts.astimezone(zone).date()
    return local, dt.datetime.combine(local, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def revisable_from(stored: pl.LazyFrame, bar_size: str, rule: RevisionRule) -> dt.datetime | None:
    """The earliest stored ``ts`` an import may replace without ``replace_history``.

    ``None`` when no stored bar may be replaced (``days`` is 0 or nothing is stored).
    """
    if rule.days <= 0:
        return None
    last = stored.select(pl.col("ts").max()).collect().item()
    if last is None:
        return None
    horizon = last - dt.timedelta(days=4 * rule.days + 10)
    ts = stored.select("ts").filter(pl.col("ts") >= horizon).collect()["ts"].sort()
    cutoff: dt.datetime | None = None
    index = ts.len() - 1
    for _ in range(rule.days):
        if index < 0:
            break
        _, cutoff = _day_start(rule, bar_size, ts[index])
        index = ts.search_sorted(cutoff, side="left") - 1  # the last bar of an earlier day
    return cutoff
