"""A copy of a pysystemtrade data folder that Bastion's import guards accept, for tests
that run on the real history.

pysystemtrade's published multiple prices contain roll artifacts: SP500 has a price of
-5.75 (the roll spread stored as a price) on 2018-03-12 16:41:01 and 16:41:02. Bastion
refuses a non-positive price for an instrument whose spec does not allow one (issue 16),
so a test that needs the whole history imports this copy, where such cells are blank
(pysystemtrade's own way of saying "no price"), and can assert which cells those were.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from bastion.marketdata.specs import SpecRegistry

__all__ = ["PRICE_COLUMNS", "guarded_copy"]

PRICE_COLUMNS = ("PRICE", "FORWARD", "CARRY")


def guarded_copy(source: Path, dest: Path) -> list[str]:
    """Copy ``source`` to ``dest`` with non-positive prices of instruments whose spec does
    not allow them blanked; the blanked cells as ``FILE:LINE COLUMN VALUE``."""
    shutil.copytree(source, dest)
    registry = SpecRegistry.bundled()
    blanked: list[str] = []
    for path in sorted((dest / "multiple_prices_csv").glob("*.csv")):
        spec = registry.get(path.stem)
        if spec is not None and spec.negative_prices:
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        header = rows[0]
        columns = [header.index(c) for c in PRICE_COLUMNS]
        for line, row in enumerate(rows[1:], start=2):
            for i in columns:
                if row[i].strip() and float(row[i]) <= 0:
                    blanked.append(f"{path.name}:{line} {header[i]} {row[i]}")
                    row[i] = ""
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)
    return blanked
