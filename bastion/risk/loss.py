"""Loss limits (R6.5): daily loss, weekly loss and maximum drawdown, on equity.

Equity is realized plus unrealized P&L on top of capital, as the venue's account
snapshot gives it. The day's and the week's starting equity and the equity peak are
persisted the moment they are set, so a restart can never reset a limit: the first
equity of a trading day becomes its start, and a later process on the same day reads
it back. A breach is reported on every update while the loss is at or over the limit
(so an operator who resumes without raising the limit is stopped again at once); its
first report in a period is marked, and the kill action fires only on that one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bastion.config import BreachAction, RiskConfig
from bastion.risk.persist import KEY_LOSS, RiskStore, load_json, note, write_change

__all__ = ["Breach", "LossStatus", "LossTracker", "utc_trading_day"]


def utc_trading_day(when: dt.datetime) -> dt.date:
    """The default trading day: the UTC date. Pass the calendar's for night sessions."""
    return when.astimezone(dt.UTC).date()


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
    ) -> None:
        self._store = store
        self._trading_day = trading_day
        self.equity: Decimal | None = None

    def _saved(self) -> dict[str, object]:
        return load_json(self._store, KEY_LOSS)

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

    def update(self, equity: Decimal, when: dt.datetime, limits: RiskConfig) -> list[Breach]:
        """Take a new equity figure; returns every limit it breaches. Starting values are
        persisted before anything is compared."""
        self.equity = equity
        saved = self._saved()
        changed: list[str] = []
        day = self._trading_day(when)
        day_key = day.isoformat()
        iso = day.isocalendar()
        week_key = f"{iso.year}-W{iso.week:02d}"
        if saved.get("day") != day_key:
            saved["day"], saved["day_start"] = day_key, str(equity)
            changed.append(f"day {day_key} starts at equity {equity}")
        if saved.get("week") != week_key:
            saved["week"], saved["week_start"] = week_key, str(equity)
            changed.append(f"week {week_key} starts at equity {equity}")
        peak = saved.get("peak")
        if peak is None or equity > Decimal(str(peak)):
            saved["peak"] = str(equity)
            if peak is None:
                changed.append(f"equity peak starts at {equity}")
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
        saved["fired"] = sorted(fired)
        if changed or saved.get("peak") != peak:
            text = "; ".join(changed) if changed else f"equity peak {saved['peak']}"
            record = note(when, "risk.loss", text, equity=equity, day=day_key, week=week_key)
            if changed:
                write_change(self._store, KEY_LOSS, saved, record, tightens=True)
            else:  # a new peak: not worth a journal entry each time, but persisted
                self._store.set_state(KEY_LOSS, _dumps(saved))
        return breaches


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _dumps(value: dict[str, object]) -> str:
    return json.dumps(value, sort_keys=True)
