"""Invariant: opening (and closing) a second store on a journal in the same process never
costs the first one its committed records.

SQLite's locks are POSIX advisory locks, and closing *any* descriptor of a file drops
every such lock the process holds on it. A journal check that read the file's header
through its own descriptor silently unlocked a live engine's connection in the same
process (the pre-submit gate opens the store to read the gate's facts); the next
process to close its connection then checkpointed and deleted the WAL under the
engine, and the engine's later commits were lost (found by the kill-a-running-session
acceptance test)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from bastion.domain.records import Note
from bastion.store import SqliteStore, StoreMode


def _note(text: str) -> Note:
    return Note(timestamp=dt.datetime.now(dt.UTC), kind="test", text=text)


def _other_process_touches(path: Path) -> None:
    code = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]);"
        " db.execute('select count(*) from journal').fetchone(); db.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def _seen_by_another_process(path: Path) -> int:
    code = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]);"
        " print(db.execute('select max(seq) from journal').fetchone()[0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
    )
    return int(done.stdout.strip())


def test_store_second_open_in_process_keeps_the_first_ones_commits(tmp_path: Path) -> None:
    journal = tmp_path / "paper" / "journal.db"
    journal.parent.mkdir()
    engine = SqliteStore(journal, mode=StoreMode.LIVE)
    engine.record([_note("one")])
    SqliteStore(journal).close()  # e.g. the pre-submit gate reading the store's facts
    _other_process_touches(journal)  # its close must not find itself the last reader
    engine.record([_note("two")])
    engine.record([_note("three")])
    assert _seen_by_another_process(journal) == 3
    engine.close()
    assert _seen_by_another_process(journal) == 3
