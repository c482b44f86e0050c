"""Backups of a journal and putting one back (R9.6).

``backup_journal`` copies a journal with SQLite's online backup API in one step: the
copy is one consistent snapshot (a read transaction), also while an engine is writing
(WAL readers do not block the writer, and the writer does not block them). The copy is
written to a temporary file beside the destination, checked completely
(``check_journal``: SQLite's integrity check, every row decoded, no sequence gap),
synced and renamed into place; a failed backup (a full disk, an unwritable folder, a
damaged source) leaves no file behind. Backups are single files (rollback-journal
mode, no ``-wal`` beside them) so they can be copied anywhere as they are.

``restore_journal`` checks the backup the same way before touching anything, refuses
while another process has the journal open, and refuses to replace an existing journal
unless asked to; asked, it keeps the old file (and its ``-wal``/``-shm`` files, which
must never be applied to the restored file) beside it as ``<name>.replaced-<UTC time>``.
The restored copy is written beside the journal, synced, checked, then renamed into
its place (the next ``SqliteStore`` open turns WAL mode back on). After a restore, the
next session's restart recovery settles the book with the venue (see docs/store.md for
what it adopts and the restore drill).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bastion.errors import EnvironmentFault, JournalUnusable, UserError
from bastion.store.check import (
    JournalHealth,
    check_connection,
    check_file,
    check_journal,
    unusable,
)
from bastion.store.check import journal_in_use as _journal_in_use

__all__ = [
    "BackupResult",
    "RestoreResult",
    "backup_journal",
    "default_backup_path",
    "restore_journal",
]

_SIDE_FILES = ("-wal", "-shm")


@dataclass(frozen=True, slots=True)
class BackupResult:
    source: Path
    path: Path
    health: JournalHealth


@dataclass(frozen=True, slots=True)
class RestoreResult:
    backup: Path
    journal: Path
    health: JournalHealth
    kept: tuple[Path, ...]
    """The files that were at the journal's place, kept beside it."""


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def default_backup_path(journal: Path, now: dt.datetime) -> Path:
    """``<journal folder>/backups/<journal name>-<UTC time>.db``."""
    return journal.parent / "backups" / f"{journal.stem}-{_stamp(now)}.db"


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _why(exc: sqlite3.Error | OSError) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    name = getattr(exc, "sqlite_errorname", "")
    return f"{exc}, {name}" if name else str(exc)


def _remove(path: Path) -> None:
    for suffix in ("", *_SIDE_FILES, "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _copy(source: sqlite3.Connection, target: Path, *, journal_mode: str) -> None:
    """One-step online backup of ``source`` into a new file ``target``, synced."""
    dest = sqlite3.connect(target, isolation_level=None)
    try:
        source.backup(dest, pages=-1)
        dest.execute(f"PRAGMA journal_mode={journal_mode}")
    finally:
        dest.close()
    _fsync(target)


def backup_journal(source: Path, dest: Path | None = None, *, now: dt.datetime) -> BackupResult:
    """A checked, consistent copy of the journal at ``source`` (see the module doc)."""
    source = Path(source)
    if not check_file(source):
        raise UserError(f"journal {source}: no such file; nothing to back up")
    dest = Path(dest) if dest is not None else default_backup_path(source, now)
    if dest.exists() or dest.is_symlink():
        raise UserError(f"backup {dest} already exists; choose another name (nothing was written)")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentFault(
            f"backup folder {dest.parent}: cannot be created ({exc.strerror}); nothing was written"
        ) from None
    tmp = _temp_beside(dest)
    try:
        db = sqlite3.connect(source, isolation_level=None)
        try:
            check_connection(db, source)
            _copy(db, tmp, journal_mode="DELETE")
        finally:
            db.close()
        try:
            health = check_journal(tmp)
        except JournalUnusable as exc:  # the copy is the source as it was: name the source
            raise unusable(source, exc.problem) from None
        tmp.replace(dest)
        _fsync(dest.parent, directory=True)
    except JournalUnusable:
        _remove(tmp)
        raise
    except (sqlite3.Error, OSError) as exc:
        _remove(tmp)
        raise EnvironmentFault(
            f"backup of {source} to {dest} failed ({_why(exc)}); nothing was written"
        ) from None
    return BackupResult(source, dest, _renamed(health, dest))


def _renamed(health: JournalHealth, path: Path) -> JournalHealth:
    return JournalHealth(
        path=path,
        size_bytes=health.size_bytes,
        schema_version=health.schema_version,
        entries=health.entries,
        last_seq=health.last_seq,
        last_ts_us=health.last_ts_us,
        check=health.check,
    )


def _present(journal: Path) -> list[Path]:
    return [
        Path(f"{journal}{suffix}")
        for suffix in ("", *_SIDE_FILES)
        if Path(f"{journal}{suffix}").exists() or Path(f"{journal}{suffix}").is_symlink()
    ]


GENERATION_KEY = "store.generation"
"""How many times this journal was restored from a backup. Order ids made after a
restore carry it, so they never repeat an id the venue saw after the backup was taken."""


RESTORE_KEY = "store.restored"
"""That the journal was restored: JSON with ``backup`` (its path), ``restored_at``,
``generation`` and, once the first recovery after it settled it, ``recovered_at``
(``bastion.recon.restored``)."""


def _next_generation(path: Path, backup: Path, now: dt.datetime) -> None:
    """Raise the generation and record the restore, in one transaction."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT value FROM kv_state WHERE key = ?", (GENERATION_KEY,)).fetchone()
        generation = int(row[0]) + 1 if row is not None else 1
        restored = {
            "backup": str(backup.resolve()),
            "restored_at": now.astimezone(dt.UTC).isoformat(),
            "generation": generation,
        }
        stamp = int(now.timestamp() * 1_000_000)
        db.executemany(
            "INSERT OR REPLACE INTO kv_state (key, value, updated_us) VALUES (?, ?, ?)",
            [
                (GENERATION_KEY, str(generation), stamp),
                (RESTORE_KEY, json.dumps(restored), stamp),
            ],
        )
        db.execute("COMMIT")
    finally:
        db.close()


def restore_journal(
    backup: Path, journal: Path, *, replace: bool, now: dt.datetime
) -> RestoreResult:
    """Put the backup at ``backup`` in the journal's place (see the module doc)."""
    backup, journal = Path(backup), Path(journal)
    if not backup.exists():
        raise UserError(f"backup {backup}: no such file; nothing was changed")
    try:
        check_journal(backup)
    except JournalUnusable as exc:
        raise JournalUnusable(
            f"backup {backup} cannot be restored: it {exc.problem}; nothing was changed."
            " Check another with 'bastion store check FILE' and restore that one",
            path=backup,
            problem=exc.problem,
        ) from None
    if journal.is_dir():
        raise UserError(f"journal {journal} is a directory, expected a journal file path")
    holder = _journal_in_use(journal) if journal.exists() else None
    if holder is not None:
        raise EnvironmentFault(
            f"journal {journal} is open in process {holder}; stop it before restoring"
            " (nothing was changed)"
        )
    present = _present(journal)
    if present and not replace:
        raise UserError(
            f"journal {journal} exists; pass --yes to replace it (the current file is kept"
            f" beside it as {journal.name}.replaced-<time>); nothing was changed"
        )
    tmp = _temp_beside(journal)
    try:
        journal.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(backup, isolation_level=None)
        try:
            _copy(src, tmp, journal_mode="DELETE")
        finally:
            src.close()
        _next_generation(tmp, backup, now)
        health = check_journal(tmp)
    except (sqlite3.Error, OSError) as exc:
        _remove(tmp)
        raise EnvironmentFault(
            f"restore of {backup} to {journal} failed ({_why(exc)}); nothing was changed"
        ) from None
    kept = []
    stamp = _stamp(now)
    for path in present:
        aside = path.with_name(f"{journal.name}.replaced-{stamp}{path.name[len(journal.name) :]}")
        path.replace(aside)
        kept.append(aside)
    tmp.replace(journal)
    _fsync(journal.parent, directory=True)
    return RestoreResult(backup, journal, _renamed(health, journal), tuple(kept))
