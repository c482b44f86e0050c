"""Benchmark SQLite's checks on a large journal: ``quick_check`` and ``integrity_check``
against the rest of opening it; prints JSON.

The journal is written as an engine writes it, through the OMS (orders written ahead,
each filled in two parts, with their projections and indexes), in the store's batched
mode so that writing it takes minutes, not hours; what is measured is reading it. Each
figure is the best of ``--repeat`` runs, on a warm page cache (the file was just
written; a cold cache adds the disk's read time to both checks alike).

Figures: ``records``, ``file_bytes``, ``write_seconds``, ``quick_check_seconds``,
``integrity_check_seconds``, ``open_seconds`` (``SqliteStore`` as every command opens a
journal: ``quick_check`` plus the fold of every record), ``store_check_seconds``
(``check_journal``, what ``bastion store check`` runs: ``integrity_check`` plus every
row decoded) and ``integrity_extra_on_open`` (how much longer an open would take with
``integrity_check``, as a fraction). Usage:
``python bench/journal_check.py --records 1000000 [--folder DIR] [--keep] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECORDS_PER_ORDER = 5  # the order written ahead, two fills with their transitions


def _write(path: Path, records: int) -> None:
    from bastion.domain.enums import OrderType, Side
    from bastion.domain.fills import Fill
    from bastion.domain.ids import ClientOrderId, ContractId, ExecId, StrategyId
    from bastion.domain.records import BrokerOrderCreated
    from bastion.domain.venue_events import FillReport
    from bastion.oms import OrderManager
    from bastion.store import SqliteStore
    from bastion.store.sqlite import StoreMode

    contract = ContractId("SP500/202406")
    start = dt.datetime(2024, 3, 1, 14, tzinfo=dt.UTC)
    store = SqliteStore(path, mode=StoreMode.BACKTEST, batch_size=20_000)
    oms = OrderManager(store)
    n = 0
    while store.last_seq < records:
        coid = ClientOrderId(f"o{n}")
        side = Side.BUY if n % 2 else Side.SELL
        oms.write_ahead(
            BrokerOrderCreated(
                timestamp=start,
                client_order_id=coid,
                contract_id=contract,
                side=side,
                quantity=2,
                order_type=OrderType.MARKET,
                strategy_id=StrategyId("ema_trend"),
                reference_ticks=20000,
            )
        )
        for k in (1, 2):
            oms.apply(
                FillReport(
                    fill=Fill(
                        exec_id=ExecId(f"e{n}-{k}"),
                        client_order_id=coid,
                        contract_id=contract,
                        side=side,
                        quantity=1,
                        price_ticks=20000 + n % 7,
                        timestamp=start + dt.timedelta(seconds=n),
                    )
                )
            )
        n += 1
    store.close()


def _best(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def _pragma(path: Path, pragma: str) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        result = db.execute(f"PRAGMA {pragma}").fetchall()
    finally:
        db.close()
    if result != [("ok",)]:
        raise SystemExit(f"{pragma} failed on the generated journal: {result[:3]}")


def _open(path: Path) -> None:
    from bastion.store import SqliteStore

    SqliteStore(path).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the journal")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from bastion.store.check import check_journal

    folder = args.folder or Path(tempfile.mkdtemp(prefix="journal-check-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "journal.db"
    try:
        if not path.exists():
            began = time.perf_counter()
            _write(path, args.records)
            written = time.perf_counter() - began
        else:
            written = 0.0
        _open(path)  # checkpoint the WAL into the file: what a later open finds
        quick = _best(lambda: _pragma(path, "quick_check"), args.repeat)
        integrity = _best(lambda: _pragma(path, "integrity_check"), args.repeat)
        opened = _best(lambda: _open(path), args.repeat)
        checked = _best(lambda: check_journal(path), args.repeat)
        records = check_journal(path).entries
        print(
            json.dumps(
                {
                    "records": records,
                    "file_bytes": path.stat().st_size,
                    "write_seconds": round(written, 2),
                    "quick_check_seconds": round(quick, 3),
                    "integrity_check_seconds": round(integrity, 3),
                    "open_seconds": round(opened, 3),
                    "store_check_seconds": round(checked, 3),
                    "integrity_extra_on_open": round((integrity - quick) / opened, 3),
                    "sqlite": sqlite3.sqlite_version,
                },
                indent=2,
            )
        )
    finally:
        if not args.keep and args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
