"""Invariant: a new journal appears whole. Another process that looks while a session
creates its journal (``bastion risk status``, the kill switch, a test polling the
position) sees either no journal or a complete one, never a zero-byte file it must
refuse as damaged (found by the kill-a-running-session acceptance test, which failed
now and then when it polled at the moment the session created its journal)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import bastion.store.sqlite as sqlite_module
from bastion.domain.records import Note
from bastion.errors import JournalUnusable
from bastion.store import SqliteStore


def test_the_journal_path_does_not_exist_until_its_schema_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "journal.db"
    seen: list[tuple[bool, int]] = []
    real = sqlite_module._migrate

    def watching(db: object, path: Path) -> None:
        seen.append((journal.exists(), journal.stat().st_size if journal.exists() else -1))
        real(db, path)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite_module, "_migrate", watching)
    with SqliteStore(journal) as store:
        assert store.schema_version == sqlite_module.SCHEMA_VERSION
    assert seen, "the schema was never written"
    assert seen[0] == (False, -1), "the journal was visible before its schema was written"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_journal_another_process_created_first_is_kept(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    note = Note(timestamp=dt.datetime.now(dt.UTC), kind="test", text="theirs")
    with SqliteStore(journal) as store:
        store.record([note])
    assert sqlite_module._create(journal) is True  # loses the race: theirs stays
    with SqliteStore(journal) as store:
        assert [e.record for e in store.entries()] == [note]


def test_a_journal_in_a_missing_directory_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(JournalUnusable, match="cannot be created"):
        SqliteStore(tmp_path / "absent" / "journal.db")
