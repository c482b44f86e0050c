"""Import a pysystemtrade data folder (issue 4): how its users move their data over.

Expected layout (pysystemtrade's ``data/futures``)::

    multiple_prices_csv/<INSTRUMENT>.csv   DATETIME,PRICE_CONTRACT,FORWARD_CONTRACT,
                                           CARRY_CONTRACT,PRICE,FORWARD,CARRY
    adjusted_prices_csv/<INSTRUMENT>.csv   DATETIME,ADJ
    roll_calendars_csv/<INSTRUMENT>.csv    DATE_TIME,current_contract,next_contract,
                                           carry_contract
    csvconfig/instrumentconfig.csv         Instrument,Pointsize,AssetClass,Currency,...
    csvconfig/rollconfig.csv               Instrument,HoldRollCycle,RollOffsetDays,
                                           CarryOffset,PricedRollCycle,ExpiryOffset

pysystemtrade's timestamps are naive; Bastion reads them as UTC. Multiple prices may
repeat a timestamp (real data does) but must not go backwards. Contracts are
``YYYYMM`` (``YYYYMMDD`` with day ``00`` in roll calendars). Every file is validated
before anything is written; errors name the file and line.

The same guards as ``bastion data import`` (issue 16; ``convert.check_dates`` and
``convert.check_prices``): timestamps between 1800 and a week after the import; prices
finite, positive unless the instrument's spec allows negative prices (``negative_prices``)
and no larger than its ``max_price`` (an instrument without a spec: positive and at most
a billion); adjusted prices (a Panama series may go below zero) finite and within the same
size. Multiple prices are merged into the stored ones (``series_merge``): revisions of the
latest stored days are listed, older history is replaced only with ``replace_history``.
The reference series (adjusted prices, roll calendar) are kept as the folder has them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bastion.errors import DataError
from bastion.marketdata.importers.convert import PriceRule, check_dates, check_prices
from bastion.marketdata.importers.series_merge import SeriesMerge, merge_series
from bastion.marketdata.revisions import RevisionRule
from bastion.marketdata.series import SeriesStore
from bastion.marketdata.specs import SpecRegistry

__all__ = [
    "ImportSummary",
    "import_pysystemtrade",
    "read_adjusted_prices",
    "read_config_csv",
    "read_multiple_prices",
    "read_roll_calendar",
]

MULTIPLE_COLUMNS = (
    "DATETIME", "PRICE_CONTRACT", "FORWARD_CONTRACT", "CARRY_CONTRACT", "PRICE", "FORWARD", "CARRY",
)  # fmt: skip
ROLL_CONFIG_COLUMNS = ("Instrument", "HoldRollCycle", "RollOffsetDays", "ExpiryOffset")
INSTRUMENT_CONFIG_COLUMNS = ("Instrument", "Pointsize", "Currency")
_TS_RE = r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d+)?)?$"


@dataclass
class ImportSummary:
    instruments: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    configs: list[str] = field(default_factory=list)
    merges: dict[str, SeriesMerge] = field(default_factory=dict)
    """How each instrument's multiple prices merged with the stored ones."""


def _read_strings(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    try:
        df = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{path}: wrong columns, missing {missing}; expected {list(columns)}")
    if df.height == 0:
        raise DataError(f"{path}: no rows")
    return df


def _line(i: int) -> int:
    return i + 2


def _timestamps(
    df: pl.DataFrame, column: str, path: Path, *, allow_repeats: bool, now: dt.datetime | None
) -> pl.Series:
    text = df[column].str.strip_chars()
    ts = text.str.to_datetime(time_unit="us", strict=False)
    bad = ts.is_null() | ~text.str.contains(_TS_RE).fill_null(value=False)
    if bad.any():
        i = int(bad.arg_max() or 0)
        raise DataError(f"{path}:{_line(i)}: {column} {text[i]!r} is not 'YYYY-MM-DD HH:MM:SS'")
    step = ts.diff().dt.total_microseconds().fill_null(1)
    wrong = step < 0 if allow_repeats else step <= 0
    if wrong.any():
        i = int(wrong.arg_max() or 0)
        kind = "duplicate" if step[i] == 0 else "earlier"
        raise DataError(
            f"{path}:{_line(i)}: {kind} timestamp {text[i]} after {text[i - 1]}; "
            f"expected {'non-decreasing' if allow_repeats else 'strictly increasing'} times"
        )
    utc = ts.dt.replace_time_zone("UTC")
    check_dates(utc, text, now or dt.datetime.now(dt.UTC), lambda i: f"{path}:{_line(i)}")
    return utc


def _floats(
    df: pl.DataFrame, column: str, path: Path, *, required: bool, rule: PriceRule
) -> pl.Series:
    text = df[column].str.strip_chars()
    values = text.cast(pl.Float64, strict=False)
    given = text.is_not_null() & (text != "")
    bad = (given & values.is_null()) | (values.is_nan().fill_null(value=False))
    if required:
        bad = bad | ~given
    if bad.any():
        i = int(bad.arg_max() or 0)
        raise DataError(f"{path}:{_line(i)}: {column} {text[i]!r} is not a number")
    check_prices(values, text.rename(column), rule, lambda i: f"{path}:{_line(i)}")
    return values


def _contracts(df: pl.DataFrame, column: str, path: Path, *, digits: int) -> pl.Series:
    text = df[column].str.strip_chars()
    pattern = r"^\d{6}$" if digits == 6 else r"^\d{6}(00)?$"
    bad = ~text.str.contains(pattern).fill_null(value=False)
    if not bad.any():
        months = text.str.slice(4, 2).cast(pl.Int32)
        bad = (months < 1) | (months > 12)
    if bad.any():
        i = int(bad.arg_max() or 0)
        raise DataError(f"{path}:{_line(i)}: {column} {text[i]!r} is not a contract month YYYYMM")
    return text.str.slice(0, 6)


def read_multiple_prices(
    path: Path, rule: PriceRule | None = None, now: dt.datetime | None = None
) -> pl.DataFrame:
    """Multiple prices as ``ts`` (UTC), contracts (``YYYYMM``) and Float64 prices,
    checked against ``rule`` (default: positive, at most a billion) and ``now``."""
    df = _read_strings(path, MULTIPLE_COLUMNS)
    rule = rule or PriceRule(path.stem)
    return pl.DataFrame({
        "ts": _timestamps(df, "DATETIME", path, allow_repeats=True, now=now),
        "price_contract": _contracts(df, "PRICE_CONTRACT", path, digits=6),
        "forward_contract": _contracts(df, "FORWARD_CONTRACT", path, digits=6),
        "carry_contract": _contracts(df, "CARRY_CONTRACT", path, digits=6),
        "price": _floats(df, "PRICE", path, required=False, rule=rule),
        "forward": _floats(df, "FORWARD", path, required=False, rule=rule),
        "carry": _floats(df, "CARRY", path, required=False, rule=rule),
    })  # fmt: skip


def read_adjusted_prices(
    path: Path, rule: PriceRule | None = None, now: dt.datetime | None = None
) -> pl.DataFrame:
    """An adjusted series as ``ts`` (UTC) and ``adj`` (Float64, null where blank); any
    sign, within ``rule``'s size."""
    df = _read_strings(path, ("DATETIME", "ADJ"))
    signed = PriceRule(path.stem, negative=True, limit=(rule or PriceRule(path.stem)).limit)
    return pl.DataFrame({
        "ts": _timestamps(df, "DATETIME", path, allow_repeats=True, now=now),
        "adj": _floats(df, "ADJ", path, required=False, rule=signed),
    })  # fmt: skip


def read_roll_calendar(path: Path, now: dt.datetime | None = None) -> pl.DataFrame:
    """A roll calendar as ``ts`` (UTC), ``current``/``next``/``carry`` (``YYYYMM``)."""
    df = _read_strings(path, ("DATE_TIME", "current_contract", "next_contract", "carry_contract"))
    return pl.DataFrame({
        "ts": _timestamps(df, "DATE_TIME", path, allow_repeats=False, now=now),
        "current": _contracts(df, "current_contract", path, digits=8),
        "next": _contracts(df, "next_contract", path, digits=8),
        "carry": _contracts(df, "carry_contract", path, digits=8),
    })  # fmt: skip


def read_config_csv(path: Path, columns: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """A config CSV keyed by its ``Instrument`` column; repeats are an error."""
    df = _read_strings(path, columns)
    result: dict[str, dict[str, str]] = {}
    for i, row in enumerate(df.iter_rows(named=True)):
        name = (row["Instrument"] or "").strip()
        if not name or name in result:
            raise DataError(f"{path}:{_line(i)}: instrument {name!r} is empty or repeated")
        result[name] = {k: (v or "").strip() for k, v in row.items()}
    return result


def _check_roll_config(config: dict[str, dict[str, str]], path: Path) -> None:
    for i, (name, row) in enumerate(config.items()):
        cycle = row["HoldRollCycle"]
        if not cycle or any(c not in "FGHJKMNQUVXZ" for c in cycle):
            raise DataError(
                f"{path}:{_line(i)}: {name} HoldRollCycle {cycle!r} is not month letters"
            )
        for key in ("RollOffsetDays", "ExpiryOffset"):
            try:
                int(row[key])
            except ValueError:
                raise DataError(
                    f"{path}:{_line(i)}: {name} {key} {row[key]!r} is not an integer"
                ) from None


def _price_rule(registry: SpecRegistry, name: str) -> PriceRule:
    spec = registry.get(name)
    return PriceRule.of(spec) if spec is not None else PriceRule(name)


def import_pysystemtrade(
    folder: Path,
    store: SeriesStore,
    registry: SpecRegistry | None = None,
    rule: RevisionRule | None = None,
    now: dt.datetime | None = None,
) -> ImportSummary:
    """Validate every file of the folder and merge each instrument's multiple prices
    with the stored ones (``rule``: which stored rows may be revised), then write them
    all into ``store``; a refusal writes nothing."""
    folder = Path(folder)
    registry = registry if registry is not None else SpecRegistry.bundled()
    rule = rule or RevisionRule()
    now = now or dt.datetime.now(dt.UTC)
    multiple_dir = folder / "multiple_prices_csv"
    if not multiple_dir.is_dir():
        raise DataError(f"{folder}: not a pysystemtrade data folder (no multiple_prices_csv/)")
    staged: dict[str, dict[str, pl.DataFrame]] = {}
    for path in sorted(multiple_dir.glob("*.csv")):
        name = path.stem
        prices = _price_rule(registry, name)
        parts = {"multiple": read_multiple_prices(path, prices, now)}
        adjusted = folder / "adjusted_prices_csv" / path.name
        if adjusted.exists():
            parts["adjusted_reference"] = read_adjusted_prices(adjusted, prices, now)
        rolls = folder / "roll_calendars_csv" / path.name
        if rolls.exists():
            parts["roll_calendar_reference"] = read_roll_calendar(rolls, now)
        staged[name] = parts
    if not staged:
        raise DataError(f"{multiple_dir}: no <INSTRUMENT>.csv files")
    configs: dict[str, dict[str, dict[str, str]]] = {}
    roll_path = folder / "csvconfig" / "rollconfig.csv"
    if roll_path.exists():
        configs["rollconfig"] = read_config_csv(roll_path, ROLL_CONFIG_COLUMNS)
        _check_roll_config(configs["rollconfig"], roll_path)
    instrument_path = folder / "csvconfig" / "instrumentconfig.csv"
    if instrument_path.exists():
        configs["instrumentconfig"] = read_config_csv(instrument_path, INSTRUMENT_CONFIG_COLUMNS)

    summary = ImportSummary()
    for name, parts in staged.items():
        stored = store.read(name, "multiple") if store.has(name, "multiple") else None
        path = multiple_dir / f"{name}.csv"
        summary.merges[name] = merge_series(parts["multiple"], stored, rule, path, name)
        summary.rows[name] = parts["multiple"].height
    for name, parts in staged.items():
        parts["multiple"] = summary.merges[name].frame
        for kind, frame in parts.items():
            store.write(name, kind, frame)
        summary.instruments.append(name)
    for kind, config in configs.items():
        store.write_config(kind, config)
        summary.configs.append(kind)
    return summary
