"""Invariants of `bastion store backup` and `bastion store restore` (R9.6).

A backup is a consistent, checked copy, also while another process writes the journal:
every backup is a gap-free prefix of the journal, entry for entry. A failed backup (a
full disk, a name already taken, a damaged source) leaves no file and says so in one
line. A restore checks the backup before touching anything, refuses while another
process has the journal open, refuses to replace a journal unless told to, and then
keeps the old file and its -wal/-shm beside it (a stale -wal is never applied to the
restored file).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.store import SqliteStore
from bastion.store.check import check_journal
from tests.conftest import REPO, run_cli
from tests.integration.store.journals import WRITER, scribble, write_journal, write_orders

ENV = {
    **os.environ,
    "PYTHONPATH": str(REPO),
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def _rows(path: Path) -> list[tuple[int, bytes]]:
    store = SqliteStore(path)
    rows = [(e.seq, e.record) for e in store.entries()]
    store.close()
    return rows  # type: ignore[return-value]


def test_backup_while_another_process_writes_each_copy_a_checked_prefix(tmp_path: Path) -> None:
    journal = write_journal(tmp_path / "paper" / "journal.db", orders=20)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    writer = subprocess.Popen(
        [sys.executable, str(script), str(journal), "20"],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert writer.stdout is not None
    backups: list[tuple[int, Path]] = []
    try:
        for n in range(4):
            for _ in range(25):  # the writer has committed 25 more orders
                seen = int(writer.stdout.readline())
            dest = tmp_path / f"backup-{n}.db"
            result = run_cli(["store", "backup", "--journal", str(journal), "--to", str(dest)])
            assert result.code == 0, result.err
            assert f"written to {dest}" in result.out
            backups.append((seen, dest))
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
    live = _rows(journal)
    for seen, dest in backups:
        health = check_journal(dest)
        assert health.last_seq >= seen  # at least what was committed before the backup
        assert _rows(dest) == live[: health.entries]  # a prefix, entry for entry
        assert not Path(f"{dest}-wal").exists()  # a single self-contained file
    assert backups[-1][0] > backups[0][0]


def test_backup_default_name_beside_journal(tmp_path: Path) -> None:
    journal = write_journal(tmp_path / "sim" / "journal.db", orders=5)
    result = run_cli(["store", "backup", "--journal", str(journal)])
    assert result.code == 0, result.err
    [made] = (journal.parent / "backups").iterdir()
    assert made.name.startswith("journal-")
    assert made.suffix == ".db"
    assert check_journal(made).entries == check_journal(journal).entries


def test_backup_destination_taken_refused_exit_2(tmp_path: Path) -> None:
    journal = write_journal(tmp_path / "sim" / "journal.db", orders=5)
    dest = tmp_path / "taken.db"
    dest.write_text("mine")
    result = run_cli(["store", "backup", "--journal", str(journal), "--to", str(dest)])
    assert result.code == 2
    assert result.err.strip() == (
        f"bastion: error: backup {dest} already exists; choose another name (nothing was written)"
    )
    assert dest.read_text() == "mine"


def test_backup_damaged_journal_refused_no_file_left(tmp_path: Path) -> None:
    journal = write_journal(tmp_path / "sim" / "journal.db", orders=400)
    scribble(journal, seed=3)
    folder = tmp_path / "backups"
    result = run_cli(["store", "backup", "--journal", str(journal), "--to", str(folder / "b.db")])
    assert result.code == 1
    assert result.err.startswith(f"bastion: error: journal {journal}: is damaged")
    assert list(folder.iterdir()) == []


def _limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)


def test_backup_disk_full_one_line_exit_1_nothing_left(tmp_path: Path) -> None:
    """A real limit: the backup process may not write a file larger than half the journal."""
    journal = write_journal(tmp_path / "sim" / "journal.db", orders=400)
    limit = journal.stat().st_size // 2
    folder = tmp_path / "backups"
    folder.mkdir()
    proc = subprocess.run(  # preexec_fn sets the child's own file-size limit
        [sys.executable, "-c", "from bastion.cli import main; main()", "store", "backup",
         "--journal", str(journal), "--to", str(folder / "b.db")],
        capture_output=True, text=True, env=ENV, preexec_fn=lambda: _limit_file_size(limit),
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"bastion: error: backup of {journal} to {folder / 'b.db'} failed")
    assert lines[0].endswith("nothing was written")
    assert list(folder.iterdir()) == []
    assert check_journal(journal).entries > 0  # the journal itself is untouched


@pytest.fixture
def backed_up(tmp_path: Path) -> tuple[Path, Path]:
    journal = write_journal(tmp_path / "paper" / "journal.db", orders=300)
    backup = tmp_path / "backup.db"
    assert run_cli(["store", "backup", "--journal", str(journal), "--to", str(backup)]).code == 0
    store = SqliteStore(journal)
    write_orders(store, 300, 320)  # the journal moves on after the backup
    store.close()
    return journal, backup


def test_restore_without_yes_refused_exit_2_nothing_changed(backed_up: tuple[Path, Path]) -> None:
    journal, backup = backed_up
    before = journal.read_bytes()
    result = run_cli(["store", "restore", str(backup), "--journal", str(journal)])
    assert result.code == 2
    assert "exists; pass --yes to replace it" in result.err
    assert journal.read_bytes() == before


def test_restore_damaged_backup_refused_nothing_changed(backed_up: tuple[Path, Path]) -> None:
    journal, backup = backed_up
    scribble(backup, seed=5)
    before = journal.read_bytes()
    result = run_cli(["store", "restore", str(backup), "--journal", str(journal), "--yes"])
    assert result.code == 1
    assert result.err.startswith(f"bastion: error: backup {backup} cannot be restored: it is")
    assert "nothing was changed" in result.err
    assert journal.read_bytes() == before
    assert sorted(p.name for p in journal.parent.iterdir()) == ["journal.db"]


def test_restore_with_yes_keeps_old_files_and_ignores_stale_wal(
    backed_up: tuple[Path, Path],
) -> None:
    journal, backup = backed_up
    scribble(journal, seed=7)
    stale_wal = Path(f"{journal}-wal")
    stale_wal.write_bytes(b"a write-ahead log from the damaged file")
    result = run_cli(["store", "restore", str(backup), "--journal", str(journal), "--yes"])
    assert result.code == 0, result.err
    kept = sorted(p.name for p in journal.parent.iterdir() if p.name != "journal.db")
    assert len(kept) == 2
    assert kept[0].startswith("journal.db.replaced-")
    assert kept[1] == f"{kept[0]}-wal"
    assert (journal.parent / kept[1]).read_bytes() == b"a write-ahead log from the damaged file"
    assert not stale_wal.exists()
    expected = check_journal(backup).entries
    store = SqliteStore(journal)
    assert store.last_seq == expected
    assert store.verify_projections()
    store.close()
    assert f"restored {backup} to {journal}" in result.out


def test_restore_refused_while_another_process_has_journal_open(
    backed_up: tuple[Path, Path],
) -> None:
    journal, backup = backed_up
    holder = subprocess.Popen(
        [sys.executable, "-c",
         ("import sys; from bastion.store import SqliteStore;"
          f" s = SqliteStore({str(journal)!r}); print('open', flush=True); sys.stdin.readline()")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    assert holder.stdout is not None
    assert holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "open"
        result = run_cli(["store", "restore", str(backup), "--journal", str(journal), "--yes"])
    finally:
        holder.stdin.close()
        holder.wait()
        holder.stdout.close()
    assert result.code == 1
    assert result.err.strip() == (
        f"bastion: error: journal {journal} is open in process {holder.pid}; stop it before"
        " restoring (nothing was changed)"
    )
    assert check_journal(journal).entries > check_journal(backup).entries


def test_restore_to_new_place_needs_no_confirmation(tmp_path: Path) -> None:
    journal = write_journal(tmp_path / "paper" / "journal.db", orders=10)
    backup = tmp_path / "b.db"
    shutil.copy(journal, backup)
    target = tmp_path / "elsewhere" / "journal.db"
    result = run_cli(["store", "restore", str(backup), "--journal", str(target)])
    assert result.code == 0, result.err
    assert check_journal(target).entries == check_journal(journal).entries
