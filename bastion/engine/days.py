"""Trading days from exchange calendars (R2.2): when each instrument's day ends, and the
account's.

Nothing in trading logic uses UTC midnight. Each instrument's trading day is its
exchange calendar's (``bastion.marketdata.calendars``): CME's Globex day runs 17:00 to
16:00 Chicago, and its end-of-day work happens at the 16:00 close (clipped to early
closes; nothing trades in the break until 17:00, when the next day opens); China's night
session belongs to the next trading day and Friday night to Monday, with no night
session before a long holiday. End-of-day work (cancel working orders, complete
families, DAY expiry at a simulated venue) happens at each instrument's end of day.

**The account day.** An account trading several exchanges has one day for its loss
limits and reports: the trading day of its *account instrument*, the first instrument
the profile lists (``instruments:``; list the one whose exchange's day should be the
account's first). Its end is when the day's closing equity is kept as the next day's
start.

An instrument with no exchange calendar (a test venue's made-up contract) ends its
day at midnight in its contract's own time zone; this is said here, not hidden.

``due(now)`` is called on every engine pass: it compares ``now`` with the next end and
does nothing else until then, so it costs one comparison per pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import InstrumentId
from bastion.errors import DataError

if TYPE_CHECKING:
    from bastion.marketdata.expiry import ContractCalendar

__all__ = [
    "DayCalendar",
    "DayEnd",
    "MidnightCalendar",
    "TradingDays",
    "calendars_for",
    "expiry_calendar_for",
]


class DayCalendar(Protocol):
    def trading_day_of(self, ts: dt.datetime) -> dt.date: ...

    def close(self, day: dt.date) -> dt.datetime: ...

    def previous_trading_day(self, day: dt.date) -> dt.date: ...


class MidnightCalendar:
    """Every calendar day trades, and ends at midnight in ``timezone``."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.tz = ZoneInfo(timezone)

    def trading_day_of(self, ts: dt.datetime) -> dt.date:
        return ts.astimezone(self.tz).date()

    def close(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(
            day + dt.timedelta(days=1), dt.time(), tzinfo=self.tz
        ).astimezone(dt.UTC)

    def previous_trading_day(self, day: dt.date) -> dt.date:
        return day - dt.timedelta(days=1)


def calendars_for(specs: Mapping[InstrumentId, ContractSpec]) -> dict[InstrumentId, DayCalendar]:
    """Each instrument's exchange calendar, from the bundled market specs; a contract
    the bundled specs do not know gets a ``MidnightCalendar`` in its own time zone."""
    from bastion.marketdata.calendars import calendar_for
    from bastion.marketdata.specs import SpecRegistry

    registry = SpecRegistry.bundled()
    out: dict[InstrumentId, DayCalendar] = {}
    for iid, spec in specs.items():
        market = registry.get(iid)
        if market is not None and market.contract.exchange == spec.exchange:
            out[iid] = calendar_for(market)
        else:
            out[iid] = MidnightCalendar(spec.timezone or "UTC")
    return out


def expiry_calendar_for(specs: Mapping[InstrumentId, ContractSpec]) -> ContractCalendar | None:
    """Contract dates for the expiry guard: instruments the bundled specs know, with
    their exchange calendars (a made-up contract has no dates and is not guarded)."""
    from bastion.marketdata.calendars import calendar_for
    from bastion.marketdata.expiry import ContractCalendar
    from bastion.marketdata.specs import SpecRegistry

    registry = SpecRegistry.bundled()
    known = {
        iid: market
        for iid, spec in specs.items()
        if (market := registry.get(iid)) is not None and market.contract.exchange == spec.exchange
    }
    if not known:
        return None
    return ContractCalendar(
        {iid: specs[iid] for iid in known}, {iid: calendar_for(m) for iid, m in known.items()}
    )


@dataclass(frozen=True, slots=True)
class DayEnd:
    instruments: tuple[InstrumentId, ...]
    """Instruments whose trading day ended."""
    account_day: dt.date | None
    """The account's trading day that ended, if it did."""


class TradingDays:
    def __init__(
        self,
        calendars: Mapping[InstrumentId, DayCalendar],
        account_instrument: InstrumentId | None = None,
    ) -> None:
        self.calendars = dict(calendars)
        first = next(iter(self.calendars), None)
        self.account_instrument = account_instrument if account_instrument is not None else first
        self._account: DayCalendar = (
            self.calendars[self.account_instrument]
            if self.account_instrument in self.calendars
            else MidnightCalendar()
        )
        self._ends: dict[InstrumentId, tuple[dt.date, dt.datetime]] = {}
        self._account_end: tuple[dt.date, dt.datetime] | None = None
        self._next: dt.datetime | None = None
        self._span: tuple[dt.datetime, dt.datetime, dt.date] | None = None
        self._spans: dict[InstrumentId, tuple[dt.datetime, dt.datetime, dt.date]] = {}
        self.problems: list[str] = []

    def day_of(self, instrument: InstrumentId, when: dt.datetime) -> dt.date:
        """The instrument's own trading day of ``when``. Raises ``DataError`` when its
        calendar does not know that day (a China year not imported yet): the risk
        engine refuses the instrument's orders with that line. Cached per day."""
        span = self._spans.get(instrument)
        if span is not None and span[0] <= when < span[1]:
            return span[2]
        calendar = self.calendars.get(instrument, self._account)
        day = calendar.trading_day_of(when)
        begin = calendar.close(calendar.previous_trading_day(day))
        self._spans[instrument] = (begin, calendar.close(day), day)
        return day

    def account_day(self, when: dt.datetime) -> dt.date:
        """The account's trading day of ``when`` (loss limits, daily returns, records).
        The current day's span is cached: one comparison per call inside it."""
        span = self._span
        if span is not None and span[0] <= when < span[1]:
            return span[2]
        day = self._account.trading_day_of(when)
        try:
            end = self._account.close(day)
            begin = self._account.close(self._previous(day))
        except (DataError, ValueError):
            return day
        self._span = (begin, end, day)
        return day

    def _previous(self, day: dt.date) -> dt.date:
        return self._account.previous_trading_day(day)

    def previous_account_day(self, day: dt.date) -> dt.date:
        """The account's trading day before ``day`` (whose close starts ``day``)."""
        return self._account.previous_trading_day(day)

    def _end(
        self, calendar: DayCalendar, now: dt.datetime, what: str
    ) -> tuple[dt.date, dt.datetime]:
        try:
            day = calendar.trading_day_of(now)
            return day, calendar.close(day)
        except DataError as exc:  # a calendar that does not cover today: say so, fail safe
            self.problems.append(f"{what}: {exc}; its day ends at UTC midnight until fixed")
            fallback = MidnightCalendar()
            day = fallback.trading_day_of(now)
            return day, fallback.close(day)

    def _start(self, now: dt.datetime) -> None:
        for iid, calendar in self.calendars.items():
            self._ends[iid] = self._end(calendar, now, str(iid))
        self._account_end = self._end(self._account, now, "the account day")
        self._next = min([end for _, end in self._ends.values()] + [self._account_end[1]])

    def due(self, now: dt.datetime) -> DayEnd | None:
        """What ended since the last call (``None`` most of the time)."""
        if self._next is None:
            self._start(now)
            return None
        if now < self._next:
            return None
        ended: list[InstrumentId] = []
        for iid, (_, end) in list(self._ends.items()):
            if now >= end:
                ended.append(iid)
                self._ends[iid] = self._end(self.calendars[iid], now, str(iid))
        account_day = None
        assert self._account_end is not None  # noqa: S101 - set by _start
        if now >= self._account_end[1]:
            account_day = self._account_end[0]
            self._account_end = self._end(self._account, now, "the account day")
        self._next = min([end for _, end in self._ends.values()] + [self._account_end[1]])
        return DayEnd(tuple(ended), account_day)
