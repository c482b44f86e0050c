"""The alert outbox: every alert taken, every delivery tried, in a small SQLite file.

It lives beside the journal (``<journal stem>-alerts.db``), never inside it: the
notifier's worker thread writes here while the engine writes the journal, so the two
never contend for one connection or one sequence. What it keeps:

- ``alerts``: one row per alert key (a replayed journal entry gives the same key and is
  not taken twice), with its redacted title and body and a status: ``queued`` or
  ``suppressed`` (held back by the rate limit and counted in a summary);
- ``deliveries``: one row per alert and target: ``pending`` (with the attempt count and
  the time of the next try), ``sent`` or ``failed`` (gave up after the last attempt),
  and the process that owns the retries. A process that died leaves its pending rows to
  the next notifier, which adopts them;
- ``meta``: the last journal sequence number whose alerts were taken (``journal_seq``),
  so a restarted engine's feed goes on from there.

Nothing unredacted is written: the notifier redacts before calling ``add``.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from bastion.errors import JournalError
from bastion.ops.alerts.model import Alert

__all__ = ["DayCounts", "Delivery", "Outbox", "outbox_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    key         TEXT PRIMARY KEY,
    time_us     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    summary     TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    journal_seq INTEGER,
    status      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    key        TEXT NOT NULL REFERENCES alerts (key),
    target     TEXT NOT NULL,
    status     TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_us    INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    sent_us    INTEGER,
    owner      INTEGER NOT NULL,
    PRIMARY KEY (key, target)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_us);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _us(when: dt.datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def outbox_path(journal: Path) -> Path:
    """Where a journal's alert outbox lives: beside it."""
    return journal.with_name(f"{journal.stem}-alerts.db")


@dataclass(frozen=True, slots=True)
class Delivery:
    key: str
    target: str
    attempts: int
    title: str
    body: str
    severity: str


@dataclass(frozen=True, slots=True)
class DayCounts:
    """What happened to the alerts of one period, for the daily all-clear."""

    taken: int
    suppressed: int
    delivered: int
    pending: int
    failed: int
    by_kind: dict[str, int]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Outbox:
    """Thread-safe (one lock); ``":memory:"`` keeps it in memory (tests, no store)."""

    def __init__(self, path: Path | str, *, owner: int | None = None) -> None:
        self.path = str(path)
        self.owner = os.getpid() if owner is None else owner
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the alert outbox at {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing -------------------------------------------------------------------------------
    def add(
        self,
        alert: Alert,
        title: str,
        body: str,
        targets: list[str],
        *,
        status: str,
        now: dt.datetime,
    ) -> bool:
        """Take an alert (redacted text) and its deliveries; ``False`` if its key was taken."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                cur = db.execute(
                    "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        alert.key,
                        _us(alert.time),
                        alert.kind.value,
                        alert.severity.value,
                        alert.summary,
                        title,
                        body,
                        alert.journal_seq,
                        status,
                    ),
                )
                fresh = cur.rowcount == 1
                if fresh:
                    db.executemany(
                        "INSERT INTO deliveries (key, target, status, next_us, owner)"
                        " VALUES (?, ?, 'pending', ?, ?)",
                        [(alert.key, t, _us(now), self.owner) for t in targets],
                    )
                if alert.journal_seq is not None:
                    db.execute(
                        "INSERT INTO meta VALUES ('journal_seq', ?) ON CONFLICT (name) DO UPDATE"
                        " SET value = MAX(CAST(value AS INTEGER), excluded.value)",
                        (str(alert.journal_seq),),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return fresh

    def sent(self, key: str, target: str, now: dt.datetime) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_us = ?,"
                " last_error = '' WHERE key = ? AND target = ?",
                (_us(now), key, target),
            )

    def failed(self, key: str, target: str, error: str, retry_at: dt.datetime | None) -> None:
        """A failed attempt: retried at ``retry_at``, or given up for good (``None``)."""
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?,"
                " status = ?, next_us = ? WHERE key = ? AND target = ?",
                (
                    error,
                    "pending" if retry_at is not None else "failed",
                    _us(retry_at) if retry_at is not None else 0,
                    key,
                    target,
                ),
            )

    def adopt_orphans(self) -> int:
        """Take over pending deliveries whose owning process is gone; how many."""
        with self._lock:
            owners = [
                int(row[0])
                for row in self._db.execute(
                    "SELECT DISTINCT owner FROM deliveries WHERE status = 'pending' AND owner != ?",
                    (self.owner,),
                )
            ]
            taken = 0
            for pid in owners:
                if not _pid_alive(pid):
                    cur = self._db.execute(
                        "UPDATE deliveries SET owner = ? WHERE owner = ? AND status = 'pending'",
                        (self.owner, pid),
                    )
                    taken += cur.rowcount
            return taken

    # -- reading -------------------------------------------------------------------------------
    def due(self, now: dt.datetime, limit: int = 50) -> list[Delivery]:
        with self._lock:
            rows = self._db.execute(
                "SELECT d.key, d.target, d.attempts, a.title, a.body, a.severity"
                " FROM deliveries d JOIN alerts a ON a.key = d.key"
                " WHERE d.status = 'pending' AND d.owner = ? AND d.next_us <= ?"
                " ORDER BY d.next_us, d.key LIMIT ?",
                (self.owner, _us(now), limit),
            ).fetchall()
        return [Delivery(k, t, int(n), ti, b, s) for k, t, n, ti, b, s in rows]

    def next_due(self) -> dt.datetime | None:
        """When this process's next pending delivery falls due."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_us) FROM deliveries WHERE status = 'pending' AND owner = ?",
                (self.owner,),
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return _EPOCH + dt.timedelta(microseconds=int(row[0]))

    def read_up_to(self, seq: int) -> None:
        """The journal was mapped up to ``seq`` and every alert it implied was taken."""
        with self._lock:
            self._db.execute(
                "INSERT INTO meta VALUES ('journal_seq', ?) ON CONFLICT (name) DO UPDATE"
                " SET value = excluded.value",
                (str(seq),),
            )

    def journal_seq(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = 'journal_seq'").fetchone()
        return None if row is None else int(row[0])

    def delivery_status(self, key: str) -> dict[str, tuple[str, str]]:
        """Each target's (status, last error) for one alert."""
        with self._lock:
            rows = self._db.execute(
                "SELECT target, status, last_error FROM deliveries WHERE key = ?", (key,)
            ).fetchall()
        return {t: (s, e) for t, s, e in rows}

    def counts(self, start: dt.datetime, end: dt.datetime) -> DayCounts:
        """Alerts whose fact happened in ``[start, end)``, and what became of them."""
        span = (_us(start), _us(end))
        with self._lock:
            db = self._db
            by_status = dict(
                db.execute(
                    "SELECT status, COUNT(*) FROM alerts WHERE time_us >= ? AND time_us < ?"
                    " GROUP BY status",
                    span,
                ).fetchall()
            )
            by_kind = dict(
                db.execute(
                    "SELECT kind, COUNT(*) FROM alerts WHERE time_us >= ? AND time_us < ?"
                    " GROUP BY kind",
                    span,
                ).fetchall()
            )
            deliveries = dict(
                db.execute(
                    "SELECT d.status, COUNT(DISTINCT d.key) FROM deliveries d JOIN alerts a"
                    " ON a.key = d.key WHERE a.time_us >= ? AND a.time_us < ? GROUP BY d.status",
                    span,
                ).fetchall()
            )
        return DayCounts(
            taken=sum(int(v) for v in by_status.values()),
            suppressed=int(by_status.get("suppressed", 0)),
            delivered=int(deliveries.get("sent", 0)),
            pending=int(deliveries.get("pending", 0)),
            failed=int(deliveries.get("failed", 0)),
            by_kind={str(k): int(v) for k, v in by_kind.items()},
        )
