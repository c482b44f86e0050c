"""Checks that a journal on disk is a whole Bastion journal before anything reads it (R9.6).

Every command that reads a journal opens it through ``SqliteStore``, which runs the
checks here on an existing file before it folds a single record:

1. the path is a regular file, not a directory or a device;
2. it is not empty: a zero-byte file is never a journal (SQLite writes its header on
   the first use), so it is refused rather than silently opened as a new, flat store;
3. it starts with the SQLite header; otherwise it is not a journal at all;
4. SQLite's ``PRAGMA integrity_check`` passes (b-tree pages, cell and free-list
   structure: random bytes written into the middle of the file fail it; and every index
   agrees with its table, which ``quick_check`` does not look at). On a journal of a
   million entries it adds about 0.4 s to an open of about 6 s (``bench/journal_check.py``);
5. it has Bastion's tables (``schema_version`` and ``journal``). An SQLite file with
   no tables at all is a store whose creation was interrupted: it holds nothing and is
   opened as new. Any other SQLite file is someone else's database and is refused.

The fold then decodes every journal row and checks the sequence has no gap; a row
that does not decode is refused the same way. ``check_journal`` does all of it in one
call for ``bastion store check``, and before a backup is kept or restored.

A refusal is one line (``JournalUnusable``, exit status 1 at the CLI): the path, what is
wrong, that nothing was changed, and the runbook with the commands that help
(``bastion store check``, ``bastion store restore``, ``bastion store backup``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from bastion.domain.records import JournalRecord
from bastion.errors import JournalUnusable

__all__ = [
    "RUNBOOK",
    "JournalHealth",
    "check_connection",
    "check_file",
    "check_journal",
    "journal_in_use",
    "unusable",
]

RUNBOOK = "docs/store.md, 'Runbook: a damaged journal'"
SQLITE_HEADER = b"SQLite format 3\x00"
BASTION_TABLES = frozenset({"schema_version", "journal"})
_decoder = msgspec.json.Decoder(JournalRecord)
_MAX_SHOWN = 3


@dataclass(frozen=True, slots=True)
class JournalHealth:
    """What a full check found in a journal that passed it."""

    path: Path
    size_bytes: int
    schema_version: int
    entries: int
    last_seq: int
    last_ts_us: int | None
    check: str

    def line(self) -> str:
        return (
            f"{self.path}: a whole Bastion journal ({self.check} ok; schema"
            f" {self.schema_version}; {self.entries} entries, last seq {self.last_seq};"
            f" {self.size_bytes:,} bytes)"
        )


def unusable(path: Path, problem: str, *, runbook: bool = True) -> JournalUnusable:
    """The one-line refusal of a journal (``runbook`` adds what to do about damage)."""
    text = f"journal {path}: {problem}; nothing was changed"
    if runbook:
        text += (
            f". See the runbook ({RUNBOOK}): 'bastion store check {path}' shows what is"
            f" wrong, 'bastion store restore BACKUP --journal {path}' puts back a backup"
            " taken with 'bastion store backup'"
        )
    return JournalUnusable(text, path=path, problem=problem)


def check_file(path: Path) -> bool:
    """Whether ``path`` holds a journal to check (False: nothing there, a new store).

    Refuses a directory or other non-file and a zero-byte file from the file's metadata
    only. It never opens the file itself: SQLite's locks are POSIX advisory locks, and
    closing *any* descriptor of a file drops every such lock this process holds on it,
    so reading the header here would silently unlock a live engine's connection in the
    same process (another process could then checkpoint and delete the WAL under it,
    losing committed records). Whether the file is an SQLite database at all is asked of
    SQLite itself (``check_connection``), before anything is written.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise unusable(path, f"cannot be read ({exc.strerror})", runbook=False) from None
    if stat.S_ISDIR(info.st_mode):
        raise unusable(path, "is a directory, expected a journal file", runbook=False)
    if not stat.S_ISREG(info.st_mode):
        raise unusable(path, "is not a regular file, expected a journal file", runbook=False)
    if info.st_size == 0:
        raise unusable(
            path,
            "is a zero-byte file, not a journal (a journal always has a header); if nothing"
            " ever traded under this profile, remove the file",
        )
    if not os.access(path, os.R_OK):
        raise unusable(path, "cannot be read (permission denied)", runbook=False)
    return True


def _tables(db: sqlite3.Connection) -> set[str]:
    return {
        str(name) for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }


def check_connection(db: sqlite3.Connection, path: Path, *, thorough: bool = False) -> bool:
    """SQLite's own check and Bastion's tables on an open connection to an existing file.

    Returns False for an SQLite file with no tables (an interrupted creation: nothing in
    it), True for a Bastion journal; raises ``JournalUnusable`` for anything else.
    """
    pragma = "integrity_check" if thorough else "quick_check"
    try:
        found = [
            line.strip()
            for (row,) in db.execute(f"PRAGMA {pragma}(20)")
            for line in str(row).splitlines()
            if line.strip() and not line.startswith("***")
        ]
        tables = _tables(db)
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise unusable(path, "is not a Bastion journal (not an SQLite database)") from None
        raise unusable(path, f"is damaged (SQLite {pragma}: {exc})") from None
    if found != ["ok"]:
        shown = "; ".join(found[:_MAX_SHOWN]) + (" ..." if len(found) > _MAX_SHOWN else "")
        raise unusable(path, f"is damaged (SQLite {pragma}: {shown})")
    if not tables:
        return False
    if not tables >= BASTION_TABLES:
        listed = ", ".join(sorted(tables)[:6])
        raise unusable(path, f"is not a Bastion journal (an SQLite database with tables {listed})")
    return True


def _rows(db: sqlite3.Connection, path: Path) -> Iterator[tuple[int, int, str, bytes]]:
    try:
        yield from db.execute("SELECT seq, ts_us, event_type, payload FROM journal ORDER BY seq")
    except sqlite3.DatabaseError as exc:
        raise unusable(path, f"is damaged (reading the journal: {exc})") from None


def check_journal(path: Path | str, *, thorough: bool = True) -> JournalHealth:
    """Check a journal file completely: file, SQLite's check, tables, every row decoded,
    sequence numbers gap-free. Raises ``JournalUnusable``; changes no content."""
    path = Path(path)
    if not check_file(path):
        raise unusable(path, "no such file", runbook=False)
    try:
        db = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise unusable(path, f"cannot be opened ({exc})", runbook=False) from None
    try:
        if not check_connection(db, path, thorough=thorough):
            raise unusable(path, "is an empty SQLite database, not a Bastion journal")
        expected, last_ts = 1, None
        for seq, ts_us, etype, payload in _rows(db, path):
            if seq != expected:
                raise unusable(path, f"has a sequence gap: expected {expected}, found {seq}")
            try:
                _decoder.decode(payload)
            except msgspec.DecodeError as exc:
                raise unusable(
                    path, f"journal entry {seq} ({etype}) cannot be read: {exc}"
                ) from None
            expected, last_ts = expected + 1, int(ts_us)
        try:
            version = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise unusable(path, f"is damaged (reading the schema version: {exc})") from None
    finally:
        db.close()
    return JournalHealth(
        path=path,
        size_bytes=path.stat().st_size,
        schema_version=int(version or 0),
        entries=expected - 1,
        last_seq=expected - 1,
        last_ts_us=last_ts,
        check="integrity_check" if thorough else "quick_check",
    )


# SQLite's unix locking (os_unix.c, lockingv3.html): every connection to a WAL database
# holds a read lock on the "shared" byte range of the database file while it is open.
_SHARED_FIRST = 0x40000000 + 2
_SHARED_SIZE = 510


def journal_in_use(path: Path) -> int | None:
    """The id of another process that has ``path`` open through SQLite, if any.

    Asks the kernel which process holds a lock conflicting with a write lock on the
    byte range SQLite's connections lock; our own process's locks are not reported.
    Closing the descriptor it opens drops this process's POSIX locks on the file: call
    it only where this process has no SQLite connection to ``path`` (``store restore``).
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        request = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, _SHARED_FIRST, _SHARED_SIZE, 0)
        with contextlib.suppress(OSError):
            kind, _, _, _, pid = struct.unpack("hhqqi", fcntl.fcntl(fd, fcntl.F_GETLK, request))
            if kind != fcntl.F_UNLCK:
                return int(pid)
    finally:
        os.close(fd)
    return None
