"""Strategy lines by name, as a profile names them (``strategy_line``).

The vol-target line sizes each instrument with its share of the account's capital in
the instrument's own currency (converted at the account's rate: a yuan contract is not
sized with dollars), by the volatility of daily closes on the instrument's exchange
calendar, annualised with that calendar's trading days per year. An instrument whose
currency has no usable rate is not sized: it gets no strategy and a problem says why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from bastion.domain.fx import FxTable
from bastion.errors import ConfigError
from bastion.marketdata.calendars import SessionCalendar, calendar_for, trading_days_per_year
from bastion.marketdata.specs import MarketSpec
from bastion.strategy.examples import BarStrategy, EmaBlend, EmaTrend, Hold, VolTargetedTrend

__all__ = ["STRATEGY_LINES", "build_strategies", "day_function"]

STRATEGY_LINES = {
    "ema_trend": "EMA(60) against EMA(240) on minute bars, +/-lots per instrument",
    "vol_target": "EMA trend forecast sized to 20% annual volatility of daily closes, buffered",
    "ema_blend": "three EMA-cross parameter sets merged with weights 0.5/0.3/0.2 (R3.2)",
    "hold": "a constant long of `lots` per instrument (for roll and plumbing checks)",
}


def day_function(calendar: SessionCalendar) -> Callable[[dt.datetime], dt.date]:
    """``calendar.trading_day_of`` with the current day's span cached (one comparison
    a bar inside it)."""
    span: list[tuple[dt.datetime, dt.datetime, dt.date]] = []

    def day_of(when: dt.datetime) -> dt.date:
        if span and span[0][0] <= when < span[0][1]:
            return span[0][2]
        day = calendar.trading_day_of(when)
        begin = calendar.close(calendar.previous_trading_day(day))
        span[:] = [(begin, calendar.close(day), day)]
        return day

    return day_of


def build_strategies(
    line: str,
    specs: Sequence[MarketSpec],
    capital: float,
    lots: int,
    *,
    fx: FxTable | None = None,
    start: dt.date | None = None,
    problems: list[str] | None = None,
) -> list[BarStrategy]:
    """The line's strategies per instrument. ``capital`` is in ``fx``'s base currency;
    ``start`` is the first day of the run (where the trading days per year are counted;
    default: today)."""
    if line not in STRATEGY_LINES:
        raise ConfigError(
            f"strategy_line {line!r} is not known; expected one of {sorted(STRATEGY_LINES)}"
        )
    strategies: list[BarStrategy] = []
    for spec in specs:
        iid = spec.instrument_id
        if line == "ema_blend":
            strategies.append(EmaBlend(line, iid, lots=lots))
        elif line == "hold":
            strategies.append(Hold(line, iid, lots=lots))
        elif line == "ema_trend":
            strategies.append(EmaTrend(f"{line}", iid, lots=lots, fast=60, slow=240))
        else:
            currency = spec.contract.currency
            table = fx if fx is not None else FxTable.identity(currency)
            rate = table.factor(currency, start)
            if rate is None:
                if problems is not None:
                    problems.append(
                        f"{line}/{iid}: {table.problem(currency, start)}; {iid} is not sized"
                    )
                continue
            calendar = calendar_for(spec)
            first = start or dt.datetime.now(dt.UTC).date()
            strategies.append(
                VolTargetedTrend(
                    line,
                    iid,
                    capital=capital / len(specs) / float(rate),
                    multiplier=float(spec.contract.multiplier),
                    tick_size=float(spec.contract.tick_size),
                    periods_per_year=trading_days_per_year(calendar, first),
                    day_of=day_function(calendar),
                    decision_every=60,
                )
            )
    return strategies
