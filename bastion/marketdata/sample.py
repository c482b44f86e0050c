"""Deterministic sample data, so Bastion runs out of the box without shared data (R3.5).

``generate`` makes realistic minute bars for a set of contracts of one instrument:

* a daily log-price path (seeded normal returns with the given annual volatility) for
  the underlying, and per contract a carry premium that grows with time to expiry, so
  contracts differ by a realistic spread and a roll has a gap;
* each trading day's minutes are the calendar's session minutes (China night sessions,
  CME's 23-hour day, holidays all come from the calendar), filled by a Brownian bridge
  from the previous close to the day's close, so the daily series is exact and the
  intraday path wanders in between;
* high/low extend beyond open/close by a seeded fraction of the minute volatility;
  every price is rounded to the instrument's tick, so all prices lie on the tick;
* volume is U-shaped within each session, shifts from the front to the next contract as
  expiry nears, and open interest follows (the "main contract" switches by itself).

Same arguments and seed, same bars, on any machine (numpy's PCG64 generator).
``write_sample`` stores the default set: CME E-mini S&P 500 (``SP500``, March to June
2024 contracts) and SHFE rebar (``rb``, May to October 2024), February to April 2024,
across each roll, with multiple prices and a roll calendar so adjusted series work too.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from bastion.domain.contracts import contract_id
from bastion.domain.ids import ContractId
from bastion.marketdata.bars import BAR_SCHEMA, BarStore
from bastion.marketdata.calendars import SessionCalendar, calendar_for
from bastion.marketdata.expiry import last_trade_date
from bastion.marketdata.rolls import RollConfig, main_contract_calendar, roll_calendar_from_config
from bastion.marketdata.series import SeriesStore
from bastion.marketdata.specs import MarketSpec, SpecRegistry

__all__ = ["DEFAULT_SAMPLES", "SampleSpec", "daily_bars", "generate", "write_sample"]


@dataclass(frozen=True, slots=True)
class SampleSpec:
    instrument: str
    expiries: tuple[str, ...]
    start: dt.date
    end: dt.date
    start_price: float
    annual_vol: float
    carry_per_year: float
    base_volume: int
    seed: int
    switch_days: int = 0
    """Liquidity moves to the next contract 15 to ``switch_days`` days before expiry
    (China's main contract switches weeks before expiry; CME's in the last days)."""


DEFAULT_SAMPLES = (
    SampleSpec(
        "SP500",
        ("202403", "202406"),
        dt.date(2024, 2, 1),
        dt.date(2024, 4, 30),
        4950.0,
        0.15,
        0.012,
        900,
        20240301,
        switch_days=0,
    ),
    SampleSpec(
        "rb",
        ("202405", "202410"),
        dt.date(2024, 2, 19),
        dt.date(2024, 4, 30),
        3850.0,
        0.22,
        -0.03,
        400,
        20240302,
        switch_days=45,
    ),
)


def _bridge(rng: np.random.Generator, n: int, a: float, b: float, sigma: float) -> np.ndarray:
    """``n`` points from just after ``a`` to exactly ``b`` (log prices)."""
    walk = np.cumsum(rng.normal(0.0, sigma, n))
    t = np.arange(1, n + 1) / n
    path: np.ndarray = a + t * (b - a) + walk - t * walk[-1]
    return path


def generate(
    spec: MarketSpec, calendar: SessionCalendar, sample: SampleSpec
) -> dict[ContractId, pl.DataFrame]:
    """Minute bars (``BAR_SCHEMA``, integer ticks) per contract of ``sample``."""
    rng = np.random.default_rng(sample.seed)
    tick = float(spec.tick_size)
    days = calendar.trading_days(sample.start, sample.end)
    expiries = {
        e: last_trade_date(spec.contract.expiry_rule, e, calendar.is_trading_day)
        for e in sample.expiries
    }
    daily_sigma = sample.annual_vol / math.sqrt(252)
    closes = math.log(sample.start_price) + np.cumsum(rng.normal(0.0, daily_sigma, len(days)))
    frames: dict[ContractId, list[pl.DataFrame]] = {
        contract_id(spec.instrument_id, e): [] for e in expiries
    }
    previous = math.log(sample.start_price)
    for i, day in enumerate(days):
        minutes = [
            a + dt.timedelta(minutes=k)
            for a, b in calendar.windows(day)
            for k in range(int((b - a).total_seconds() // 60))
        ]
        n = len(minutes)
        path = _bridge(rng, n, previous, float(closes[i]), daily_sigma / math.sqrt(n) * 0.8)
        opens = np.concatenate([[previous], path[:-1]])
        previous = float(closes[i])
        wiggle = np.abs(rng.normal(0.0, daily_sigma / math.sqrt(n), (2, n)))
        position = np.concatenate(
            [
                np.linspace(0.0, 1.0, int((b - a).total_seconds() // 60))
                for a, b in calendar.windows(day)
            ]
        )
        shape = 1.0 + 3.0 * (position - 0.5) ** 2
        noise = rng.lognormal(0.0, 0.4, n)
        for expiry, last_day in expiries.items():
            if day > last_day:
                continue
            years = (last_day - day).days / 365.0
            carry = sample.carry_per_year * years
            o, c = _to_ticks(opens, carry, tick), _to_ticks(path, carry, tick)
            high = _to_ticks(np.maximum(opens, path) + wiggle[0], carry, tick)
            low = _to_ticks(np.minimum(opens, path) - wiggle[1], carry, tick)
            h, lo = np.maximum(np.maximum(o, c), high), np.minimum(np.minimum(o, c), low)
            share = _volume_share(day, expiries, expiry, sample.switch_days)
            volume = np.rint(sample.base_volume * share * shape * noise).astype(np.int64)
            oi = int(sample.base_volume * 400 * share)
            frames[contract_id(spec.instrument_id, expiry)].append(
                pl.DataFrame(
                    {
                        "ts": minutes,
                        "open_ticks": o,
                        "high_ticks": h,
                        "low_ticks": lo,
                        "close_ticks": c,
                        "volume": volume,
                        "open_interest": [oi] * n,
                    },
                    schema=BAR_SCHEMA,
                )
            )
    return {cid: pl.concat(parts) for cid, parts in frames.items() if parts}


def _to_ticks(log_prices: np.ndarray, carry: float, tick: float) -> np.ndarray:
    ticks: np.ndarray = np.rint(np.exp(log_prices + carry) / tick).astype(np.int64)
    return ticks


def _volume_share(
    day: dt.date, expiries: dict[str, dt.date], expiry: str, switch_days: int
) -> float:
    """The front's share falls from 0.9 to 0.05 in 15 days ending ``switch_days`` before expiry."""
    front = min((e for e, d in expiries.items() if d >= day), default=expiry)
    remaining = max((expiries[front] - day).days - switch_days, 0)
    front_share = 0.9 if remaining > 15 else 0.05 + 0.85 * remaining / 15
    if expiry == front:
        return front_share
    later = [e for e in sorted(expiries) if e > front]
    return (1.0 - front_share) if later and expiry == later[0] else 0.02


def daily_bars(minute: pl.DataFrame, calendar: SessionCalendar) -> pl.DataFrame:
    """Daily bars (ts = trading day 00:00 UTC) from minute bars."""
    days = [calendar.trading_day_of(ts) for ts in minute["ts"].unique(maintain_order=True)]
    lookup = pl.DataFrame({"ts": minute["ts"].unique(maintain_order=True), "day": days})
    return (
        minute.join(lookup, on="ts")
        .group_by("day", maintain_order=True)
        .agg(
            pl.col("open_ticks").first(),
            pl.col("high_ticks").max(),
            pl.col("low_ticks").min(),
            pl.col("close_ticks").last(),
            pl.col("volume").sum(),
            pl.col("open_interest").last(),
        )
        .with_columns(pl.col("day").cast(pl.Datetime("us", "UTC")).alias("ts"))
        .select(list(BAR_SCHEMA))
    )


def _multiple_prices(
    spec: MarketSpec, dailies: dict[ContractId, pl.DataFrame], rolls: pl.DataFrame
) -> pl.DataFrame:
    tick = float(spec.tick_size)
    closes = pl.concat(
        d.select(
            "ts",
            pl.lit(cid.split("/")[1]).alias("contract"),
            (pl.col("close_ticks") * tick).alias("close"),
        )
        for cid, d in dailies.items()
    )
    held = sorted(set(closes["contract"]))
    schedule = [(r["ts"], r["next"]) for r in rolls.iter_rows(named=True)]
    rows = []
    for ts in sorted(set(closes["ts"])):
        current = held[0]
        for when, nxt in schedule:
            if ts >= when:
                current = nxt
        later = [c for c in held if c > current]
        forward = later[0] if later else current
        price = closes.filter((pl.col("ts") == ts) & (pl.col("contract") == current))["close"]
        fwd = closes.filter((pl.col("ts") == ts) & (pl.col("contract") == forward))["close"]
        rows.append(
            (
                ts,
                current,
                forward,
                forward,
                price[0] if price.len() else None,
                fwd[0] if fwd.len() and forward != current else None,
                None,
            )
        )
    schema: dict[str, pl.DataType] = {
        "ts": pl.Datetime("us", "UTC"),
        **dict.fromkeys(("price_contract", "forward_contract", "carry_contract"), pl.Utf8()),
        **dict.fromkeys(("price", "forward", "carry"), pl.Float64()),
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def write_sample(data_dir: Path, registry: SpecRegistry | None = None) -> list[str]:
    """Generate and store the default sample set; returns one line per stored series."""
    registry = registry or SpecRegistry.bundled()
    bars, series = BarStore(data_dir), SeriesStore(data_dir)
    lines = []
    for sample in DEFAULT_SAMPLES:
        spec = registry[sample.instrument]
        calendar = calendar_for(spec)
        minute = generate(spec, calendar, sample)
        dailies = {}
        for cid, frame in minute.items():
            bars.write(cid, "1m", frame)
            dailies[cid] = daily_bars(frame, calendar)
            bars.write(cid, "1d", dailies[cid])
            lines.append(f"{cid}: {frame.height} minute bars, {dailies[cid].height} daily bars")
        if spec.calendar == "CN_FUTURES":
            oi = pl.concat(
                d.select(
                    pl.col("ts").dt.date().alias("date"),
                    pl.lit(cid.split("/")[1]).alias("contract"),
                    "open_interest",
                    "volume",
                )
                for cid, d in dailies.items()
            )
            rolls = main_contract_calendar(oi, confirm_days=2)
        else:
            config = RollConfig(spec.months, roll_offset_days=-5, expiry_offset=14)
            rolls = roll_calendar_from_config(
                config, sample.start, sample.end, calendar.is_trading_day
            )
        series.write(sample.instrument, "roll_calendar", rolls)
        series.write(sample.instrument, "multiple", _multiple_prices(spec, dailies, rolls))
        lines.append(
            f"{sample.instrument}: roll calendar with {rolls.height} roll(s), multiple prices"
        )
    return lines
