"""Import bars from CSV or Parquet files into the bar store (R2.4).

Columns (header names, case-insensitive): ``timestamp``, ``open``, ``high``, ``low``,
``close``; optional ``volume``, ``open_interest`` and ``contract`` (a contract id
``rb/202510`` or an exchange symbol ``rb2510``). Without a ``contract`` column the
caller names the contract. Timestamps carry their UTC offset (``2024-03-12T09:00+08:00``,
``...Z``); naive timestamps are accepted only when the caller gives the timezone they
are in. Timestamps must increase strictly within each contract.

Everything is checked before anything is written; an error names the file and line
(CSV; row for Parquet) and what was expected. Prices are parsed as float64 and must lie
within 1e-6 of a tick of a whole number of ticks; they are stored as integer ticks.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId
from bastion.errors import DataError
from bastion.marketdata.bars import PRICE_COLUMNS, BarStore, UpdateResult, check_bar_size
from bastion.marketdata.specs import SpecRegistry, parse_venue_symbol

__all__ = ["import_bar_file", "read_bar_file"]

_REQUIRED = ("timestamp", "open", "high", "low", "close")
_OPTIONAL = ("volume", "open_interest", "contract")
_TICK_TOLERANCE = 1e-6
_ISO_RE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$"


def import_bar_file(
    path: Path,
    store: BarStore,
    registry: SpecRegistry,
    *,
    bar_size: str = "1m",
    contract: str | None = None,
    timezone: str | None = None,
) -> list[UpdateResult]:
    """Validate the whole file, then merge each contract's bars into the store."""
    frames = read_bar_file(path, registry, contract=contract, timezone=timezone)
    check_bar_size(bar_size)
    return [store.write(cid, bar_size, bars) for cid, bars in sorted(frames.items())]


def read_bar_file(
    path: Path,
    registry: SpecRegistry,
    *,
    contract: str | None = None,
    timezone: str | None = None,
) -> dict[ContractId, pl.DataFrame]:
    """Parse and check a bar file; bars in ticks per contract, nothing written."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw, first_line, unit = _read_csv(path), 2, "line"
    elif suffix == ".parquet":
        raw, first_line, unit = _read_parquet(path), 1, "row"
    else:
        raise DataError(f"{path}: unknown file type {suffix!r}, expected .csv or .parquet")

    def where(i: int) -> str:
        return f"{path}:{unit} {i + first_line}" if unit == "row" else f"{path}:{i + first_line}"

    raw = raw.rename({c: c.strip().lower() for c in raw.columns})
    missing = [c for c in _REQUIRED if c not in raw.columns]
    unknown = [c for c in raw.columns if c not in _REQUIRED + _OPTIONAL]
    if missing or unknown:
        raise DataError(
            f"{path}: wrong columns (missing {missing}, unexpected {unknown}); expected "
            f"{list(_REQUIRED)} and optionally {list(_OPTIONAL)}"
        )
    if raw.height == 0:
        raise DataError(f"{path}: no rows")
    ts = _timestamps(raw["timestamp"], timezone, where)
    contracts = _contract_column(raw, ts, registry, contract, where)
    df = raw.with_columns(ts=ts, contract=contracts).with_row_index("_row")
    out: dict[ContractId, pl.DataFrame] = {}
    for (key,), part in df.group_by("contract", maintain_order=True):
        cid = ContractId(str(key))
        spec = registry[parse_contract_id(cid)[0]]
        out[cid] = _to_ticks(part, float(spec.tick_size), cid, where)
    return out


def _read_csv(path: Path) -> pl.DataFrame:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
            for row in reader:
                if len(row) != len(header):
                    raise DataError(
                        f"{path}:{reader.line_num}: {len(row)} fields, expected {len(header)} "
                        f"({','.join(header)})"
                    )
        except StopIteration:
            raise DataError(f"{path}: empty file, expected a header line") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from exc
    try:
        return pl.read_csv(path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:  # pragma: no cover - the scan above catches these
        raise DataError(f"{path}: malformed CSV ({exc})") from exc


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        df = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
    return df.with_columns(
        pl.col(c).cast(pl.Utf8) for c in df.columns if df.schema[c] != pl.Datetime
    )


def _first_bad(mask: pl.Series) -> int | None:
    return int(mask.arg_max() or 0) if mask.any() else None


def _contract_column(
    raw: pl.DataFrame,
    ts: pl.Series,
    registry: SpecRegistry,
    contract: str | None,
    where: Callable[[int], str],
) -> pl.Series:
    def resolve(text: str, reference: dt.date) -> ContractId:
        if "/" in text:
            try:
                instrument, _ = parse_contract_id(text)
            except ValueError as exc:
                raise DataError(str(exc)) from None
            registry[instrument]  # raises for an unknown instrument
            return ContractId(text)
        return parse_venue_symbol(registry, text, reference)

    if "contract" not in raw.columns:
        if contract is None:
            raise DataError(f"{where(0)}: no 'contract' column; name the contract to import into")
        return pl.Series("contract", [resolve(contract, ts[0].date())] * raw.height)
    values = raw["contract"]
    mapping: dict[str, ContractId] = {}
    for i, text in enumerate(values):
        if text not in mapping:
            try:
                mapping[text] = resolve(str(text or "").strip(), ts[i].date())
            except DataError as exc:
                raise DataError(f"{where(i)}: {exc}") from None
    return values.replace_strict(mapping, return_dtype=pl.Utf8)


def _timestamps(col: pl.Series, timezone: str | None, where: Callable[[int], str]) -> pl.Series:
    if col.dtype == pl.Datetime:
        parsed = col
    else:
        text = col.str.strip_chars()
        parsed = text.str.to_datetime(time_unit="us", strict=False)
        bad = _first_bad(parsed.is_null() | ~text.str.contains(_ISO_RE).fill_null(value=False))
        if bad is not None:
            raise DataError(
                f"{where(bad)}: timestamp {text[bad]!r} is not ISO 8601 "
                "(expected e.g. 2024-03-12T09:00:00+08:00)"
            )
    tz = getattr(parsed.dtype, "time_zone", None)
    if tz is None:
        if timezone is None:
            raise DataError(
                f"{where(0)}: timestamp {col[0]!r} has no UTC offset; "
                "add one or give the timezone the file is in"
            )
        parsed = parsed.dt.replace_time_zone(timezone, ambiguous="raise", non_existent="raise")
    return parsed.dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def _to_ticks(
    part: pl.DataFrame, tick: float, cid: ContractId, where: Callable[[int], str]
) -> pl.DataFrame:
    rows = part["_row"]
    order = part["ts"].diff().dt.total_microseconds().fill_null(1)
    bad = _first_bad(order <= 0)
    if bad is not None:
        kind = "duplicate" if order[bad] == 0 else "out-of-order"
        raise DataError(
            f"{where(rows[bad])}: {kind} timestamp {part['ts'][bad]} for {cid}; "
            "expected strictly increasing timestamps"
        )
    columns = {}
    for name in ("open", "high", "low", "close"):
        columns[f"{name}_ticks"] = _price_ticks(part[name], tick, rows, cid, where=where)
    for name in ("volume", "open_interest"):
        if name in part.columns:
            values = part[name].str.strip_chars().cast(pl.Float64, strict=False)
            bad = _first_bad(values.is_null() | (values != values.round(0)) | (values < 0))
            if bad is not None and not (name == "open_interest" and part[name][bad] in ("", None)):
                raise DataError(
                    f"{where(rows[bad])}: {name} {part[name][bad]!r} is not a whole number >= 0"
                )
            columns[name] = values.cast(pl.Int64)
        else:
            columns[name] = pl.Series(name, [0 if name == "volume" else None] * part.height)
    bars = pl.DataFrame({"ts": part["ts"], **columns})
    o, h, lo, c = (pl.col(x) for x in PRICE_COLUMNS)
    broken = _first_bad(
        bars.select((h < pl.max_horizontal(o, c, lo)) | (lo > pl.min_horizontal(o, c))).to_series()
    )
    if broken is not None:
        raise DataError(f"{where(rows[broken])}: high/low do not contain open and close for {cid}")
    return bars


def _price_ticks(
    col: pl.Series,
    tick: float,
    rows: pl.Series,
    cid: ContractId,
    *,
    where: Callable[[int], str],
) -> pl.Series:
    name = str(col.name)
    text = col.cast(pl.Utf8).str.strip_chars()
    values = text.cast(pl.Float64, strict=False)
    bad = _first_bad(values.is_null() | values.is_nan() | values.is_infinite())
    if bad is not None:
        raise DataError(f"{where(rows[bad])}: {name} {text[bad]!r} is not a number")
    ticks = values / tick
    rounded = ticks.round(0)
    bad = _first_bad((ticks - rounded).abs() > _TICK_TOLERANCE)
    if bad is not None:
        raise DataError(
            f"{where(rows[bad])}: {name} {text[bad]} is not on the tick of {cid} "
            f"(expected a multiple of {tick:g})"
        )
    return rounded.cast(pl.Int64).rename(f"{name}_ticks")
