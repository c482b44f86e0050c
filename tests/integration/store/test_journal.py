"""Invariants of the store: the journal is append-only with gap-free sequence numbers and
UTC microsecond timestamps; live mode is durable, backtest mode relaxed; fills are unique
by execution id even at the database level; projections equal a rebuild from the journal;
the write-ahead record exists before any venue could see the order."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from bastion.clock import SimClock, utc
from bastion.domain.enums import OrderType, Side
from bastion.domain.fills import Fill
from bastion.domain.ids import (
    ClientOrderId,
    ContractId,
    ExecId,
    InstrumentId,
    OrderId,
    StrategyId,
    VenueOrderId,
)
from bastion.domain.order_state import OrderState
from bastion.domain.records import (
    BrokerOrderCreated,
    ContractOrderCreated,
    FamilyCompleted,
    FillRecorded,
    InstrumentOrderCreated,
)
from bastion.domain.venue_events import Acknowledged, FillReport
from bastion.errors import InvariantError, JournalError
from bastion.oms import OrderManager
from bastion.store import SqliteStore, StoreMode
from bastion.store.migrations import SCHEMA_VERSION

T0 = utc(2024, 3, 1, 14)
ES = InstrumentId("ES")
CONTRACT = ContractId("ES/202406")


def _family(oms: OrderManager, quantity: int = 3) -> None:
    oms.record(
        InstrumentOrderCreated(
            timestamp=T0,
            order_id=OrderId("i1"),
            strategy_id=StrategyId("trend"),
            instrument_id=ES,
            side=Side.BUY,
            quantity=quantity,
        ),
        ContractOrderCreated(
            timestamp=T0,
            order_id=OrderId("c1"),
            instrument_id=ES,
            contract_id=CONTRACT,
            side=Side.BUY,
            quantity=quantity,
            parent_id=OrderId("i1"),
        ),
    )
    oms.write_ahead(
        BrokerOrderCreated(
            timestamp=T0,
            client_order_id=ClientOrderId("b1"),
            contract_id=CONTRACT,
            side=Side.BUY,
            quantity=quantity,
            order_type=OrderType.MARKET,
            parent_id=OrderId("c1"),
        )
    )


def _fill(exec_id: str, quantity: int, seconds: int = 1) -> FillReport:
    return FillReport(
        fill=Fill(
            exec_id=ExecId(exec_id),
            client_order_id=ClientOrderId("b1"),
            contract_id=CONTRACT,
            side=Side.BUY,
            quantity=quantity,
            price_ticks=16000,
            timestamp=T0 + dt.timedelta(seconds=seconds),
        )
    )


def test_store_family_fills_propagate_and_complete_to_history(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "j.db")
    oms = OrderManager(store)
    _family(oms)
    oms.apply(
        Acknowledged(
            client_order_id=ClientOrderId("b1"), venue_order_id=VenueOrderId("V"), timestamp=T0
        )
    )
    oms.apply(_fill("e1", 1))
    oms.apply(_fill("e2", 2, 2))
    book = store.book
    assert book.broker_order(ClientOrderId("b1")).state is OrderState.FILLED  # type: ignore[union-attr]
    assert book.contract_orders[OrderId("c1")].filled == 3
    assert book.instrument_orders[OrderId("i1")].filled == 3
    assert book.positions.strategy_position(StrategyId("trend"), ES) == 3
    assert book.positions.contract_position(CONTRACT) == 3
    oms.record(FamilyCompleted(timestamp=T0, order_id=OrderId("i1")))
    rows = store.table_rows()
    assert not rows.live
    assert set(rows.history) == {("instrument", "i1"), ("contract", "c1"), ("broker", "b1")}
    assert rows == store.rebuilt_rows()


def test_store_reopen_rebuilds_same_book(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with SqliteStore(path, mode=StoreMode.BACKTEST) as store:
        oms = OrderManager(store)
        _family(oms)
        oms.apply(_fill("e1", 2))
        before = store.table_rows()
    reopened = SqliteStore(path)
    assert reopened.table_rows() == before
    assert reopened.rebuilt_rows() == before
    assert reopened.book.positions.contract_position(CONTRACT) == 2
    assert reopened.last_seq == 5  # three orders, then a fill and its transition


def test_journal_entries_monotonic_utc_microseconds_with_correlation(tmp_path: Path) -> None:
    clock = SimClock(utc(2024, 3, 1, 14, 0, 0) + dt.timedelta(microseconds=123456))
    store = SqliteStore(tmp_path / "j.db", clock=clock)
    store.correlation_id = "target:trend:ES:1"
    _family(OrderManager(store))
    entries = list(store.entries())
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].ts_us % 1_000_000 == 123456
    assert {e.correlation_id for e in entries} == {"target:trend:ES:1"}
    assert [e.event_type for e in entries] == [
        "instrument_order.created",
        "contract_order.created",
        "broker_order.created",
    ]


def test_store_duplicate_exec_id_refused_and_nothing_written(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "j.db")
    oms = OrderManager(store)
    _family(oms)
    oms.apply(_fill("e1", 1))
    seq = store.last_seq
    with pytest.raises(InvariantError, match="applied twice"):
        store.record([FillRecorded(timestamp=T0, fill=_fill("e1", 1).fill)])
    assert store.last_seq == seq
    with pytest.raises(JournalError, match="refuses writes"):
        store.record([FillRecorded(timestamp=T0, fill=_fill("e9", 1).fill)])
    reopened = SqliteStore(tmp_path / "j.db")
    assert reopened.last_seq == seq
    assert reopened.book.positions.contract_position(CONTRACT) == 1


def test_store_write_ahead_record_is_durable_before_return(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = SqliteStore(path)
    _family(OrderManager(store))
    # A second connection (another process would see the same) finds the order already.
    other = sqlite3.connect(path)
    types = [r[0] for r in other.execute("SELECT event_type FROM journal ORDER BY seq")]
    assert types[-1] == "broker_order.created"


def test_store_modes_set_durability_pragmas(tmp_path: Path) -> None:
    live = SqliteStore(tmp_path / "live.db", mode=StoreMode.LIVE)
    relaxed = SqliteStore(tmp_path / "bt.db", mode=StoreMode.BACKTEST)
    assert live._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert live._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert relaxed._db.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF


def test_store_migrations_versioned_and_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = SqliteStore(path)
    assert store.schema_version == SCHEMA_VERSION
    store.close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="newer than this"):
        SqliteStore(path)


def test_store_corrupt_payload_reported_with_sequence(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = SqliteStore(path)
    _family(OrderManager(store))
    store.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE journal SET payload = ? WHERE seq = 2", (b"{not json",))
    db.commit()
    db.close()
    with pytest.raises(JournalError, match=r"journal entry 2 \(contract_order.created\)"):
        SqliteStore(path)


def test_store_rebuild_projections_repairs_tampered_tables(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "j.db")
    _family(OrderManager(store))
    store._db.execute("DELETE FROM live_orders")
    assert not store.verify_projections()
    store.rebuild_projections()
    assert store.verify_projections()


def test_state_persists_across_reopen(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "j.db")
    store.set_state("risk.day_start_equity", "1000000")
    store.close()
    assert SqliteStore(tmp_path / "j.db").get_state("risk.day_start_equity") == "1000000"
