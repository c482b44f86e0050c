"""Last trading dates from the specs' ``expiry_rule``, first notice days from their
``first_notice_rule`` (physical delivery), and ``ContractCalendar``, the risk engine's
source of both (R2.1; the guard is ``bastion.risk.expiry``).

A rule is ``;``-separated parts: one base and optional modifiers.

==========================  ===============================================
``weekday=N,DOW``           the N-th DOW of the month (N = -1: the last);
                            moved to the next trading day if not trading
``day=D``                   calendar day D; the next trading day if not trading
``bday=N``                  the N-th trading day of the month (-1: the last)
``before_day=D,N``          the N-th trading day before day D (one more if D
                            itself is not a trading day, as CME's crude rule)
``shift=K``                 then K trading days later (negative: earlier)
``month=M``                 apply to the month M months from the contract month
==========================  ===============================================
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from bastion.domain.contracts import ContractDates, parse_contract_id
from bastion.domain.ids import ContractId, InstrumentId
from bastion.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bastion.domain.contracts import ContractSpec
    from bastion.marketdata.calendars import SessionCalendar

__all__ = ["ContractCalendar", "contract_dates", "last_trade_date"]

_DOW = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}
_ONE = dt.timedelta(days=1)


def _step(day: dt.date, n: int, trading: Callable[[dt.date], bool]) -> dt.date:
    """Move ``n`` trading days from ``day`` (which need not be trading)."""
    direction = _ONE if n > 0 else -_ONE
    for _ in range(abs(n)):
        day += direction
        while not trading(day):
            day += direction
    return day


def _forward_to_trading(day: dt.date, trading: Callable[[dt.date], bool]) -> dt.date:
    while not trading(day):
        day += _ONE
    return day


def last_trade_date(rule: str, expiry: str, trading: Callable[[dt.date], bool]) -> dt.date:
    """The last trading date of the contract ``expiry`` (``YYYYMM``) under ``rule``."""
    try:
        parts = dict(p.strip().split("=", 1) for p in rule.split(";") if p.strip())
        year, month = int(expiry[:4]), int(expiry[4:6])
        offset = int(parts.pop("month", "0"))
        shift = int(parts.pop("shift", "0"))
        index = year * 12 + month - 1 + offset
        year, month = divmod(index, 12)
        month += 1
        first = dt.date(year, month, 1)
        days_in_month = _cal.monthrange(year, month)[1]
        if len(parts) != 1:
            raise ValueError("exactly one base part expected")  # noqa: TRY301 - one message path
        ((kind, args),) = parts.items()
        values = [a.strip() for a in args.split(",")]
        if kind == "weekday":
            n, dow = int(values[0]), _DOW[values[1].upper()]
            days = [first + _ONE * i for i in range(days_in_month)]
            matching = [d for d in days if d.weekday() == dow]
            day = _forward_to_trading(matching[n - 1 if n > 0 else n], trading)
        elif kind == "day":
            day = _forward_to_trading(dt.date(year, month, int(values[0])), trading)
        elif kind == "bday":
            n = int(values[0])
            if n > 0:
                day = _step(first - _ONE, n, trading)
            else:
                day = _step(first + _ONE * days_in_month, n, trading)
        elif kind == "before_day":
            anchor, n = dt.date(year, month, int(values[0])), int(values[1])
            day = _step(anchor, -(n if trading(anchor) else n + 1), trading)
        else:
            raise ValueError(f"unknown base {kind!r}")  # noqa: TRY301 - one message path
        return _step(day, shift, trading) if shift else day
    except (ValueError, KeyError, IndexError) as exc:
        raise DataError(f"expiry rule {rule!r} for {expiry}: {exc}") from exc


def contract_dates(
    spec: ContractSpec, contract_id: ContractId, trading: Callable[[dt.date], bool]
) -> ContractDates | None:
    """The contract's last trade day and (physical delivery) first notice day; ``None``
    when the spec has no expiry rule. ``DataError`` when a rule or the calendar fails."""
    if not spec.expiry_rule:
        return None
    _, expiry = parse_contract_id(contract_id)
    month = expiry[:6]
    last = last_trade_date(spec.expiry_rule, month, trading)
    notice = None
    if spec.delivery == "physical" and spec.first_notice_rule:
        notice = last_trade_date(spec.first_notice_rule, month, trading)
    return ContractDates(contract_id, last, notice)


class ContractCalendar:
    """``bastion.risk.expiry.ExpiryCalendar`` from contract specs and each instrument's
    exchange calendar. Dates are computed once per contract; trading-day spans are
    cached, so a check costs a few comparisons."""

    def __init__(
        self,
        specs: Mapping[InstrumentId, ContractSpec],
        calendars: Mapping[InstrumentId, SessionCalendar],
    ) -> None:
        self._specs = dict(specs)
        self._calendars = dict(calendars)
        self._dates: dict[ContractId, ContractDates | None] = {}
        self._spans: dict[InstrumentId, tuple[dt.datetime, dt.datetime, dt.date]] = {}

    def _calendar(self, contract_id: ContractId) -> tuple[InstrumentId, SessionCalendar]:
        instrument = parse_contract_id(contract_id)[0]
        calendar = self._calendars.get(instrument)
        if calendar is None:
            raise DataError(f"{contract_id}: no exchange calendar for {instrument}")
        return instrument, calendar

    def dates(self, contract_id: ContractId) -> ContractDates | None:
        if contract_id not in self._dates:
            instrument = parse_contract_id(contract_id)[0]
            spec = self._specs.get(instrument)
            if spec is None or not spec.expiry_rule:
                self._dates[contract_id] = None
            else:
                _, calendar = self._calendar(contract_id)
                self._dates[contract_id] = contract_dates(
                    spec, contract_id, calendar.is_trading_day
                )
        return self._dates[contract_id]

    def trading_day(self, contract_id: ContractId, when: dt.datetime) -> dt.date:
        instrument, calendar = self._calendar(contract_id)
        span = self._spans.get(instrument)
        if span is not None and span[0] <= when < span[1]:
            return span[2]
        day = calendar.trading_day_of(when)
        begin = calendar.close(calendar.previous_trading_day(day))
        self._spans[instrument] = (begin, calendar.close(day), day)
        return day

    def trading_days_between(self, contract_id: ContractId, start: dt.date, end: dt.date) -> int:
        _, calendar = self._calendar(contract_id)
        if end < start:
            return -len(calendar.trading_days(end + _ONE, start))
        return len(calendar.trading_days(start + _ONE, end))
