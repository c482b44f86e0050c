"""Loss limits (R6.5): daily loss, weekly loss and maximum drawdown, on equity.

Equity is realized plus unrealized P&L on top of capital: every equity mark the engine
sees (each bar in a backtest or sim session, each account update against a venue).

- **A day's start is the previous trading day's closing equity**: the engine calls
  ``close_day`` at the account's end of trading day (by the exchange calendar, never
  UTC midnight), and the next day starts there, provided that close is the previous
  trading day's. When it is not (no engine ran over the last close, so the last close
  recorded is older), the previous close is unknown: the day starts at the first
  equity seen and an alert says so and why (a loss between that close and the first
  mark is not counted). The very first day starts at the first equity seen. The week
  starts at the first day's start of the ISO week.
- The check runs in memory on every mark. The starts, the peak and the closes are
  persisted the moment they change (and only then), so a restart mid-day reads them
  back and can never reset a limit.
- A breach is reported on every update while the loss is at or over the limit (so an
  operator who resumes without raising the limit is stopped again at once); its first
  report in a period is marked, and the kill action fires only on that one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bastion.config import BreachAction, RiskConfig
from bastion.domain.records import Note
from bastion.risk.persist import KEY_LOSS, RiskStore, load_json, note, write_change

__all__ = ["EQUITY_NOTE", "Breach", "LossStatus", "LossTracker", "equity_note", "utc_trading_day"]

EQUITY_NOTE = "account.equity"


def utc_trading_day(when: dt.datetime) -> dt.date:
    """The default trading day: the UTC date. Pass the calendar's for night sessions."""
    return when.astimezone(dt.UTC).date()


def equity_note(
    when: dt.datetime,
    equity: object,
    margin_used: object = None,
    *,
    day: dt.date | None = None,
    why: str = "",
) -> Note:
    """The account's equity from a venue snapshot, for the account's trading ``day``
    (the engine journals one at the account's end of day and when it stops; the daily
    all-clear's P&L reads it). Audit trail only: it alerts nothing."""
    return note(
        when,
        EQUITY_NOTE,
        f"account equity {equity}" + (f" {why}" if why else ""),
        equity=equity,
        margin_used=margin_used,
        day=day.isoformat() if day is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Breach:
    limit: str
    """``daily_loss_limit``, ``weekly_loss_limit`` or ``max_drawdown``."""
    loss: Decimal
    threshold: Decimal
    action: BreachAction
    period: str
    first: bool
    """The first update that found this breach in its period (a kill fires only then)."""

    @property
    def message(self) -> str:
        return f"{self.limit} breached: loss {self.loss} reached the limit of {self.threshold}"


@dataclass(frozen=True, slots=True)
class LossStatus:
    day: str | None
    day_start: Decimal | None
    week: str | None
    week_start: Decimal | None
    peak: Decimal | None
    equity: Decimal | None

    def _loss(self, start: Decimal | None) -> Decimal | None:
        if start is None or self.equity is None:
            return None
        return max(start - self.equity, Decimal(0))

    @property
    def daily_loss(self) -> Decimal | None:
        return self._loss(self.day_start)

    @property
    def weekly_loss(self) -> Decimal | None:
        return self._loss(self.week_start)

    @property
    def drawdown(self) -> Decimal | None:
        return self._loss(self.peak)


class LossTracker:
    def __init__(
        self,
        store: RiskStore,
        trading_day: Callable[[dt.datetime], dt.date] = utc_trading_day,
        previous_day: Callable[[dt.date], dt.date] | None = None,
    ) -> None:
        self._store = store
        self.trading_day = trading_day
        """The account's trading day of a moment (the engine's exchange calendar)."""
        self.previous_day = previous_day
        """The account's trading day before a day; ``None`` takes any recorded close."""
        self.equity: Decimal | None = None
        self._state: dict[str, object] | None = None
        self._day: dt.date | None = None
        self._peak: Decimal | None = None
        self._starts: tuple[Decimal, Decimal] | None = None
        """The day's and the week's start as numbers, while ``_day`` is current."""

    def _saved(self) -> dict[str, object]:
        if self._state is None:
            self._state = load_json(self._store, KEY_LOSS)
        return self._state

    def reload(self) -> None:
        """Re-read what is persisted (another process may have written it)."""
        self._state = None
        self._day = self._peak = None
        self._starts = None

    def status(self) -> LossStatus:
        saved = self._saved()

        def dec(key: str) -> Decimal | None:
            value = saved.get(key)
            return None if value is None else Decimal(str(value))

        return LossStatus(
            day=_str_or_none(saved.get("day")),
            day_start=dec("day_start"),
            week=_str_or_none(saved.get("week")),
            week_start=dec("week_start"),
            peak=dec("peak"),
            equity=self.equity,
        )

    def close_day(self, day: dt.date, equity: Decimal, when: dt.datetime) -> None:
        """The account's trading day ``day`` ended at ``equity``: the next day's start."""
        saved = self._saved()
        saved["close_day"], saved["close"] = day.isoformat(), str(equity)
        record = note(
            when, "risk.loss", f"trading day {day} closed at equity {equity}", day=day.isoformat()
        )
        write_change(self._store, KEY_LOSS, saved, record, tightens=True)

    def update(self, equity: Decimal, when: dt.datetime, limits: RiskConfig) -> list[Breach]:
        """Take a new equity mark; returns every limit it breaches. New starting values
        are persisted before anything is compared; nothing is written otherwise."""
        self.equity = equity
        saved = self._saved()
        day = self.trading_day(when)
        if (
            day == self._day
            and self._peak is not None
            and equity <= self._peak
            and limits.daily_loss_limit is None
            and limits.weekly_loss_limit is None
            and limits.max_drawdown is None
        ):
            return []  # the same day, no new peak, nothing to check: nothing to do
        if (
            day == self._day
            and self._peak is not None
            and equity <= self._peak
            and self._starts is not None
            and self._below(self._starts[0] - equity, limits.daily_loss_limit)
            and self._below(self._starts[1] - equity, limits.weekly_loss_limit)
            and self._below(self._peak - equity, limits.max_drawdown)
        ):
            return []  # the same day, no new peak, every loss under its limit
        changed: list[str] = []
        day_key = day.isoformat()
        unknown_close = ""
        if saved.get("day") != day_key:
            close = saved.get("close")
            start = equity
            if close is not None and saved.get("day"):
                unknown_close = self._stale_close(saved.get("close_day"), day)
                if not unknown_close:
                    start = Decimal(str(close))
            saved["day"], saved["day_start"] = day_key, str(start)
            changed.append(f"day {day_key} starts at equity {start}")
            iso = day.isocalendar()
            week_key = f"{iso.year}-W{iso.week:02d}"
            if saved.get("week") != week_key:
                saved["week"], saved["week_start"] = week_key, str(start)
                changed.append(f"week {week_key} starts at equity {start}")
        week_key = str(saved["week"])
        peak = saved.get("peak")
        new_peak = peak is None or equity > Decimal(str(peak))
        if new_peak:
            saved["peak"] = str(equity)
            if peak is None:
                changed.append(f"equity peak starts at {equity}")
        self._day, self._peak = day, Decimal(str(saved["peak"]))
        self._starts = (Decimal(str(saved["day_start"])), Decimal(str(saved["week_start"])))
        breaches = self._breaches(saved, equity, limits, (day_key, week_key), changed)
        if changed:
            text = "; ".join(changed)
            record = note(when, "risk.loss", text, equity=equity, day=day_key, week=week_key)
            write_change(self._store, KEY_LOSS, saved, record, tightens=True)
        if unknown_close:
            self._store.record([note(when, "alert", unknown_close, day=day_key)])
        elif new_peak:  # a new peak: persisted, but not worth a journal entry each time
            self._store.set_state(KEY_LOSS, _dumps(saved))
        return breaches

    def _stale_close(self, close_day: object, day: dt.date) -> str:
        """Why the recorded close cannot start ``day`` ("" when it is the previous
        trading day's close)."""
        if self.previous_day is None:
            return ""
        try:
            previous = self.previous_day(day)
        except Exception as exc:  # noqa: BLE001 - a calendar gap: the close is unknown
            return f"day {day}: its previous trading day is unknown ({exc})"
        if close_day == previous.isoformat():
            return ""
        return (
            f"day {day}: the previous trading day's ({previous}) closing equity is unknown"
            f" (the last close recorded is {close_day or 'undated'}; no engine ran over the"
            " close): the daily loss is measured from the day's first equity, so a loss"
            " before it is not counted"
        )

    @staticmethod
    def _below(loss: Decimal, limit: Decimal | None) -> bool:
        """A loss (negative: a gain) short of ``limit``, as ``_breaches`` judges it."""
        return limit is None or max(loss, Decimal(0)) < limit

    @staticmethod
    def _breaches(
        saved: dict[str, object],
        equity: Decimal,
        limits: RiskConfig,
        keys: tuple[str, str],
        changed: list[str],
    ) -> list[Breach]:
        day_key, week_key = keys
        if (
            limits.daily_loss_limit is None
            and limits.weekly_loss_limit is None
            and limits.max_drawdown is None
        ):
            return []
        peak_key = f"peak {saved['peak']}"
        current = {day_key, week_key, peak_key}
        fired = {str(f) for f in _list(saved.get("fired")) if str(f).rpartition("@")[2] in current}
        status = LossStatus(
            day_key,
            Decimal(str(saved["day_start"])),
            week_key,
            Decimal(str(saved["week_start"])),
            Decimal(str(saved["peak"])),
            equity,
        )
        breaches = []
        checks = (
            ("daily_loss_limit", status.daily_loss, limits.daily_loss_limit, day_key),
            ("weekly_loss_limit", status.weekly_loss, limits.weekly_loss_limit, week_key),
            ("max_drawdown", status.drawdown, limits.max_drawdown, peak_key),
        )
        for name, loss, threshold, period in checks:
            if threshold is None or loss is None or loss < threshold:
                continue
            key = f"{name}@{period}"
            action: BreachAction = getattr(limits, name.replace("_limit", "") + "_action")
            first = key not in fired
            breaches.append(Breach(name, loss, threshold, action, period, first))
            if first:
                fired.add(key)
                changed.append(f"{name} breached: loss {loss}, limit {threshold}, action {action}")
        if sorted(fired) != _list(saved.get("fired")):
            saved["fired"] = sorted(fired)
        return breaches


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _dumps(value: dict[str, object]) -> str:
    return json.dumps(value, sort_keys=True)
