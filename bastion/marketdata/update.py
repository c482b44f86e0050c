"""The daily data update from a drop folder (issue 19, item 2): no network, ever.

A vendor download or a recorder writes minute-bar files (CSV or Parquet, the columns
``bastion data import`` reads, with a ``contract`` column) into the profile's
``data.drop_dir``. ``update_from_drop``:

1. imports every ``*.csv`` / ``*.parquet`` file at the top of the folder, all checked
   before anything is written (the importer's rules: revisions only within the latest
   stored trading day, a refusal names the file and line and writes nothing);
2. rebuilds the daily bars of every contract that changed, from its minute bars, for
   the trading days from the last one stored before the import (the shadow run reads
   daily closes, so a drop moves the data date the gate sees);
3. moves the imported files to ``<drop_dir>/imported/<UTC time>/`` so they are never
   imported twice (a refused file stays where it was, for the operator to fix).

Exchange rates arrive the same way: a ``fx*.csv`` file (``currency,rate,date[,source]``,
what ``bastion data fx import`` reads) at the top of the folder is merged into the
profile's dated rates file first, every row checked before anything is written, so the
rates the next session converts with are as fresh as the bars.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId
from bastion.errors import EnvironmentFault
from bastion.files import ensure_folder, problem_of
from bastion.marketdata.bars import BarStore, UpdateResult
from bastion.marketdata.calendars import calendar_for
from bastion.marketdata.fx import import_rates
from bastion.marketdata.importers.files import ImportOptions, import_bar_files
from bastion.marketdata.revisions import RevisionRule
from bastion.marketdata.sample import daily_bars
from bastion.marketdata.specs import SpecRegistry

__all__ = ["DropUpdate", "drop_files", "update_from_drop"]

SUFFIXES = frozenset({".csv", ".parquet"})


@dataclass(slots=True)
class DropUpdate:
    drop_dir: Path
    files: list[Path] = field(default_factory=list)
    """The files imported (where they were found)."""
    moved_to: Path | None = None
    minute: list[UpdateResult] = field(default_factory=list)
    daily: list[UpdateResult] = field(default_factory=list)
    last_days: dict[str, str] = field(default_factory=dict)
    """Per contract that changed: the last trading day with a daily bar."""
    rates: list[str] = field(default_factory=list)
    """One line per exchange rate taken from a ``fx*.csv`` file."""

    def lines(self) -> list[str]:
        if not self.files:
            return [f"data update: no new files in {self.drop_dir}"]
        out = [f"data update: {len(self.files)} file(s) from {self.drop_dir}"]
        out += [f"  {u.line()}" for u in [*self.minute, *self.daily]]
        out += [f"  {cid}: daily bars to {day}" for cid, day in sorted(self.last_days.items())]
        out += [f"  rate {line}" for line in self.rates]
        if self.moved_to is not None:
            out.append(f"  imported files moved to {self.moved_to}")
        return out

    def as_json(self) -> dict[str, object]:
        return {
            "drop_dir": str(self.drop_dir),
            "files": [str(p) for p in self.files],
            "moved_to": str(self.moved_to) if self.moved_to else None,
            "updates": [u.line() for u in [*self.minute, *self.daily]],
            "last_days": dict(self.last_days),
            "rates": list(self.rates),
        }


def is_rates_file(path: Path) -> bool:
    """A rates file in the drop folder: ``fx*.csv``."""
    return path.name.lower().startswith("fx") and path.suffix.lower() == ".csv"


def drop_files(drop_dir: Path) -> list[Path]:
    """The bar and rates files waiting in ``drop_dir`` (top level only), in name order."""
    try:
        return sorted(p for p in drop_dir.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    except FileNotFoundError:
        raise EnvironmentFault(f"drop folder {drop_dir}: does not exist") from None
    except NotADirectoryError:
        raise EnvironmentFault(f"drop folder {drop_dir}: is a file, expected a folder") from None
    except OSError as exc:
        raise EnvironmentFault(
            f"drop folder {drop_dir}: cannot be read ({problem_of(exc)})"
        ) from None


def _last_minute(store: BarStore, cid: ContractId) -> dt.datetime | None:
    if not store.exists(cid, "1m"):
        return None
    value = pl.scan_parquet(store.path(cid, "1m")).select(pl.col("ts").max()).collect().item()
    return value if isinstance(value, dt.datetime) else None


def _rebuild_daily(
    store: BarStore, registry: SpecRegistry, cid: ContractId, since: dt.datetime | None
) -> tuple[UpdateResult, str | None]:
    """Daily bars of ``cid`` from its minute bars, from the trading day of ``since``."""
    spec = registry[parse_contract_id(cid)[0]]
    calendar = calendar_for(spec)
    if since is None:
        daily = daily_bars(store.read(cid, "1m"), calendar)
    else:
        # Whole trading days from the one of ``since`` (a week back covers any session).
        first = calendar.trading_day_of(since)
        minute = store.read(cid, "1m", since - dt.timedelta(days=7))
        daily = daily_bars(minute, calendar).filter(
            pl.col("ts") >= dt.datetime.combine(first, dt.time(), dt.UTC)
        )
    result = store.write(cid, "1d", daily, RevisionRule(days=1))
    last = store.read(cid, "1d")["ts"].max()
    return result, (last.date().isoformat() if isinstance(last, dt.datetime) else None)


def update_from_drop(
    drop_dir: Path,
    data_dir: Path,
    registry: SpecRegistry,
    *,
    now: dt.datetime,
    rates: tuple[Path, str] | None = None,
) -> DropUpdate:
    """Import the files waiting in ``drop_dir`` into ``data_dir``; see the module.
    ``rates``: the profile's rates file and base currency, for ``fx*.csv`` files (without
    it they are left in the folder)."""
    update = DropUpdate(drop_dir=drop_dir)
    waiting = drop_files(drop_dir)
    rate_files = [p for p in waiting if is_rates_file(p)] if rates is not None else []
    files = [p for p in waiting if not is_rates_file(p)]
    for path in rate_files:
        update.rates.extend(import_rates(path, rates[0], rates[1]) if rates else [])
    if not files and not rate_files:
        return update
    store = BarStore(data_dir)
    before = {cid: _last_minute(store, cid) for cid, size in store.contracts() if size == "1m"}
    results = (
        import_bar_files(files, store, registry, ImportOptions(bar_size="1m", now=now))
        if files
        else []
    )
    update.files = [*rate_files, *files]
    changed = sorted({u.contract for r in results for u in r.updates if u.changed})
    update.minute = [u for r in results for u in r.updates]
    for cid in changed:
        result, last = _rebuild_daily(store, registry, cid, before.get(cid))
        update.daily.append(result)
        if last is not None:
            update.last_days[str(cid)] = last
    target = ensure_folder(drop_dir / "imported" / now.strftime("%Y%m%dT%H%M%S%fZ"), "drop folder")
    for path in update.files:
        try:
            shutil.move(path, target / path.name)
        except OSError as exc:
            raise EnvironmentFault(
                f"drop folder {drop_dir}: {path.name} was imported but cannot be moved to"
                f" {target} ({problem_of(exc)}); move it away before the next update"
            ) from None
    update.moved_to = target
    return update
