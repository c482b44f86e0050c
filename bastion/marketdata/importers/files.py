"""Import bars from CSV or Parquet files into the bar store (R2.4, issue 16).

Columns (header names, case-insensitive): ``timestamp``, ``open``, ``high``, ``low``,
``close``; optional ``volume``, ``open_interest`` and ``contract`` (a contract id
``rb/202510`` or an exchange symbol ``rb2510``). Without a ``contract`` column the
caller names the contract. Timestamps carry their UTC offset (``2024-03-12T09:00+08:00``,
``...Z``); naive timestamps are accepted only when the caller gives the timezone they
are in. What each row must satisfy is in ``convert``.

An import streams: files are read in pieces (``chunks``), each piece is checked and
converted and its bars are spilled to a staging folder inside the data folder, so
memory does not grow with the file. Only when every row of every file has passed are
the bars merged with what is stored (``BarStore.stage``: revisions within the latest
stored trading days are listed, older ones refused unless ``replace``), and only when
every merge has been written are the merged files renamed into place. A refusal names
the file and line; a failure (an unwritable data folder, a full disk) leaves the store
as it was and removes the staging folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId
from bastion.errors import DataError, EnvironmentFault
from bastion.marketdata._atomic import io_problem
from bastion.marketdata.bars import BarStore, Staged, UpdateResult, check_bar_size
from bastion.marketdata.calendars import SessionCalendar, calendar_for
from bastion.marketdata.importers.chunks import CHUNK_BYTES, read_chunks
from bastion.marketdata.importers.convert import LINE, Converter
from bastion.marketdata.revisions import RevisionRule
from bastion.marketdata.specs import SpecRegistry

__all__ = [
    "FileResult",
    "ImportOptions",
    "Progress",
    "import_bar_file",
    "import_bar_files",
    "read_bar_file",
]

Progress = Callable[[Path, int, int, int], None]
"""Called after each piece: the file, rows read so far (all files), done, total."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    bar_size: str = "1m"
    contract: str | None = None
    timezone: str | None = None
    revise_days: int = 1
    """Stored bars of the latest N trading days may be replaced (listed in the results)."""
    replace: bool = False
    """Older stored bars may be replaced too."""
    now: dt.datetime | None = None
    """The time of the import (bars may not start more than 7 days after it)."""
    chunk_bytes: int = CHUNK_BYTES


@dataclass(frozen=True, slots=True)
class FileResult:
    path: Path
    rows: int
    updates: list[UpdateResult]


@dataclass
class _Spill:
    folder: Path
    parts: dict[tuple[int, ContractId], list[Path]] = field(default_factory=dict)
    count: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, index: int, cid: ContractId, bars: pl.DataFrame) -> None:
        path = self.folder / f"{next(self.count):08d}.parquet"
        try:
            bars.write_parquet(path, compression="lz4", statistics=False)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise EnvironmentFault(
                f"data folder {self.folder.parent}: cannot be written ({io_problem(exc)});"
                " nothing was imported"
            ) from None
        self.parts.setdefault((index, cid), []).append(path)


def read_bar_file(
    path: Path,
    registry: SpecRegistry,
    *,
    contract: str | None = None,
    timezone: str | None = None,
    now: dt.datetime | None = None,
) -> dict[ContractId, pl.DataFrame]:
    """Parse and check a whole bar file in memory (small files, tests): bars in ticks per
    contract, nothing written."""
    converter = _converter(Path(path), registry, contract, timezone, now)
    frames: dict[ContractId, list[pl.DataFrame]] = {}
    for chunk in read_chunks(Path(path)):
        for cid, bars in converter.convert(chunk).items():
            frames.setdefault(cid, []).append(bars.drop(LINE))
    if converter.rows == 0:
        raise DataError(f"{path}: no rows")
    return {cid: pl.concat(parts) for cid, parts in frames.items()}


def import_bar_file(
    path: Path, store: BarStore, registry: SpecRegistry, **options: object
) -> list[UpdateResult]:
    """Import one file (``options`` as ``ImportOptions``); results per contract."""
    [result] = import_bar_files([Path(path)], store, registry, ImportOptions(**options))  # type: ignore[arg-type]
    return result.updates


def import_bar_files(
    paths: Iterable[Path],
    store: BarStore,
    registry: SpecRegistry,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
) -> list[FileResult]:
    """Check every row of every file, then merge them into the store, in file order."""
    opts = options or ImportOptions()
    check_bar_size(opts.bar_size)
    files = [Path(p) for p in paths]
    created = _missing_folders(store.root)
    spill = _spill_folder(store.root)
    try:
        rows = _read_all(files, registry, opts, spill, progress)
        return _merge_all(files, rows, store, registry, opts, spill)
    except BaseException:
        shutil.rmtree(spill.folder, ignore_errors=True)
        for folder in created:  # a refused import leaves no data folder it made
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    finally:
        shutil.rmtree(spill.folder, ignore_errors=True)


def _missing_folders(root: Path) -> list[Path]:
    """The folders ``root.mkdir(parents=True)`` would create, deepest first."""
    missing = []
    folder = root.absolute()
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _converter(
    path: Path,
    registry: SpecRegistry,
    contract: str | None,
    timezone: str | None,
    now: dt.datetime | None,
) -> Converter:
    return Converter(
        path, registry, contract, timezone, now if now is not None else dt.datetime.now(dt.UTC)
    )


def _spill_folder(root: Path) -> _Spill:
    try:
        root.mkdir(parents=True, exist_ok=True)
        return _Spill(Path(tempfile.mkdtemp(prefix=".import-", dir=root)))
    except OSError as exc:
        raise EnvironmentFault(
            f"data folder {root}: cannot be written ({exc.strerror}); nothing was imported"
        ) from None


def _read_all(
    files: list[Path],
    registry: SpecRegistry,
    opts: ImportOptions,
    spill: _Spill,
    progress: Progress | None,
) -> list[int]:
    rows: list[int] = []
    seen = 0
    for index, path in enumerate(files):
        converter = _converter(path, registry, opts.contract, opts.timezone, opts.now)
        for chunk in read_chunks(path, opts.chunk_bytes):
            for cid, bars in converter.convert(chunk).items():
                spill.add(index, cid, bars)
            if progress is not None:
                progress(path, seen + converter.rows, chunk.done, chunk.total)
        if converter.rows == 0:
            raise DataError(f"{path}: no rows")
        seen += converter.rows
        rows.append(converter.rows)
    return rows


def _rule(registry: SpecRegistry, cid: ContractId, opts: ImportOptions) -> RevisionRule:
    spec = registry[parse_contract_id(cid)[0]]

    def calendar() -> SessionCalendar | None:
        try:
            return calendar_for(spec)
        except DataError:
            return None

    return RevisionRule(
        days=opts.revise_days,
        replace_history=opts.replace,
        calendar=calendar,
        timezone=spec.contract.timezone,
    )


def _merge_all(  # noqa: PLR0917 - the import's inputs, in reading order
    files: list[Path],
    rows: list[int],
    store: BarStore,
    registry: SpecRegistry,
    opts: ImportOptions,
    spill: _Spill,
) -> list[FileResult]:
    staged: list[Staged] = []
    current: dict[ContractId, Staged] = {}
    results: list[FileResult] = []
    try:
        for index, path in enumerate(files):
            unit = "row " if path.suffix.lower() == ".parquet" else ""

            def where(line: int, path: Path = path, unit: str = unit) -> str:
                return f"{path}:{unit}{line}"

            updates = []
            for (i, cid), parts in sorted(spill.parts.items()):
                if i != index:
                    continue
                base = current[cid].temp if cid in current else None
                item = store.stage(
                    cid,
                    opts.bar_size,
                    pl.scan_parquet(parts),
                    _rule(registry, cid, opts),
                    base=base,
                    where=where,
                )
                staged.append(item)
                if item.temp is not None:
                    current[cid] = item
                updates.append(item.result)
            results.append(FileResult(path, rows[index], updates))
        final = list(current.values())
        store.commit(final)
    except BaseException:
        store.discard(staged)
        raise
    store.discard([s for s in staged if s not in final])
    return results
