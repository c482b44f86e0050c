"""Invariant: a journal is checked when it is opened, by every command that reads one.

A zero-byte file, a directory, a file that is not a Bastion journal, a truncated file,
an overwritten header, 8 KB of random bytes in the middle, an index that no longer
matches its table (SQLite's full integrity_check, not only quick_check), an undecodable
row and a sequence gap are each refused with one line (exit status 1, no traceback) that points
to the runbook and names `bastion store restore` and `bastion store backup`. Nothing
is changed by the refusal, and no report exits 0 on a damaged journal.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.errors import JournalError, JournalUnusable
from bastion.store import SqliteStore
from bastion.store.check import check_journal
from tests.conftest import run_cli
from tests.integration.store.journals import scribble, sim_profile, write_journal


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_journal(tmp_path_factory.mktemp("journal") / "journal.db")


def _zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _not_bastion(path: Path) -> None:
    path.unlink()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE prices (day TEXT, close REAL)")
    db.commit()
    db.close()


def _text_file(path: Path) -> None:
    path.write_text("timestamp,open,high,low,close\n")


def _truncated(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def _header(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.write(b"\x00" * 100)


def _random_middle(path: Path) -> None:
    scribble(path, seed=16)


def _bad_row(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE journal SET payload = ? WHERE seq = 7", (b'{"type": "fill", "fill": {',))
    db.commit()
    db.close()


def _index_mismatch(path: Path) -> None:
    """The journal's index no longer matches its table: SQLite's quick_check passes it,
    integrity_check does not."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA writable_schema=ON")
    db.execute(
        "UPDATE sqlite_master SET sql = 'CREATE INDEX journal_type ON journal (ts_us)'"
        " WHERE name = 'journal_type'"
    )
    db.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    db.close()


def _gap(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("DELETE FROM fills_seen WHERE seq = 9")
    db.execute("DELETE FROM journal WHERE seq = 9")
    db.commit()
    db.close()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "zero_bytes": (_zero_bytes, "is a zero-byte file, not a journal"),
    "directory": (_directory, "is a directory, expected a journal file"),
    "not_bastion": (_not_bastion, "is not a Bastion journal (an SQLite database with tables"),
    "text_file": (_text_file, "is not a Bastion journal (not an SQLite database"),
    "truncated": (_truncated, "is damaged"),
    "header": (_header, "is not a Bastion journal (not an SQLite database"),
    "random_middle": (_random_middle, "is damaged (SQLite integrity_check"),
    "index_mismatch": (
        _index_mismatch,
        "is damaged (SQLite integrity_check: row 1 missing from index journal_type",
    ),
    "bad_row": (_bad_row, "journal entry 7 (fill) cannot be read"),
    "gap": (_gap, "journal sequence gap: expected 9, found 10"),
}
RUNBOOK = ("runbook", "bastion store restore", "bastion store backup")


def _damaged(pristine: Path, folder: Path, kind: str) -> Path:
    path = folder / "sim" / "journal.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(pristine, path)
    DAMAGE[kind][0](path)
    return path


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_store_open_damaged_journal_refused_one_line(
    pristine: Path, tmp_path: Path, kind: str
) -> None:
    path = _damaged(pristine, tmp_path, kind)
    before = sorted(p.name for p in path.parent.iterdir())
    with pytest.raises(JournalUnusable) as caught:
        SqliteStore(path)
    message = str(caught.value)
    assert DAMAGE[kind][1] in message
    assert "\n" not in message
    assert str(path) in message
    assert "nothing was changed" in message
    if kind != "directory":
        assert all(word in message for word in RUNBOOK), message
    assert isinstance(caught.value, JournalError)  # callers catching JournalError still do
    assert sorted(p.name for p in path.parent.iterdir()) == before
    if kind == "not_bastion":  # someone else's database is not migrated into a journal
        tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
        assert tables == [("prices",)]


@pytest.mark.parametrize(
    "command",
    [
        ["report", "status"],
        ["report", "pnl"],
        ["report", "trades"],
        ["report", "risk"],
        ["report", "reconcile"],
        ["report", "daily"],
        ["risk", "status"],
        ["gate", "dry-run"],
        ["kill", "--reason", "drill"],
        ["store", "check"],
        ["store", "backup"],
    ],
)
@pytest.mark.parametrize(
    "kind", ["zero_bytes", "random_middle", "index_mismatch", "bad_row", "header"]
)
def test_command_reading_damaged_journal_exit_1_one_line(
    pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], kind: str
) -> None:
    monkeypatch.chdir(tmp_path)
    profile = sim_profile(tmp_path)
    path = _damaged(pristine, tmp_path, kind)
    result = run_cli([*command, "--profile", str(profile)])
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.out + result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"bastion: error: journal {path}: ")
    assert all(word in lines[0] for word in RUNBOOK)
    assert "positions: flat" not in result.out


@pytest.mark.parametrize("seed", range(12))
def test_check_journal_random_bytes_anywhere_in_middle_caught(
    pristine: Path, tmp_path: Path, seed: int
) -> None:
    path = tmp_path / "journal.db"
    shutil.copy(pristine, path)
    scribble(path, seed=seed)
    with pytest.raises(JournalUnusable, match=r"is damaged|cannot be read"):
        check_journal(path, thorough=False)
    with pytest.raises(JournalUnusable):
        SqliteStore(path)


def test_store_open_whole_journal_unchanged_behaviour(pristine: Path, tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    shutil.copy(pristine, path)
    health = check_journal(path)
    store = SqliteStore(path)
    assert store.last_seq == health.last_seq == health.entries
    assert store.verify_projections()
    store.close()


def test_store_open_empty_sqlite_file_is_a_new_store(tmp_path: Path) -> None:
    """A creation interrupted before the first table holds nothing: opened as new."""
    path = tmp_path / "journal.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    store = SqliteStore(path)
    assert store.last_seq == 0
    store.close()
    assert check_journal(path).entries == 0
