"""The journal and its projections in SQLite (WAL), the embedded default store (R5.1).

- ``record(records)`` is the write-ahead path: in one transaction it appends the
  records to the journal, folds them into the book and updates the projection tables.
  In LIVE mode it commits with ``synchronous=FULL`` before returning, so a record the
  caller saw return is on disk. In BACKTEST mode commits are batched and relaxed.
- A failed write or fold rolls the transaction back; the store then refuses further
  writes (its book may be ahead of the disk) until it is reopened from the journal.
- Projections (live orders per level, order history, both position tables) can be
  rebuilt from the journal, and ``verify_projections`` proves the tables equal a rebuild.
- ``path`` is a file, ``":memory:"``, or an SQLite URI (``file:name?mode=memory&cache=shared``)
  naming a database several connections share: an in-memory store that outlives one
  engine (the deterministic simulation crashes an engine and rebuilds it from it).
- ``on_commit``, when set, is called after every durable commit (a journal write, a
  state write, a target write) with nothing pending: the simulation's crash points.
- An existing file is checked before it is used (``bastion.store.check``): a directory,
  a zero-byte file, a file that is not a Bastion journal, one failing SQLite's quick
  check, an unreadable row or a sequence gap raise ``JournalUnusable`` (a
  ``JournalError``), one line naming the runbook and the restore command.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from types import TracebackType

import msgspec

from bastion.clock import Clock, WallClock
from bastion.domain.book import Book
from bastion.domain.orders import BrokerOrder, ContractOrder, InstrumentOrder
from bastion.domain.records import (
    Allocation,
    FillRecorded,
    ForeignFillRecorded,
    JournalRecord,
    TradeCorrected,
    record_type,
)
from bastion.errors import JournalError, JournalWriteFailed
from bastion.store.check import check_connection, check_file, unusable
from bastion.store.migrations import MIGRATIONS, SCHEMA_VERSION
from bastion.store.projection import Rows, affected_orders, order_key, order_row, rows_of

__all__ = ["JournalEntry", "SqliteStore", "StoreMode"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DISK_REFUSALS = ("disk is full", "disk I/O error", "readonly database", "read-only")
_decoder = msgspec.json.Decoder(JournalRecord)
_encoder = msgspec.json.Encoder()


def _record_key(record: JournalRecord) -> tuple[str, str]:
    """The order a record is about, for de-duplicating projection work."""
    if isinstance(record, FillRecorded | ForeignFillRecorded):
        return "broker", record.fill.client_order_id
    for attr in ("client_order_id", "order_id", "instrument_order_id"):
        value = getattr(record, attr, None)
        if value is not None:
            return attr, value
    return "none", ""


class StoreMode(StrEnum):
    LIVE = "live"  # durable: synchronous=FULL, commit before every return
    BACKTEST = "backtest"  # relaxed: synchronous=OFF, commits batched


class JournalEntry(msgspec.Struct, frozen=True):
    seq: int
    ts_us: int
    correlation_id: str
    event_type: str
    record: JournalRecord


def to_us(when: dt.datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class SqliteStore:
    def __init__(
        self,
        path: Path | str,
        *,
        mode: StoreMode = StoreMode.LIVE,
        clock: Clock | None = None,
        batch_size: int = 2000,
    ) -> None:
        self.path = Path(path)
        self.mode = mode
        self._clock: Clock = clock if clock is not None else WallClock()
        self._batch_size = batch_size if mode is StoreMode.BACKTEST else 1
        self._pending = 0
        self._poisoned: str | None = None
        self._dirty_orders: dict[
            tuple[str, str], InstrumentOrder | ContractOrder | BrokerOrder
        ] = {}
        self._dirty_positions = False
        self._pending_records: list[JournalRecord] = []
        self._journal_rows: list[tuple[int, int, str, str, bytes]] = []
        self._exec_rows: list[tuple[str, int]] = []
        self.correlation_id = ""
        self.foreign_writes = 0
        """How many times another process had written when this one wrote."""
        self.on_commit: Callable[[], None] | None = None
        """Called after every durable commit (see the module docstring)."""
        uri = isinstance(path, str) and path.startswith("file:")
        existing = uri or (str(path) != ":memory:" and check_file(self.path))
        if not existing and str(path) != ":memory:":
            existing = _create(self.path)
        try:
            self._db = sqlite3.connect(path if uri else self.path, isolation_level=None, uri=uri)
        except sqlite3.Error as exc:
            raise unusable(self.path, f"cannot be opened ({exc})", runbook=False) from exc
        try:
            if existing:
                check_connection(self._db, self.path, thorough=True)
            self._db.execute("PRAGMA journal_mode=WAL")
            sync = "FULL" if mode is StoreMode.LIVE else "OFF"
            self._db.execute(f"PRAGMA synchronous={sync}")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self._book = self._fold_journal()
            self._seq = self._max_seq()
        except BaseException as exc:
            self._db.close()
            if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, I/O
                raise unusable(self.path, f"cannot be used ({exc})", runbook=False) from exc
            if isinstance(exc, sqlite3.DatabaseError):  # malformed, not a database
                raise unusable(self.path, f"is damaged ({exc})") from exc
            raise

    # -- lifecycle -----------------------------------------------------------------------
    def _migrate(self) -> None:
        _migrate(self._db, self.path)

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    def close(self) -> None:
        failed_before = self._poisoned is not None
        try:
            self.flush()
        except (sqlite3.Error, JournalError):
            if not failed_before:
                raise
            # The disk refused the rebuild after an earlier failure too: what is on disk
            # is the last commit (a failed batch is rolled back whole), consistent as is.
        finally:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the ledger ----------------------------------------------------------------------
    @property
    def book(self) -> Book:
        return self._book

    @property
    def last_seq(self) -> int:
        return self._seq

    def record(self, records: Sequence[JournalRecord]) -> None:
        if self._poisoned is not None:
            raise JournalError(
                f"the store refuses writes after an earlier failure: {self._poisoned}"
            )
        if not records:
            return
        # LIVE: each call is its own transaction, committed before it returns.
        # BACKTEST: rows are buffered and written, with the projections, in one
        # transaction per batch (``flush``); a failure drops the whole batch (back to the
        # last commit), and the store then rebuilds its book and projections from the
        # journal, so nothing half-written survives either way.
        live = self.mode is StoreMode.LIVE
        try:
            now_us = to_us(self._clock.now())
            if live:
                # The sequence number is taken inside the write transaction: another
                # process (an operator's command) may have written since our last write;
                # its records are folded into this book first, then ours follow.
                self._db.execute("BEGIN IMMEDIATE")
                self._catch_up()
            seq = self._seq
            rows = []
            fills: list[tuple[str, int]] = []
            for record in records:
                seq += 1
                rows.append(
                    (seq, now_us, self.correlation_id, record_type(record), _encoder.encode(record))
                )
                if isinstance(record, FillRecorded | ForeignFillRecorded):
                    fills.append((str(record.fill.exec_id), seq))
            if live:
                self._insert(rows, fills)
            else:
                self._journal_rows.extend(rows)
                self._exec_rows.extend(fills)
            for record in records:
                self._book.apply(record)
            self._write_projection(records)
        except Exception as exc:
            self._fail(exc)
            if isinstance(exc, sqlite3.Error):
                raise self._write_error(exc) from exc
            raise
        self._seq = seq
        self._pending += 1
        if self._pending >= self._batch_size:
            self.flush()

    def _insert(
        self, rows: list[tuple[int, int, str, str, bytes]], fills: list[tuple[str, int]]
    ) -> None:
        db = self._db
        db.executemany(
            "INSERT INTO journal (seq, ts_us, correlation_id, event_type, payload)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        try:
            db.executemany("INSERT INTO fills_seen (exec_id, seq) VALUES (?, ?)", fills)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise JournalError(f"an execution was applied twice ({exc})") from None

    def _renumber_batch(self) -> None:
        """A batch buffered in memory takes the numbers after what others committed."""
        if not self._journal_rows:
            self._catch_up()
            return
        first = self._journal_rows[0][0]
        base = first - 1
        current = self._max_seq()
        if current == base:
            return
        shift = current - base
        saved_seq = self._seq
        self._seq = base
        self._catch_up()  # folds the others' records, sets _seq to theirs
        self._journal_rows = [(r[0] + shift, *r[1:]) for r in self._journal_rows]
        self._exec_rows = [(e, n + shift) for e, n in self._exec_rows]
        self._seq = saved_seq + shift

    def _catch_up(self) -> None:
        """Inside a write transaction: fold what other processes journaled since our last
        write into the book, so our sequence numbers follow theirs without a gap."""
        current = self._max_seq()
        if current == self._seq:
            return
        cursor = self._db.execute(
            "SELECT seq, payload FROM journal WHERE seq > ? ORDER BY seq", (self._seq,)
        )
        for seq, payload in cursor.fetchall():
            try:
                record = _decoder.decode(payload)
            except msgspec.DecodeError as exc:
                raise JournalError(f"journal entry {seq} cannot be read: {exc}") from exc
            self._book.apply(record)
            self._seq = seq
        self.foreign_writes += 1

    def _fail(self, exc: BaseException) -> None:
        """Undo everything not committed; refuse writes until rebuilt from the journal."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # SQLite rolls back by itself on I/O errors
                self._db.execute("ROLLBACK")
        self._journal_rows.clear()
        self._exec_rows.clear()
        self._pending = 0
        with contextlib.suppress(sqlite3.Error):
            self._seq = self._max_seq()
        self._poisoned = f"{type(exc).__name__}: {exc}"

    def _write_error(self, exc: sqlite3.Error) -> JournalError:
        """A failed write as one line: the disk's refusal (full, a size limit, read-only)
        is the environment's fault (exit 1); anything else stays a journal error."""
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and any(
            mark in text for mark in _DISK_REFUSALS
        ):
            problem = f"cannot be written ({text}: the disk is full, a file size limit was"
            problem += " reached or the file system is read-only)"
            return JournalWriteFailed(
                f"journal {self.path}: {problem}; the write was rolled back, every record"
                " committed before it is kept",
                path=self.path,
                problem=problem,
            )
        return JournalError(f"journal write failed: {exc}")

    def flush(self) -> None:
        """Commit what is pending (a no-op in LIVE mode, which commits every write)."""
        if self._poisoned is not None:
            # The book may hold part of a failed batch: commit what was journaled, then
            # rebuild the projections (and the book) from the journal itself.
            self._dirty_orders.clear()
            self._pending_records.clear()
            self._dirty_positions = False
            if self._db.in_transaction:
                self._db.execute("COMMIT")
            self._pending = 0
            self.rebuild_projections()
            return
        buffered = bool(self._journal_rows or self._pending_records or self._dirty_orders)
        if self._db.in_transaction or buffered:
            try:
                if not self._db.in_transaction:
                    self._db.execute("BEGIN IMMEDIATE")
                self._renumber_batch()
                if self._journal_rows:
                    self._insert(self._journal_rows, self._exec_rows)
                    self._journal_rows.clear()
                    self._exec_rows.clear()
                self._write_dirty()
                self._db.execute("COMMIT")
            except (sqlite3.Error, JournalError) as exc:
                self._fail(exc)
                if isinstance(exc, sqlite3.Error):
                    raise self._write_error(exc) from exc
                raise JournalError(f"journal batch write failed: {exc}") from exc
            self._pending = 0
            self._committed()
        self._pending = 0

    def _committed(self) -> None:
        if self.on_commit is not None:
            self.on_commit()

    # -- projections -------------------------------------------------------------------------
    def _write_projection(self, records: Sequence[JournalRecord]) -> None:
        """Note which rows the records touched; write them now (live) or at commit (backtest).

        Either way the rows are written inside the transaction that commits the records.
        """
        if not self._dirty_positions:
            self._dirty_positions = any(
                isinstance(r, FillRecorded | ForeignFillRecorded | TradeCorrected | Allocation)
                for r in records
            )
        if self.mode is StoreMode.LIVE:
            self._mark_dirty(records)
            self._write_dirty()
        else:
            self._pending_records.extend(records)

    def _mark_dirty(self, records: Sequence[JournalRecord]) -> None:
        for order in affected_orders(self._book, records):
            self._dirty_orders[order_key(order)] = order

    def _write_dirty(self) -> None:
        db = self._db
        if self._pending_records:
            # Many records touch the same few orders: expand each distinct one once.
            unique = {_record_key(r): r for r in self._pending_records}
            self._pending_records.clear()
            self._mark_dirty(list(unique.values()))
        for key, order in self._dirty_orders.items():
            _, payload = order_row(order)
            live = not getattr(order, "completed", False) and not (
                isinstance(order, BrokerOrder) and order.is_terminal
            )
            keep, drop = (
                ("live_orders", "order_history") if live else ("order_history", "live_orders")
            )
            db.execute(f"DELETE FROM {drop} WHERE level = ? AND order_id = ?", key)  # noqa: S608
            db.execute(
                f"INSERT OR REPLACE INTO {keep} (level, order_id, payload) VALUES (?, ?, ?)",  # noqa: S608
                (*key, payload),
            )
        self._dirty_orders.clear()
        if self._dirty_positions:
            self._write_positions()
            self._dirty_positions = False

    def _write_positions(self) -> None:
        db = self._db
        positions = self._book.positions
        db.execute("DELETE FROM positions_strategy")
        db.executemany(
            "INSERT INTO positions_strategy VALUES (?, ?, ?)",
            [(s, i, q) for (s, i), q in positions.strategy.items()],
        )
        db.execute("DELETE FROM positions_contract")
        db.executemany(
            "INSERT INTO positions_contract VALUES (?, ?, ?)",
            [(i, c, q) for (i, c), q in positions.contract.items()],
        )

    def table_rows(self) -> Rows:
        """The projection tables as they are on disk (after committing what is pending)."""
        self.flush()
        db = self._db
        return Rows(
            live={(lv, oid): bytes(p) for lv, oid, p in db.execute("SELECT * FROM live_orders")},
            history={
                (lv, oid): bytes(p) for lv, oid, p in db.execute("SELECT * FROM order_history")
            },
            strategy={(s, i): q for s, i, q in db.execute("SELECT * FROM positions_strategy")},
            contract={(i, c): q for i, c, q in db.execute("SELECT * FROM positions_contract")},
        )

    def rebuilt_rows(self) -> Rows:
        """The projection rows a fresh fold of the whole journal gives."""
        self.flush()
        return rows_of(self._fold_journal())

    def verify_projections(self) -> bool:
        return self.table_rows() == self.rebuilt_rows()

    def rebuild_projections(self) -> None:
        """Replace the projection tables with a fold of the journal, in one transaction."""
        if self._poisoned is None:
            self.flush()
        book = self._fold_journal()
        rows = rows_of(book)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        for table in ("live_orders", "order_history", "positions_strategy", "positions_contract"):
            db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        db.executemany(
            "INSERT INTO live_orders VALUES (?, ?, ?)", [(*k, v) for k, v in rows.live.items()]
        )
        db.executemany(
            "INSERT INTO order_history VALUES (?, ?, ?)", [(*k, v) for k, v in rows.history.items()]
        )
        db.executemany(
            "INSERT INTO positions_strategy VALUES (?, ?, ?)",
            [(*k, v) for k, v in rows.strategy.items()],
        )
        db.executemany(
            "INSERT INTO positions_contract VALUES (?, ?, ?)",
            [(*k, v) for k, v in rows.contract.items()],
        )
        db.execute("COMMIT")
        self._book = book
        self._poisoned = None

    # -- reading the journal ---------------------------------------------------------------
    def entries(self, after_seq: int = 0) -> Iterator[JournalEntry]:
        if self._journal_rows and self._poisoned is None:
            self.flush()  # a backtest batch still in memory: write it before reading
        cursor = self._db.execute(
            "SELECT seq, ts_us, correlation_id, event_type, payload FROM journal"
            " WHERE seq > ? ORDER BY seq",
            (after_seq,),
        )
        try:
            while True:
                try:
                    row = next(cursor, None)
                except sqlite3.DatabaseError as exc:
                    raise unusable(self.path, f"is damaged (reading the journal: {exc})") from exc
                if row is None:
                    return
                seq, ts_us, corr, etype, payload = row
                try:
                    record = _decoder.decode(payload)
                except msgspec.DecodeError as exc:
                    raise unusable(
                        self.path, f"journal entry {seq} ({etype}) cannot be read: {exc}"
                    ) from exc
                yield JournalEntry(seq, ts_us, corr, etype, record)
        finally:
            cursor.close()  # a refused journal's connection closes for real (no -wal left)

    def _fold_journal(self) -> Book:
        """Every row decoded and applied in order; a gap or an unreadable row refuses."""
        book = Book()
        expected = 1
        for entry in self.entries():
            if entry.seq != expected:
                raise unusable(
                    self.path, f"journal sequence gap: expected {expected}, found {entry.seq}"
                )
            expected += 1
            book.apply(entry.record)
        return book

    def _max_seq(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0])

    # -- access for sibling stores (targets) ------------------------------------------------
    @property
    def connection(self) -> sqlite3.Connection:
        return self._db

    @property
    def clock(self) -> Clock:
        return self._clock

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A unit of work outside the journal: its own transaction in LIVE mode; inside
        the open batch in BACKTEST mode (committed with it)."""
        db = self._db
        own = not db.in_transaction
        if own:
            db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if own:
                db.execute("ROLLBACK")
            raise
        if own and self.mode is StoreMode.LIVE:
            db.execute("COMMIT")
            self._committed()

    # -- small persistent state (risk state, day start equity, ...) ------------------------
    def get_state(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM kv_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str) -> None:
        db = self._db
        if not db.in_transaction:
            db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT OR REPLACE INTO kv_state (key, value, updated_us) VALUES (?, ?, ?)",
            (key, value, to_us(self._clock.now())),
        )
        if self.mode is StoreMode.LIVE:
            self.flush()


def _create(path: Path) -> bool:
    """Create a new journal whole: its schema is written to a private file that is then
    linked into place, so another process (``bastion risk status`` while a session
    starts) never sees a journal half made (a zero-byte file it must refuse). If another
    process created the journal first, theirs is kept. Returns ``True`` (a journal is
    there now)."""
    temp = path.with_name(f".{path.name}.new-{os.getpid()}")
    try:
        temp.unlink(missing_ok=True)
        db = sqlite3.connect(temp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            _migrate(db, path)
        finally:
            db.close()
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    except (OSError, sqlite3.Error) as exc:
        strerror = getattr(exc, "strerror", None) or str(exc)
        raise unusable(path, f"cannot be created ({strerror})", runbook=False) from None
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    return True


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    current = row[0] or 0
    if current > SCHEMA_VERSION:
        raise unusable(
            path,
            f"has schema version {current}, newer than this Bastion ({SCHEMA_VERSION});"
            " upgrade Bastion",
            runbook=False,
        )
    for version, _title, sql in MIGRATIONS:
        if version <= current:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            raise unusable(path, f"migration {version} failed ({exc})", runbook=False) from exc
