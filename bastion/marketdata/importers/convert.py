"""Turn pieces of a bar file into bars in ticks, checking every row (R2.4, issue 16).

Each row is refused, naming its file and line, unless:

* its timestamp is ISO 8601 with a UTC offset (or the caller names the timezone of
  naive ones), and lies between ``EARLIEST`` (1800-01-01) and ``FUTURE_SLACK`` (7 days)
  after the time of the import: no exchange had bars before 1800, and no bar starts in
  the future (a year 9999 is a typing slip, not a bar);
* timestamps increase strictly within each contract, across the whole file;
* its contract resolves to an instrument in the specs;
* each price is a finite number, positive unless the instrument's spec allows negative
  prices (``negative_prices``: WTI and Brent crude traded below zero in April 2020), no
  lower than the spec's ``min_price`` and no larger in size than its ``max_price`` (the
  bundled specs give every instrument a wide band around its price history; without
  one, above zero and at most a billion ticks), and on the tick (within 1e-6 of a whole
  number of ticks);
* volume (and open interest, which may be blank) is a whole number from 0 to the spec's
  ``max_volume`` (default 1e9 lots per bar);
* high and low contain open and close.

Prices are parsed as float64 and stored as integer ticks; each bar keeps ``_line``,
the line (or Parquet row) it came from, so a later refusal can name it too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId
from bastion.errors import DataError
from bastion.marketdata.bars import PRICE_COLUMNS
from bastion.marketdata.importers.chunks import Chunk
from bastion.marketdata.specs import MAX_PRICE_TICKS, MarketSpec, SpecRegistry, parse_venue_symbol

__all__ = [
    "EARLIEST",
    "FUTURE_SLACK",
    "LINE",
    "Converter",
    "PriceRule",
    "check_dates",
    "check_prices",
]

REQUIRED = ("timestamp", "open", "high", "low", "close")
OPTIONAL = ("volume", "open_interest", "contract")
LINE = "_line"
EARLIEST = dt.datetime(1800, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(days=7)
_TICK_TOLERANCE = 1e-6
_ISO_RE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$"

Where = Callable[[int], str]


def _first_bad(mask: pl.Series) -> int | None:
    return int(mask.arg_max() or 0) if mask.any() else None


def check_dates(utc: pl.Series, shown: pl.Series, now: dt.datetime, where: Where) -> None:
    """Refuse a timestamp no exchange could have: before ``EARLIEST`` or more than
    ``FUTURE_SLACK`` after ``now`` (nulls are not checked here); ``shown[i]`` is how row
    ``i`` was written."""
    latest = now + FUTURE_SLACK
    bad = _first_bad(((utc < EARLIEST) | (utc > latest)).fill_null(value=False))
    if bad is not None:
        raise DataError(
            f"{where(bad)}: timestamp {shown[bad]!s} is outside the dates a bar can have"
            f" (from {EARLIEST:%Y-%m-%d} to {FUTURE_SLACK.days} days after now,"
            f" {latest:%Y-%m-%d})"
        )


@dataclass(frozen=True, slots=True)
class PriceRule:
    """What a price of one instrument may be: its sign and its largest size."""

    instrument: str
    negative: bool = False
    """Whether prices at or below zero are real (the spec's ``negative_prices``)."""
    limit: Decimal = Decimal(MAX_PRICE_TICKS)
    """The largest size of a price (the spec's ``price_limit``)."""
    low: Decimal | None = None
    """The lowest price (the spec's ``min_price``); ``None``: only the sign rule."""

    @classmethod
    def of(cls, spec: MarketSpec) -> PriceRule:
        return cls(str(spec.instrument_id), spec.negative_prices, spec.price_limit, spec.min_price)


def check_prices(values: pl.Series, text: pl.Series, rule: PriceRule, where: Where) -> None:
    """Refuse a price that is not finite, not positive (unless ``rule.negative``), below
    ``rule.low`` or larger in size than ``rule.limit``; nulls (blanks) are left to the
    caller. ``text`` is how each value was written, ``where(i)`` names row ``i``'s file
    and line."""
    name = str(text.name)
    bad = _first_bad((values.is_nan() | values.is_infinite()).fill_null(value=False))
    if bad is not None:
        raise DataError(f"{where(bad)}: {name} {text[bad]!r} is not a number")
    if not rule.negative:
        bad = _first_bad((values <= 0).fill_null(value=False))
        if bad is not None:
            raise DataError(
                f"{where(bad)}: {name} {text[bad]} is not a positive price;"
                f" {rule.instrument} prices are above zero (its spec does not allow"
                " negative prices)"
            )
    if rule.low is not None:
        bad = _first_bad((values < float(rule.low)).fill_null(value=False))
        if bad is not None:
            raise DataError(
                f"{where(bad)}: {name} {text[bad]} is below the lowest price accepted for"
                f" {rule.instrument} ({rule.low:f}; min_price in a spec file changes it)"
            )
    bad = _first_bad((values.abs() > float(rule.limit)).fill_null(value=False))
    if bad is not None:
        raise DataError(
            f"{where(bad)}: {name} {text[bad]} is beyond the largest price accepted for"
            f" {rule.instrument} ({rule.limit:f}; max_price in a spec file changes it)"
        )


@dataclass
class Converter:
    """Converts the pieces of one file in order, keeping what spans pieces."""

    path: Path
    registry: SpecRegistry
    contract: str | None = None
    timezone: str | None = None
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    rows: int = 0
    _last: dict[ContractId, dt.datetime] = field(default_factory=dict)
    _symbols: dict[str, ContractId] = field(default_factory=dict)

    def convert(self, chunk: Chunk) -> dict[ContractId, pl.DataFrame]:
        """The piece's bars per contract, in ticks, with their ``_line``."""

        def where(i: int) -> str:
            return chunk.where(self.path, i)

        raw = self._columns(chunk.frame)
        if raw.height == 0:
            return {}
        ts = self._timestamps(raw["timestamp"], where)
        contracts = self._contracts(raw, ts, where)
        frame = raw.with_columns(ts=ts, contract=contracts).with_row_index("_row")
        out: dict[ContractId, pl.DataFrame] = {}
        for (key,), part in frame.group_by("contract", maintain_order=True):
            cid = ContractId(str(key))
            spec = self.registry[parse_contract_id(cid)[0]]
            bars = self._to_ticks(part, spec, cid, where)
            out[cid] = bars.with_columns((part["_row"].cast(pl.Int64) + chunk.first).alias(LINE))
        self.rows += raw.height
        return out

    # -- columns and timestamps ---------------------------------------------------------
    def _columns(self, raw: pl.DataFrame) -> pl.DataFrame:
        raw = raw.rename({c: c.strip().lower() for c in raw.columns})
        missing = [c for c in REQUIRED if c not in raw.columns]
        unknown = [c for c in raw.columns if c not in REQUIRED + OPTIONAL]
        if missing or unknown:
            raise DataError(
                f"{self.path}: wrong columns (missing {missing}, unexpected {unknown}); expected"
                f" {list(REQUIRED)} and optionally {list(OPTIONAL)}"
            )
        return raw

    def _timestamps(self, col: pl.Series, where: Where) -> pl.Series:
        if col.dtype == pl.Datetime:
            parsed = col
        else:
            text = col.str.strip_chars()
            iso = text.str.contains(_ISO_RE).fill_null(value=False)
            try:
                parsed = text.str.to_datetime(time_unit="us", strict=False)
            except pl.exceptions.ComputeError:  # no value has a format polars can infer
                parsed = pl.Series(col.name, [None] * col.len(), dtype=pl.Datetime("us"))
            bad = _first_bad(parsed.is_null() | ~iso)
            if bad is not None:
                raise DataError(
                    f"{where(bad)}: timestamp {text[bad]!r} is not ISO 8601"
                    " (expected e.g. 2024-03-12T09:00:00+08:00)"
                )
        if getattr(parsed.dtype, "time_zone", None) is None:
            if self.timezone is None:
                raise DataError(
                    f"{where(0)}: timestamp {col[0]!r} has no UTC offset;"
                    " add one or give the timezone the file is in"
                )
            try:
                parsed = parsed.dt.replace_time_zone(
                    self.timezone, ambiguous="raise", non_existent="raise"
                )
            except pl.exceptions.PolarsError as exc:
                raise DataError(
                    f"{where(0)}: timestamps in {self.timezone}: {exc}".splitlines()[0]
                ) from None
        utc = parsed.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        check_dates(utc, col, self.now, where)
        return utc

    def _contracts(self, raw: pl.DataFrame, ts: pl.Series, where: Where) -> pl.Series:
        if "contract" not in raw.columns:
            if self.contract is None:
                raise DataError(
                    f"{where(0)}: no 'contract' column; name the contract to import into"
                )
            cid = self._symbols.get("") or self._resolve(self.contract, ts[0].date())
            self._symbols[""] = cid
            return pl.Series("contract", [cid] * raw.height, dtype=pl.Utf8)
        text = raw["contract"].fill_null("").str.strip_chars()
        firsts = (
            pl.DataFrame({"text": text})
            .with_row_index()
            .group_by("text", maintain_order=True)
            .agg(pl.col("index").min())
        )
        for symbol, i in firsts.iter_rows():
            if symbol not in self._symbols:
                try:
                    self._symbols[symbol] = self._resolve(symbol, ts[i].date())
                except DataError as exc:
                    raise DataError(f"{where(i)}: {exc}") from None
        mapping = {s: self._symbols[s] for s in firsts["text"]}
        return text.replace_strict(mapping, return_dtype=pl.Utf8).rename("contract")

    def _resolve(self, text: str, reference: dt.date) -> ContractId:
        if "/" in text:
            try:
                instrument, _ = parse_contract_id(text)
            except ValueError as exc:
                raise DataError(str(exc)) from None
            self.registry[instrument]  # raises for an unknown instrument
            return ContractId(text)
        return parse_venue_symbol(self.registry, text, reference)

    # -- bars ---------------------------------------------------------------------------
    def _to_ticks(
        self, part: pl.DataFrame, spec: MarketSpec, cid: ContractId, where: Where
    ) -> pl.DataFrame:
        rows = part["_row"]
        self._check_order(part["ts"], rows, cid, where)
        columns = {
            f"{name}_ticks": _price_ticks(part[name], spec, rows, cid, where)
            for name in ("open", "high", "low", "close")
        }
        for name in ("volume", "open_interest"):
            columns[name] = (
                _whole(part[name], name, spec, rows, where)
                if name in part.columns
                else pl.Series(name, [0 if name == "volume" else None] * part.height, pl.Int64)
            )
        bars = pl.DataFrame({"ts": part["ts"], **columns})
        o, h, lo, c = (pl.col(x) for x in PRICE_COLUMNS)
        broken = _first_bad(
            bars.select(
                (h < pl.max_horizontal(o, c, lo)) | (lo > pl.min_horizontal(o, c))
            ).to_series()
        )
        if broken is not None:
            raise DataError(
                f"{where(rows[broken])}: high/low do not contain open and close for {cid}"
            )
        return bars

    def _check_order(self, ts: pl.Series, rows: pl.Series, cid: ContractId, where: Where) -> None:
        step = ts.diff().dt.total_microseconds()
        previous = self._last.get(cid)
        if previous is not None:
            first = int((ts[0] - previous) / dt.timedelta(microseconds=1))
            step = step.scatter(0, first)
        step = step.fill_null(1)
        bad = _first_bad(step <= 0)
        if bad is not None:
            kind = "duplicate" if step[bad] == 0 else "out-of-order"
            raise DataError(
                f"{where(rows[bad])}: {kind} timestamp {ts[bad]} for {cid};"
                " expected strictly increasing timestamps"
            )
        self._last[cid] = ts[-1]


def _price_ticks(
    col: pl.Series, spec: MarketSpec, rows: pl.Series, cid: ContractId, where: Where
) -> pl.Series:
    name = str(col.name)
    text = col.cast(pl.Utf8).str.strip_chars()
    values = text.cast(pl.Float64, strict=False)
    bad = _first_bad(values.is_null())
    if bad is not None:
        raise DataError(f"{where(rows[bad])}: {name} {text[bad]!r} is not a number")
    check_prices(values, text, PriceRule.of(spec), lambda i: where(rows[i]))
    tick = float(spec.tick_size)
    ticks = values / tick
    rounded = ticks.round(0)
    bad = _first_bad((ticks - rounded).abs() > _TICK_TOLERANCE)
    if bad is not None:
        raise DataError(
            f"{where(rows[bad])}: {name} {text[bad]} is not on the tick of {cid} "
            f"(expected a multiple of {tick:g})"
        )
    return rounded.cast(pl.Int64).rename(f"{name}_ticks")


def _whole(col: pl.Series, name: str, spec: MarketSpec, rows: pl.Series, where: Where) -> pl.Series:
    text = col.cast(pl.Utf8).str.strip_chars()
    values = text.cast(pl.Float64, strict=False)
    blank = text.is_null() | (text == "")
    allowed_blank = blank if name == "open_interest" else blank & False
    wrong = ~allowed_blank & (
        values.is_null() | values.is_nan() | (values != values.round(0)) | (values < 0)
    )
    bad = _first_bad(wrong.fill_null(value=True))
    if bad is not None:
        raise DataError(f"{where(rows[bad])}: {name} {text[bad]!r} is not a whole number >= 0")
    bad = _first_bad((values > spec.max_volume).fill_null(value=False))
    if bad is not None:
        raise DataError(
            f"{where(rows[bad])}: {name} {text[bad]} is above the largest {name} accepted for"
            f" {spec.instrument_id} ({spec.max_volume} lots per bar; max_volume in a spec file"
            " changes it)"
        )
    return values.cast(pl.Int64).rename(name)
