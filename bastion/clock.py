"""Time, from one place. The core reads time only through a ``Clock``.

``SimClock`` is advanced explicitly (backtests, tests, the sim venue); ``WallClock``
reads the system clock (live and paper sessions). Both give timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

__all__ = ["Clock", "SimClock", "WallClock", "utc"]


def utc(  # noqa: PLR0917 - mirrors datetime(year, month, day, ...)
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    """A UTC timestamp; a short helper for tests and fixtures."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class WallClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class SimClock:
    """A clock that moves only when told; it never goes backwards."""

    __slots__ = ("_now",)

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware start time")
        self._now = start.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def advance_to(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("SimClock needs timezone-aware times")
        if when < self._now:
            raise ValueError(f"SimClock cannot go back from {self._now} to {when}")
        self._now = when.astimezone(dt.UTC)

    def advance(self, delta: dt.timedelta) -> None:
        self.advance_to(self._now + delta)
