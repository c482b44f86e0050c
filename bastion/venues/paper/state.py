"""The paper venue's durable state, in one SQLite file (WAL; survives a killed process).

- ``inputs``: every input that changes the venue (orders, cancels, replaces, prices,
  control operations), with the venue time it was applied at. On start the venue
  replays them into a fresh simulated venue: the sim venue is deterministic, so the
  replay rebuilds exactly the orders, fills, positions and account it had.
- ``sessions`` / ``outbound``: each FIX client's sequence numbers and the application
  messages sent to it, for resend requests.
- ``fills`` and ``received``: an audit kept for people and the chaos test: every fill
  the venue made, and how many times each client order id arrived.

Everything for one incoming message is written in one transaction, before any byte of
the answer is sent (``transaction``).

An existing file is checked before anything is written to it (issue 16): a folder, a
zero-byte file (SQLite always writes a header, so an empty file is a state that was lost,
not a new venue: remove it to start one), a file that is not an SQLite database, one that
fails SQLite's ``quick_check``, and an SQLite database without the venue's tables are
each refused in one line (``EnvironmentFault``: exit status 1) and left as they were. An
SQLite file with no tables at all (a creation that was interrupted) is opened as new.
"""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bastion.domain.fills import Fill
from bastion.errors import EnvironmentFault

__all__ = ["PaperState", "SessionStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inputs (seq INTEGER PRIMARY KEY, at_us INTEGER NOT NULL,
    client TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (client TEXT PRIMARY KEY, next_out INTEGER NOT NULL,
    next_in INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbound (client TEXT NOT NULL, seq INTEGER NOT NULL,
    msg_type TEXT NOT NULL, fields TEXT NOT NULL, sent TEXT NOT NULL,
    PRIMARY KEY (client, seq));
CREATE TABLE IF NOT EXISTS fills (exec_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL,
    contract_id TEXT NOT NULL, side TEXT NOT NULL, quantity INTEGER NOT NULL,
    price_ticks INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS received (client_order_id TEXT PRIMARY KEY, client TEXT NOT NULL,
    count INTEGER NOT NULL);
"""


_CORE_TABLES = frozenset({"inputs", "sessions"})
"""Tables every paper venue state has had; the others are added when missing."""


def _refused(path: Path, problem: str) -> EnvironmentFault:
    return EnvironmentFault(
        f"venue state {path}: {problem}; nothing was changed (a new venue needs a new"
        " --state file; docs/fix.md, 'The state file')"
    )


def _check_existing(path: Path) -> bool:
    """Whether ``path`` exists (and is a regular, non-empty file); refuses anything else."""
    try:
        info = Path(path).stat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise _refused(path, f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise _refused(path, "is not a regular file, expected the venue's state file")
    if info.st_size == 0:
        raise _refused(
            path,
            "is a zero-byte file, not a venue state (SQLite always writes a header);"
            " if this venue never ran, remove the file",
        )
    return True


def _check_database(db: sqlite3.Connection, path: Path) -> None:
    try:
        found = [str(row) for (row,) in db.execute("PRAGMA quick_check(5)")]
        tables = {
            str(n) for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise _refused(path, "is not a paper venue state (not an SQLite database)") from None
        raise _refused(path, f"is damaged (SQLite quick_check: {exc})") from None
    if found != ["ok"]:
        raise _refused(path, f"is damaged (SQLite quick_check: {'; '.join(found)})")
    if tables and not tables >= _CORE_TABLES:
        listed = ", ".join(sorted(tables)[:6])
        raise _refused(
            path, f"is not a paper venue state (an SQLite database with tables {listed})"
        )


class PaperState:
    def __init__(self, path: Path) -> None:
        self.path = path
        existing = _check_existing(path)
        # One thread uses the connection at a time (the server loop, after construction).
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if existing:
            try:
                _check_database(self.db, path)
            except EnvironmentFault:
                self.db.close()
                raise
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: undo what the block wrote if it raises."""
        self.db.execute("SAVEPOINT handler")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO handler")
            self.db.execute("RELEASE handler")
            raise
        self.db.execute("RELEASE handler")

    def log_input(self, at_us: int, client: str, kind: str, payload: object) -> None:
        self.db.execute(
            "INSERT INTO inputs (at_us, client, kind, payload) VALUES (?, ?, ?, ?)",
            (at_us, client, kind, json.dumps(payload)),
        )

    def first_input_us(self) -> int | None:
        row = self.db.execute("SELECT at_us FROM inputs ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def inputs(self) -> Iterator[tuple[int, str, str, object]]:
        for at_us, client, kind, payload in self.db.execute(
            "SELECT at_us, client, kind, payload FROM inputs ORDER BY seq"
        ):
            yield int(at_us), str(client), str(kind), json.loads(payload)

    def record_fills(self, fills: list[Fill]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    f.exec_id,
                    f.client_order_id,
                    f.contract_id,
                    str(f.side),
                    f.quantity,
                    f.price_ticks,
                    f.timestamp.isoformat(),
                )
                for f in fills
            ],
        )

    def count_received(self, client_order_id: str, client: str) -> None:
        self.db.execute(
            "INSERT INTO received VALUES (?, ?, 1) ON CONFLICT(client_order_id)"
            " DO UPDATE SET count = count + 1",
            (client_order_id, client),
        )

    def session_store(self, client: str) -> SessionStore:
        return SessionStore(self.db, client)


class SessionStore:
    """One client's FIX sequence numbers and sent application messages."""

    def __init__(self, db: sqlite3.Connection, client: str) -> None:
        self.db, self.client = db, client

    def load(self) -> tuple[int, int]:
        row = self.db.execute(
            "SELECT next_out, next_in FROM sessions WHERE client = ?", (self.client,)
        ).fetchone()
        return (1, 1) if row is None else (int(row[0]), int(row[1]))

    def save(self, next_out: int, next_in: int) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)", (self.client, next_out, next_in)
        )

    def store(self, seq: int, msg_type: str, fields: list[tuple[int, str]], sent: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO outbound VALUES (?, ?, ?, ?, ?)",
            (self.client, seq, msg_type, json.dumps(fields), sent),
        )

    def load_messages(
        self, begin: int, end: int
    ) -> dict[int, tuple[str, list[tuple[int, str]], str]]:
        rows = self.db.execute(
            "SELECT seq, msg_type, fields, sent FROM outbound"
            " WHERE client = ? AND seq BETWEEN ? AND ?",
            (self.client, begin, end),
        )
        return {
            int(seq): (str(mt), [(int(t), str(v)) for t, v in json.loads(fields)], str(sent))
            for seq, mt, fields, sent in rows
        }
