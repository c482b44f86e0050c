"""Journals for the store tests: written through the OMS as an engine writes them, a
profile that points at one, and the ways a file on disk gets damaged."""

from __future__ import annotations

import datetime as dt
import random
import textwrap
from pathlib import Path

import yaml

from bastion.domain.enums import OrderType, Side
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, StrategyId
from bastion.domain.records import BrokerOrderCreated
from bastion.domain.venue_events import FillReport
from bastion.oms import OrderManager
from bastion.store import SqliteStore
from tests.conftest import REPO

CONTRACT = ContractId("SP500/202406")
T0 = dt.datetime(2024, 3, 1, 14, tzinfo=dt.UTC)

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tests.integration.store.journals import write_orders
    from bastion.store import SqliteStore

    store = SqliteStore(sys.argv[1])
    for n in range(int(sys.argv[2]), 10**9):
        write_orders(store, n, n + 1)
        print(store.last_seq, flush=True)
    """
)


def write_orders(store: SqliteStore, first: int, last: int) -> None:
    """Orders ``first..last-1``: each written ahead, then filled in two parts."""
    oms = OrderManager(store)
    for n in range(first, last):
        coid = ClientOrderId(f"o{n}")
        oms.write_ahead(
            BrokerOrderCreated(
                timestamp=T0,
                client_order_id=coid,
                contract_id=CONTRACT,
                side=Side.BUY if n % 3 else Side.SELL,
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
                        contract_id=CONTRACT,
                        side=Side.BUY if n % 3 else Side.SELL,
                        quantity=1,
                        price_ticks=20000 + n % 7,
                        timestamp=T0 + dt.timedelta(seconds=n),
                    )
                )
            )


def write_journal(path: Path, orders: int = 400) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(path)
    write_orders(store, 0, orders)
    store.close()
    return path


def sim_profile(folder: Path) -> Path:
    """The bundled sim profile with its journal, records and data under ``folder``."""
    raw = yaml.safe_load((REPO / "examples" / "sim.yaml").read_text())
    raw["store"] = {"path": str(folder / "sim" / "journal.db")}
    raw["records_dir"] = str(folder / "sim" / "records")
    raw["data"] = {"dir": str(folder / "data"), "sample": False}
    raw.pop("pool", None)
    path = folder / "sim.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def scribble(path: Path, seed: int, size: int = 8192) -> int:
    """Write ``size`` random bytes at a random place in the middle half of the file."""
    rng = random.Random(seed)
    length = path.stat().st_size
    offset = rng.randrange(length // 4, 3 * length // 4 - size)
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(rng.randbytes(size))
    return offset
