"""Roll calendars (R2.3): when the held contract changes, and to which contract.

Three sources, one output shape (``ts`` UTC of the roll, ``current``, ``next`` as
``YYYYMM``):

* **Roll config** (``roll_calendar_from_config``), pysystemtrade's fixed rules: the
  held months (``hold_cycle``, month letters), the approximate expiry as
  ``expiry_offset`` days after the first of the contract month, and the roll
  ``roll_offset_days`` days from expiry (negative = before). ``roll_early_days`` moves
  every roll that many more business days earlier. A roll date that falls on a
  non-trading day moves back to the trading day before (weekdays, or the instrument's
  calendar when given).
* **Open interest / volume** (``main_contract_calendar``), China's "main contract":
  each day the contract with the largest open interest (ties: volume, then the nearer
  contract) is the main one; the main contract only moves forward; a switch counts when
  the new contract has led for ``confirm_days`` days. The roll is on the data day
  after the switch is confirmed (you act after the close), ``roll_early_days`` data
  days earlier if asked; early rolls use hindsight and are for research.
* **Multiple prices** (``rolls_from_multiple``): the rolls that actually happened.

Users never edit a contract month by hand: calendars come from one of these.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from bastion.errors import DataError
from bastion.marketdata.adjust import segments
from bastion.marketdata.specs import MONTH_CODES

__all__ = [
    "ROLL_SCHEMA",
    "RollConfig",
    "main_contract_calendar",
    "roll_calendar_from_config",
    "rolls_from_multiple",
]

ROLL_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "current": pl.Utf8(),
    "next": pl.Utf8(),
}


@dataclass(frozen=True, slots=True)
class RollConfig:
    hold_cycle: str
    roll_offset_days: int
    expiry_offset: int
    roll_early_days: int = 0

    def __post_init__(self) -> None:
        if not self.hold_cycle or any(c not in MONTH_CODES for c in self.hold_cycle):
            raise DataError(f"hold cycle {self.hold_cycle!r}, expected month letters {MONTH_CODES}")
        if self.roll_early_days < 0:
            raise DataError(f"roll_early_days {self.roll_early_days} must be >= 0")

    @classmethod
    def from_pysystemtrade(cls, row: dict[str, str], roll_early_days: int = 0) -> RollConfig:
        return cls(
            row["HoldRollCycle"],
            int(row["RollOffsetDays"]),
            int(row["ExpiryOffset"]),
            roll_early_days,
        )

    def months(self) -> list[int]:
        return sorted(MONTH_CODES.index(c) + 1 for c in set(self.hold_cycle))


def _held_contracts(config: RollConfig, start: dt.date, end: dt.date) -> list[tuple[int, int]]:
    months = config.months()
    out: list[tuple[int, int]] = []
    for year in range(start.year - 1, end.year + 3):
        out.extend((year, m) for m in months)
    return out


def roll_calendar_from_config(
    config: RollConfig,
    start: dt.date,
    end: dt.date,
    is_trading_day: Callable[[dt.date], bool] | None = None,
) -> pl.DataFrame:
    """Rolls with dates in ``[start, end]`` under fixed rules."""
    trading = is_trading_day or (lambda d: d.weekday() < 5)

    def back_to_trading(day: dt.date, extra: int) -> dt.date:
        while not trading(day):
            day -= dt.timedelta(days=1)
        for _ in range(extra):
            day -= dt.timedelta(days=1)
            while not trading(day):
                day -= dt.timedelta(days=1)
        return day

    held = _held_contracts(config, start, end)
    rows = []
    for (y, m), (ny, nm) in itertools.pairwise(held):
        expiry = dt.date(y, m, 1) + dt.timedelta(days=config.expiry_offset)
        day = expiry + dt.timedelta(days=config.roll_offset_days)
        day = back_to_trading(day, config.roll_early_days)
        if start <= day <= end:
            rows.append(
                (
                    dt.datetime.combine(day, dt.time(), dt.UTC),
                    f"{y:04d}{m:02d}",
                    f"{ny:04d}{nm:02d}",
                )
            )
    return pl.DataFrame(rows, schema=ROLL_SCHEMA, orient="row")


def rolls_from_multiple(multiple: pl.DataFrame) -> pl.DataFrame:
    """The rolls in a multiple-prices series: first row of each new held contract."""
    rows = segments(multiple)
    heads = rows.group_by("segment").agg(pl.col("ts").first(), pl.col("price_contract").first())
    heads = heads.sort("segment").with_columns(pl.col("price_contract").shift(1).alias("current"))
    return heads.filter(pl.col("current").is_not_null()).select(
        "ts", "current", pl.col("price_contract").alias("next")
    )


def main_contract_calendar(
    daily: pl.DataFrame,
    *,
    by: str = "open_interest",
    confirm_days: int = 1,
    roll_early_days: int = 0,
) -> pl.DataFrame:
    """Rolls of the main contract from daily ``date, contract, open_interest, volume``."""
    needed = {"date", "contract", "open_interest", "volume"}
    if not needed <= set(daily.columns):
        raise DataError(f"main contract: missing columns {sorted(needed - set(daily.columns))}")
    if by not in {"open_interest", "volume"}:
        raise DataError(f"main contract: rank by 'open_interest' or 'volume', not {by!r}")
    if confirm_days < 1 or roll_early_days < 0:
        raise DataError("main contract: confirm_days must be >= 1 and roll_early_days >= 0")
    other = "volume" if by == "open_interest" else "open_interest"
    leaders = (
        daily.sort(["date", by, other, "contract"], descending=[False, True, True, False])
        .group_by("date", maintain_order=True)
        .first()
        .select("date", "contract")
    )
    dates = leaders["date"].to_list()
    leader = leaders["contract"].to_list()
    rows: list[tuple[dt.datetime, str, str]] = []
    main, candidate, run = leader[0], None, 0
    for i, contract in enumerate(leader):
        if contract > main:
            run = run + 1 if contract == candidate else 1
            candidate = contract
        else:
            candidate, run = None, 0
        if run >= confirm_days:
            act = i + 1 - roll_early_days
            if 0 <= act < len(dates):
                rows.append((_as_utc(dates[act]), main, contract))
            main, candidate, run = contract, None, 0
    return pl.DataFrame(rows, schema=ROLL_SCHEMA, orient="row")


def _as_utc(when: dt.date) -> dt.datetime:
    if isinstance(when, dt.datetime):
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return dt.datetime.combine(when, dt.time(), dt.UTC)
