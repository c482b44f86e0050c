"""Continuous-series data per instrument: multiple prices, adjusted series, roll
calendars, and imported roll/instrument config.

Layout: ``<data_dir>/series/<INSTRUMENT>/<kind>.parquet`` with kinds ``multiple``
(held, forward and carry contract prices), ``adjusted`` (Bastion's Panama series),
``adjusted_reference`` and ``roll_calendar_reference`` (as imported, kept for
comparison), ``roll_calendar`` (Bastion's); config as JSON under
``<data_dir>/config/<kind>.json``. Every write is an atomic rename.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from bastion.errors import DataError
from bastion.marketdata._atomic import write_parquet, write_text

__all__ = ["SERIES_KINDS", "SeriesStore"]

SERIES_KINDS = (
    "multiple", "adjusted", "adjusted_reference", "roll_calendar", "roll_calendar_reference",
)  # fmt: skip


class SeriesStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, instrument: str, kind: str) -> Path:
        if kind not in SERIES_KINDS:
            raise ValueError(f"unknown series kind {kind!r}")
        return self.root / "series" / instrument / f"{kind}.parquet"

    def write(self, instrument: str, kind: str, frame: pl.DataFrame) -> None:
        write_parquet(frame, self.path(instrument, kind))

    def has(self, instrument: str, kind: str) -> bool:
        return self.path(instrument, kind).exists()

    def read(self, instrument: str, kind: str) -> pl.DataFrame:
        path = self.path(instrument, kind)
        if not path.exists():
            raise DataError(
                f"no {kind.replace('_', ' ')} data for {instrument} in {self.root} "
                "(import it first: bastion data import-pysystemtrade DIR)"
            )
        return pl.read_parquet(path)

    def instruments(self) -> list[str]:
        base = self.root / "series"
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []

    def write_config(self, kind: str, config: dict[str, Any]) -> None:
        write_text(
            json.dumps(config, indent=1, sort_keys=True), self.root / "config" / f"{kind}.json"
        )

    def read_config(self, kind: str) -> dict[str, Any]:
        path = self.root / "config" / f"{kind}.json"
        if not path.exists():
            return {}
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data
