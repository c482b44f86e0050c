"""Prices the reports mark positions at, from the bar store (never from the journal).

- ``DailyMarks``: each contract's close at the end of each trading day, where a day
  is the UTC date of a bar's *end*, as the simulated session counts days; a contract
  with no bar on a day keeps its last close (forward fill).
- ``latest_marks``: each contract's last close at or before a time, for the
  operational P&L report; a contract without bars has no mark (the caller falls back
  to the last fill and says so).
- ``buy_and_hold``: the benchmark of the backtest report. Every instrument of the run is
  held long with equal weight and fully collateralised (one unit of notional per unit
  of capital, no leverage, no costs), in the contract the roll calendar names for the
  day (or, without a calendar, the day's most traded contract); each day's return is
  measured on one contract, so a roll never shows as a price jump.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId, InstrumentId
from bastion.marketdata.bars import BarStore
from bastion.marketdata.series import SeriesStore

__all__ = ["DailyMarks", "buy_and_hold", "daily_marks", "latest_marks"]

MINUTE = dt.timedelta(minutes=1)


@dataclass(slots=True)
class DailyMarks:
    days: list[dt.date]
    closes: dict[ContractId, dict[dt.date, int]] = field(default_factory=dict)
    opens: dict[ContractId, dict[dt.date, int]] = field(default_factory=dict)
    volumes: dict[ContractId, dict[dt.date, int]] = field(default_factory=dict)
    first_bar: dt.datetime | None = None
    last_bar_end: dt.datetime | None = None

    def on(self, day: dt.date) -> dict[ContractId, int]:
        """Every contract's last close on or before ``day``."""
        out: dict[ContractId, int] = {}
        for cid, closes in self.closes.items():
            known = [d for d in closes if d <= day]
            if known:
                out[cid] = closes[max(known)]
        return out

    def series(self) -> list[dict[ContractId, int]]:
        """``on(day)`` for every day, in one pass."""
        marks: dict[ContractId, int] = {}
        out = []
        for day in self.days:
            for cid, closes in self.closes.items():
                if day in closes:
                    marks[cid] = closes[day]
            out.append(dict(marks))
        return out


def daily_marks(
    data_dir: Path,
    instruments: Iterable[str],
    days: Sequence[dt.date],
    day_of: Callable[[dt.datetime], dt.date] | None = None,
) -> DailyMarks:
    """Day-end closes of every stored contract of ``instruments`` over ``days``: the
    last bar of each trading day (``day_of`` of the bar's end: the account's trading
    day from exchange calendars; the UTC date when ``None``)."""
    marks = DailyMarks(list(days))
    if not days:
        return marks
    store = BarStore(data_dir)
    start = dt.datetime.combine(days[0], dt.time(), dt.UTC) - dt.timedelta(days=2)
    end = dt.datetime.combine(days[-1], dt.time(), dt.UTC) + dt.timedelta(days=1)
    wanted = set(instruments)
    for cid, size in store.contracts():
        if size != "1m" or parse_contract_id(ContractId(cid))[0] not in wanted:
            continue
        frame = store.read(ContractId(cid), "1m", start, end)
        if frame.is_empty():
            continue
        ends = frame["ts"] + MINUTE
        day_col = (
            ends.dt.date()
            if day_of is None
            else pl.Series("day", [day_of(t) for t in ends.to_list()], dtype=pl.Date)
        )
        daily = (
            frame.with_columns(day_col.alias("day"))
            .filter(pl.col("day").is_between(days[0], days[-1]))
            .group_by("day", maintain_order=True)
            .agg(
                pl.col("open_ticks").first().alias("open"),
                pl.col("close_ticks").last().alias("close"),
                pl.col("volume").sum().alias("volume"),
                pl.col("ts").first().alias("first"),
                pl.col("ts").last().alias("last"),
            )
        )
        if daily.is_empty():
            continue
        contract = ContractId(cid)
        rows = list(daily.iter_rows(named=True))
        marks.closes[contract] = {r["day"]: int(r["close"]) for r in rows}
        marks.opens[contract] = {r["day"]: int(r["open"]) for r in rows}
        marks.volumes[contract] = {r["day"]: int(r["volume"]) for r in rows}
        first, last = rows[0]["first"], rows[-1]["last"] + MINUTE
        if marks.first_bar is None or first < marks.first_bar:
            marks.first_bar = first
        if marks.last_bar_end is None or last > marks.last_bar_end:
            marks.last_bar_end = last
    return marks


def latest_marks(
    data_dir: Path, contracts: Iterable[ContractId], at: dt.datetime
) -> dict[ContractId, tuple[int, str]]:
    """Each contract's last stored 1-minute close before ``at``, with its bar's end time."""
    store = BarStore(data_dir)
    out: dict[ContractId, tuple[int, str]] = {}
    for cid in contracts:
        if not store.exists(cid, "1m"):
            continue
        frame = store.read(cid, "1m", None, at)
        if frame.is_empty():
            continue
        last = frame.row(-1, named=True)
        end = (last["ts"] + MINUTE).strftime("%Y-%m-%d %H:%M UTC")
        out[cid] = (int(last["close_ticks"]), f"bar close {end}")
    return out


def _held_contract(
    marks: DailyMarks, series: SeriesStore, iid: InstrumentId
) -> dict[dt.date, ContractId]:
    mine = {c: v for c, v in marks.volumes.items() if parse_contract_id(c)[0] == iid}
    held: dict[dt.date, ContractId] = {}
    rolls: list[tuple[dt.date, str, str]] = []
    if series.has(iid, "roll_calendar"):
        frame = series.read(iid, "roll_calendar").sort("ts")
        rolls = [
            (ts.date(), str(cur), str(nxt))
            for ts, cur, nxt in frame.select("ts", "current", "next").iter_rows()
        ]
    for day in marks.days:
        if rolls:
            expiry = rolls[0][1]
            for roll_day, _, nxt in rolls:
                if day >= roll_day:
                    expiry = nxt
            held[day] = ContractId(f"{iid}/{expiry}")
        else:
            traded = [(v[day], c) for c, v in mine.items() if day in v]
            if traded:
                held[day] = max(traded)[1]
    return held


def buy_and_hold(
    marks: DailyMarks, data_dir: Path, instruments: Sequence[str]
) -> list[float | None]:
    """The benchmark's daily return for each of ``marks.days`` (None: no price that day).

    A day's return on an instrument is its held contract's close over the same
    contract's previous close (or over its first open of the day when it has no
    earlier close); the benchmark's return is the equal-weight mean over the
    instruments priced that day.
    """
    series = SeriesStore(data_dir)
    held = {iid: _held_contract(marks, series, InstrumentId(iid)) for iid in instruments}
    out: list[float | None] = []
    previous: dict[ContractId, int] = {}
    for day in marks.days:
        moves: list[float] = []
        for iid in instruments:
            cid = held[iid].get(day)
            close = marks.closes.get(cid, {}).get(day) if cid else None
            if cid is None or close is None:
                continue
            base = previous.get(cid) or marks.opens[cid].get(day)
            if base:
                moves.append(close / base - 1.0)
        for cid, closes in marks.closes.items():
            if day in closes:
                previous[cid] = closes[day]
        out.append(sum(moves) / len(moves) if moves else None)
    return out
