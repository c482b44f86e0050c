"""Benchmark `bastion data import` on a generated CSV of N one-minute bars; prints JSON.

The file holds five instruments (SP500, NASDAQ, US10, GOLD, CRUDE_W), each in its front
contract of the listed months, 23 hours a weekday, written contract by contract (as
vendors export), with timestamps, prices on the tick, volume and the exchange symbol
(``ESH0``): about 60 bytes a row, so ``--rows 19500000`` is a file of about 1.1 GB. The
import runs as the operator runs it (``bastion data import FILE --data-dir DIR``) in a
child process, and its peak resident memory comes from the kernel's accounting of that
child (wait4).

Figures: ``rows``, ``file_bytes``, ``seconds``, ``rows_per_second``, ``peak_rss_mb``
(the import), ``generate_seconds`` and ``bench_process_peak_rss_mb`` (a floor under the
child's figure: the kernel starts a child's peak at its parent's). Usage:
``python bench/import.py --rows N [--folder DIR] [--keep]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from bastion.marketdata.specs import MarketSpec

INSTRUMENTS = ("SP500", "NASDAQ", "US10", "GOLD", "CRUDE_W")
START = dt.datetime(2010, 1, 4, tzinfo=dt.UTC)
MINUTES_A_DAY = 23 * 60  # a 60-minute pause each day, 21:00-22:00 UTC


def _minutes(count: int) -> np.ndarray:
    """``count`` weekday trading minutes from ``START``, as epoch microseconds."""
    import numpy as np

    days = int(count / MINUTES_A_DAY * 7 / 5) + 8
    day_starts = np.datetime64(START.replace(tzinfo=None), "D") + np.arange(days)
    weekdays = day_starts[np.is_busday(day_starts)]
    offsets = np.concatenate([np.arange(0, 21 * 60), np.arange(22 * 60, 24 * 60)])
    stamps = (weekdays[:, None].astype("datetime64[m]") + offsets[None, :]).ravel()[:count]
    return stamps.astype("datetime64[us]").astype(np.int64)


def _front(stamps: np.ndarray, months: tuple[int, ...]) -> np.ndarray:
    """The front contract (YYYYMM) of each minute: the next listed month after it."""
    import numpy as np

    when = stamps.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
    year, month = when // 12 + 1970, when % 12 + 1
    listed = np.array(sorted(months))
    nxt = np.searchsorted(listed, month, side="right")
    roll = nxt >= len(listed)
    front_month = np.where(roll, listed[0], listed[np.minimum(nxt, len(listed) - 1)])
    return (year + roll) * 100 + front_month


def _symbols(spec: MarketSpec, contracts: np.ndarray) -> list[str]:
    """Exchange symbols (ESH0), as vendors write them: the importer resolves each."""
    import numpy as np

    from bastion.marketdata.specs import venue_symbol

    names = {c: venue_symbol(spec, str(c)) for c in np.unique(contracts).tolist()}
    return [names[c] for c in contracts.tolist()]


def generate(path: Path, rows: int, seed: int = 16) -> None:
    """Write the file (run in its own process: see ``main``)."""
    import numpy as np
    import polars as pl

    from bastion.marketdata.specs import SpecRegistry

    registry = SpecRegistry.bundled()
    rng = np.random.default_rng(seed)
    share = [rows // len(INSTRUMENTS)] * len(INSTRUMENTS)
    share[0] += rows - sum(share)
    with path.open("wb") as handle:
        handle.write(b"timestamp,open,high,low,close,volume,contract\n")
        for instrument, count in zip(INSTRUMENTS, share, strict=True):
            spec = registry[instrument]
            tick = float(spec.tick_size)
            stamps = _minutes(count)
            contracts = _front(stamps, spec.listed_months())
            close = np.maximum(
                np.cumsum(rng.integers(-3, 4, count)) + int(100 / tick), int(10 / tick)
            )
            opened = np.maximum(close + rng.integers(-2, 3, count), 1)
            high = np.maximum(opened, close) + rng.integers(0, 3, count)
            low = np.maximum(np.minimum(opened, close) - rng.integers(0, 3, count), 1)
            frame = pl.DataFrame({
                "ts": stamps, "open": opened * tick, "high": high * tick, "low": low * tick,
                "close": close * tick, "volume": rng.integers(0, 500, count),
                "contract": _symbols(spec, contracts),
            }).with_columns(
                pl.col("ts").cast(pl.Datetime("us")).dt.strftime("%Y-%m-%dT%H:%MZ")
            ).sort("contract", "ts", maintain_order=True)  # fmt: skip
            frame.write_csv(handle, include_header=False, float_precision=None)


def run_import(path: Path, data_dir: Path) -> dict[str, float]:
    """Run the import in a child; its peak RSS comes from wait4's resource usage."""
    log = path.with_suffix(".log")
    start = time.perf_counter()
    with log.open("wb") as output:
        child = subprocess.Popen(  # noqa: S603 - Bastion's own command on a file it just made
            [sys.executable, "-c", "from bastion.cli import main; main()", "data", "import",
             str(path), "--data-dir", str(data_dir)],
            stdout=output, stderr=output,
        )  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"import failed ({child.returncode}): {log.read_text()[-2000:]}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--folder", type=Path, default=None, help="Where to write (temp).")
    parser.add_argument("--keep", action="store_true", help="Keep the file and the store.")
    parser.add_argument("--generate-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_only is not None:
        generate(args.generate_only, args.rows)
        return
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bastion-import-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bars.csv"
    began = time.perf_counter()
    # The file is made in another process: a child's peak RSS starts at its parent's peak
    # (the kernel carries it over at exec), so this process stays small.
    subprocess.run(  # noqa: S603 - this script, generating its own file
        [sys.executable, __file__, "--rows", str(args.rows), "--generate-only", str(path)],
        check=True,
    )
    generated = time.perf_counter() - began
    figures = run_import(path, folder / "data")
    result = {
        "rows": args.rows,
        "file_bytes": path.stat().st_size,
        **figures,
        "rows_per_second": round(args.rows / figures["seconds"]),
        "generate_seconds": round(generated, 1),
        "bench_process_peak_rss_mb": round(_own_peak() / 1024, 1),
        "cpus": os.cpu_count(),
    }
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, indent=1))


def _own_peak() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main()
