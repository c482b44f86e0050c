"""Invariant: a process killed (SIGKILL) mid-write loses no committed journal event and
leaves none half-written: every entry reads back, sequence numbers have no gap, every
event the writer saw committed is there, and the projections equal a rebuild."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bastion.store import SqliteStore

WRITER = textwrap.dedent(
    """
    import sys, datetime as dt
    from bastion.store import SqliteStore
    from bastion.oms import OrderManager
    from bastion.domain.records import BrokerOrderCreated
    from bastion.domain.venue_events import FillReport
    from bastion.domain.fills import Fill
    from bastion.domain.enums import OrderType, Side
    from bastion.domain.ids import ClientOrderId, ContractId, ExecId, StrategyId

    store = SqliteStore(sys.argv[1])
    oms = OrderManager(store)
    start = len(store.book.broker_orders) + len(store.book.history)
    t = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    for n in range(start, start + 100000):
        coid = ClientOrderId(f"o{n}")
        oms.write_ahead(BrokerOrderCreated(
            timestamp=t, client_order_id=coid, contract_id=ContractId("ES/202403"),
            side=Side.BUY, quantity=2, order_type=OrderType.MARKET,
            strategy_id=StrategyId("s"), reference_ticks=16000,
        ))
        print(store.last_seq, flush=True)
        for k in (1, 2):
            oms.apply(FillReport(fill=Fill(
                exec_id=ExecId(f"e{n}-{k}"), client_order_id=coid,
                contract_id=ContractId("ES/202403"), side=Side.BUY, quantity=1,
                price_ticks=16000 + k, timestamp=t,
            )))
            print(store.last_seq, flush=True)
    """
)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_journal_sigkill_mid_write_loses_nothing_committed(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "live" / "journal.db"
    path.parent.mkdir()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    for _round in range(2):  # kill, then kill again after a restart on the same journal
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        seen = 0
        target = rng.randint(5, 120)
        for line in proc.stdout:
            seen = int(line)
            if seen >= target:
                time.sleep(rng.random() * 0.02)  # land inside a later write
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        store = SqliteStore(path)
        entries = list(store.entries())
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
        assert len(entries) >= seen
        assert store.verify_projections()
        book = store.book
        filled = sum(o.filled for o in (*book.broker_orders.values(), *book.history.values()))  # type: ignore[union-attr]
        assert (
            book.positions.contract_position(
                book_contract := next(iter(book.positions.contract))[1]
            )
            == filled
        )
        assert book_contract == "ES/202403"
        store.close()
