"""Trading calendars and sessions (R2.2).

One class, ``SessionCalendar``, answers every question for every exchange; what differs
is where the trading days come from and where an evening session is anchored:

* **China** (SHFE, DCE, CZCE, CFFEX, INE, GFEX): trading days come from the versioned
  file ``data/china_calendar.yaml`` (weekdays minus listed closures), followed by the
  years the operator imported (``bastion data calendar import``,
  ``bastion.marketdata.calendar_import``) into the data directory named by
  ``use_operator_calendars``. An evening
  window (``21:00-23:00``, ``21:00-02:30``) belongs to the *next* trading day and is
  held on the evening of the *previous trading day* (Friday night -> Monday), unless a
  holiday lies in between (no night session before a holiday). A day outside the
  file's coverage raises ``CalendarCoverageError``: nothing is guessed.
* **Western** exchanges: trading days come from exchange_calendars (``CMES``,
  ``IEPA``, ``XEUR``); an evening window (``17:00-16:00`` on CME Globex) starts on
  the previous *calendar* day. The day's windows are clipped to the library's session
  close so early closes count. Out-of-range days also raise ``CalendarCoverageError``.

Every window is computed in exchange local time and returned as UTC. ``coverage`` is
the first and last day a calendar knows; bars outside it are imported and reported as
unchecked by ``bastion data check`` (see ``checks``), never judged by a guess.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import yaml

from bastion.domain.contracts import SessionWindow
from bastion.errors import DataError
from bastion.marketdata.specs import MarketSpec

if TYPE_CHECKING:
    from bastion.marketdata.calendar_import import ImportedYear

__all__ = [
    "CHINA_CALENDAR",
    "CalendarCoverageError",
    "ChinaDays",
    "SessionCalendar",
    "calendar_for",
    "china_days",
    "trading_days_per_year",
    "use_operator_calendars",
]

CHINA_CALENDAR = "CN_FUTURES"
_ONE_DAY = dt.timedelta(days=1)
Window = tuple[dt.datetime, dt.datetime]


class CalendarCoverageError(DataError):
    """A date outside what a calendar knows; the caller must not guess."""


class ChinaDays:
    """Trading days of the Chinese futures exchanges, from the versioned file and the
    years imported after it (each must follow the last covered year: a gap ends the
    coverage, and the years after it are not used)."""

    def __init__(
        self,
        text: str,
        source: str = "china_calendar.yaml",
        years: Sequence[ImportedYear] = (),
    ) -> None:
        try:
            doc = yaml.safe_load(text)
            self.version = int(doc["version"])
            self.covered_from = dt.date.fromisoformat(str(doc["covered_from"]))
            self.covered_until = dt.date.fromisoformat(str(doc["covered_until"]))
            closed = [e for year in doc["closed"].values() for e in year]
            closed += list(doc.get("extra_closed") or [])
            self._closed = frozenset(dt.date.fromisoformat(str(e).split()[0]) for e in closed)
            self._no_night = [
                (dt.date.fromisoformat(a), dt.date.fromisoformat(b))
                for a, b in doc.get("no_night_sessions") or []
            ]
        except (KeyError, TypeError, ValueError, AttributeError, yaml.YAMLError) as exc:
            raise DataError(f"{source}: malformed China calendar file ({exc})") from exc
        self.source = source
        self.imported: list[ImportedYear] = []
        closed_more: set[dt.date] = set()
        for year in sorted(years, key=lambda y: y.year):
            if year.year != self.covered_until.year + 1:
                break
            self.covered_until = dt.date(year.year, 12, 31)
            closed_more.update(d for d, _ in year.closed)
            self._no_night += list(year.no_night_sessions)
            self.imported.append(year)
        if closed_more:
            self._closed = self._closed | closed_more

    def check(self, day: dt.date) -> None:
        if not self.covered_from <= day <= self.covered_until:
            raise CalendarCoverageError(
                f"no China futures calendar for {day.year} (it covers {self.covered_from} to"
                f" {self.covered_until}): import {day.year}'s exchange holidays with"
                " 'bastion data calendar import FILE' (docs/marketdata.md)"
            )

    def is_trading_day(self, day: dt.date) -> bool:
        self.check(day)
        return day.weekday() < 5 and day not in self._closed

    def night_allowed(self, evening: dt.date) -> bool:
        return not any(a <= evening <= b for a, b in self._no_night)


_OPERATOR_DIR: list[Path] = []
"""The data directory whose imported calendar years are in use (at most one)."""


def use_operator_calendars(data_dir: Path | str | None) -> None:
    """Read the calendar years imported into ``data_dir`` (``bastion data calendar
    import``) after the bundled file, from the next calendar built on. Every command
    that loads a profile calls this with the profile's ``data.dir``."""
    wanted = [Path(data_dir)] if data_dir is not None else []
    if wanted != _OPERATOR_DIR:
        _OPERATOR_DIR[:] = wanted
        china_days.cache_clear()


@functools.cache
def china_days() -> ChinaDays:
    from bastion.marketdata.calendar_import import imported_years

    path = resources.files("bastion.marketdata") / "data" / "china_calendar.yaml"
    years = imported_years(_OPERATOR_DIR[0]) if _OPERATOR_DIR else []
    return ChinaDays(
        path.read_text(encoding="utf-8"), "bastion/marketdata/data/china_calendar.yaml", years
    )


def _is_evening(window: SessionWindow) -> bool:
    return window.crosses_midnight or window.start.hour >= 18


class SessionCalendar:
    """Trading days and session windows of one instrument."""

    def __init__(
        self,
        name: str,
        timezone: str,
        sessions: tuple[SessionWindow, ...],
        is_trading_day: Callable[[dt.date], bool],
        *,
        evening_on_previous_trading_day: bool,
        night_allowed: Callable[[dt.date], bool] = lambda _day: True,
        close_of: Callable[[dt.date], dt.datetime | None] = lambda _day: None,
        coverage: tuple[dt.date, dt.date] | None = None,
    ) -> None:
        if not sessions:
            raise DataError(f"calendar {name}: the instrument has no trading sessions")
        self.name = name
        self.coverage = coverage
        """The first and last day the calendar knows (``None``: no limit)."""
        self.tz = ZoneInfo(timezone)
        self.sessions = sessions
        self._is_trading_day = is_trading_day
        self._china_evening = evening_on_previous_trading_day
        self._night_allowed = night_allowed
        self._close_of = close_of
        self.windows = functools.lru_cache(maxsize=4096)(self._windows)

    # ------------------------------------------------------------------ days
    def is_trading_day(self, day: dt.date) -> bool:
        return self._is_trading_day(day)

    def next_trading_day(self, day: dt.date) -> dt.date:
        """The first trading day strictly after ``day``."""
        day += _ONE_DAY
        while not self._is_trading_day(day):
            day += _ONE_DAY
        return day

    def previous_trading_day(self, day: dt.date) -> dt.date:
        """The last trading day strictly before ``day``."""
        day -= _ONE_DAY
        while not self._is_trading_day(day):
            day -= _ONE_DAY
        return day

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Trading days in ``[start, end]``."""
        days, day = [], start
        while day <= end:
            if self._is_trading_day(day):
                days.append(day)
            day += _ONE_DAY
        return days

    # -------------------------------------------------------------- sessions
    def _local(self, day: dt.date, time: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, time, tzinfo=self.tz).astimezone(dt.UTC)

    def _windows(self, day: dt.date) -> tuple[Window, ...]:
        """The UTC windows of trading day ``day`` in time order (empty if not trading)."""
        if not self._is_trading_day(day):
            return ()
        result: list[Window] = []
        for window in self.sessions:
            if _is_evening(window):
                if self._china_evening:
                    evening = self.previous_trading_day(day)
                    held = self._night_allowed(evening) and all(
                        d.weekday() >= 5 for d in _between(evening, day)
                    )
                    if not held:
                        continue
                else:
                    evening = day - _ONE_DAY
                end_day = evening + _ONE_DAY if window.crosses_midnight else evening
                result.append(
                    (self._local(evening, window.start), self._local(end_day, window.end))
                )
            else:
                result.append((self._local(day, window.start), self._local(day, window.end)))
        result.sort()
        close = self._close_of(day)
        if close is not None:
            result = [(a, min(b, close)) for a, b in result if a < close]
        return tuple(result)

    def close(self, day: dt.date) -> dt.datetime:
        """End of the last window of trading day ``day``."""
        windows = self.windows(day)
        if not windows:
            raise DataError(f"calendar {self.name}: {day} is not a trading day")
        return windows[-1][1]

    def trading_day_of(self, ts: dt.datetime) -> dt.date:
        """The trading day ``ts`` belongs to: the first whose close is after ``ts``.

        A night-session timestamp belongs to the next trading day (Friday night to
        Monday); a timestamp between sessions belongs to the trading day that follows.
        """
        _require_aware(ts)
        day = ts.astimezone(self.tz).date() - _ONE_DAY
        if not self._is_trading_day(day):
            day = self.next_trading_day(day)
        while self.close(day) <= ts:
            day = self.next_trading_day(day)
        return day

    def is_open(self, ts: dt.datetime) -> bool:
        """Whether ``ts`` lies inside a session window (start inclusive, end exclusive)."""
        day = self.trading_day_of(ts)
        return any(a <= ts < b for a, b in self.windows(day))

    def latest_completed_trading_day(self, now: dt.datetime) -> dt.date:
        """The last trading day whose final session has closed at ``now``.

        Calendar today is never assumed complete: the trading day ``now`` belongs to
        has not closed by construction, so the answer is the one before it.
        """
        return self.previous_trading_day(self.trading_day_of(now))


def _between(a: dt.date, b: dt.date) -> list[dt.date]:
    return [a + _ONE_DAY * i for i in range(1, (b - a).days)]


def _require_aware(ts: dt.datetime) -> None:
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts} has no timezone; Bastion needs aware UTC times")


@functools.cache
def _exchange_days(name: str) -> tuple[frozenset[dt.date], dict[dt.date, dt.datetime]]:
    """Trading days and session closes (UTC) of an exchange_calendars calendar.

    Read once into plain Python values; the library's pandas deprecation warnings are
    silenced here only, since they concern its internals, not Bastion's use.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import exchange_calendars as xcals

        try:
            cal = xcals.get_calendar(name)
        except xcals.errors.InvalidCalendarName as exc:
            raise DataError(f"unknown exchange calendar {name!r}") from exc
        closes = {
            ts.date(): close.to_pydatetime()
            for ts, close in zip(cal.sessions, cal.closes.dt.tz_convert("UTC"), strict=True)
        }
    return frozenset(closes), closes


def _western(spec: MarketSpec) -> SessionCalendar:
    days, closes = _exchange_days(spec.calendar)
    first, last = min(days), max(days)

    def is_trading_day(day: dt.date) -> bool:
        if not first <= day <= last:
            raise CalendarCoverageError(
                f"exchange calendar {spec.calendar} covers {first} to {last}; {day} is outside it"
            )
        return day in days

    return SessionCalendar(
        spec.calendar,
        spec.contract.timezone,
        spec.contract.sessions,
        is_trading_day,
        evening_on_previous_trading_day=False,
        close_of=closes.get,
        coverage=(first, last),
    )


def calendar_for(spec: MarketSpec, days: ChinaDays | None = None) -> SessionCalendar:
    """The calendar of an instrument; ``days`` overrides the bundled China file (tests)."""
    if spec.calendar == CHINA_CALENDAR:
        source = days or china_days()
        return SessionCalendar(
            f"{CHINA_CALENDAR}/{spec.instrument_id}",
            spec.contract.timezone,
            spec.contract.sessions,
            source.is_trading_day,
            evening_on_previous_trading_day=True,
            night_allowed=source.night_allowed,
            coverage=(source.covered_from, source.covered_until),
        )
    return _western(spec)


def trading_days_per_year(calendar: SessionCalendar, day: dt.date) -> int:
    """How many days trade in a year of ``calendar``: the trading days in the 365 days
    ending on ``day`` (258 on CME Globex, which trades most US holidays; 242 to 248 in
    China), or in the 365 days from ``day`` when the calendar does not reach a year
    back. Annualising by this, not a constant, is what makes a daily volatility or
    Sharpe ratio an annual one (R11.3)."""
    year = dt.timedelta(days=364)
    try:
        return len(calendar.trading_days(day - year, day))
    except CalendarCoverageError:
        return len(calendar.trading_days(day, day + year))
