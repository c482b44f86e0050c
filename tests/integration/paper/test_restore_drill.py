"""The restore drill (R9.6, issue 16) against the paper venue process.

A session trades; the next session's journal is backed up while it runs (from another
connection, with the session's own open), and that session trades on past the backup;
the journal is then damaged. Invariants: the damaged journal is refused
in one line naming the restore command; the backup restores; the session restarts on
the restored journal and sends nothing while its book and the venue disagree.

The last step: restart recovery takes in what the venue did after the backup (held as
unattributed, the instrument locked), and ``bastion recover --adopt`` makes the
reconciliation clean.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bastion.config import Profile, parse_profile
from bastion.errors import JournalUnusable
from bastion.ops.paper import VenueSession, VenueSessionResult, targets_for
from bastion.store import SqliteStore
from bastion.store.backup import backup_journal
from bastion.store.check import check_journal
from bastion.testing.paper_process import PaperVenueProcess
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO, run_cli
from tests.integration.store.journals import scribble

CONTRACT = "SP500/202406"
BEFORE, AFTER = 2, 5  # lots held when the backup is taken, and at the end of the session


def _profile(tmp_path: Path, port: int) -> tuple[Profile, Path]:
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"]["port"] = port
    raw["store"] = {"path": str(tmp_path / "paper" / "journal.db")}
    raw["records_dir"] = str(tmp_path / "paper" / "records")
    raw.pop("pool", None)
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(raw))
    return parse_profile(raw, "drill"), path


def _session(profile: Profile) -> VenueSession:
    contracts = dict(DEFAULT_CONTRACTS)
    return VenueSession(
        profile,
        fix_venue_for(profile, contracts, "engine"),
        contracts,
        risk_level="base",
        risk_level_source="drill",
        reconcile_every=dt.timedelta(seconds=1),
    )


@dataclass
class Drill:
    profile: Profile
    profile_file: Path
    backup: Path
    backup_seq: int
    first: VenueSessionResult
    refusal: str
    report_code: int
    report_err: str
    restore_out: str
    restore_code: int
    kept: list[str]
    restarted: VenueSessionResult
    restored_seq: int


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    tmp_path = tmp_path_factory.mktemp("drill")
    venue = PaperVenueProcess(tmp_path / "venue.db", max_seconds=120)
    try:
        yield _run_drill(tmp_path, venue)
    finally:
        venue.stop()


def _run_drill(tmp_path: Path, venue: PaperVenueProcess) -> Drill:
    profile, profile_file = _profile(tmp_path, venue.port)
    journal = profile.store.path
    backup = tmp_path / "backups" / "journal-during-session.db"
    opening = _session(profile).run(
        targets_for("drill", {"SP500": BEFORE}, dt.datetime.now(dt.UTC)), seconds=30
    )
    assert opening.targets_met, opening.problems
    session = _session(profile)
    taken: list[int] = []

    def wanted():  # type: ignore[no-untyped-def]
        """At the session's first step (its store open, recovered and reconciled), back the
        journal up from another connection; then want AFTER lots: the venue trades on
        past the backup."""
        if not taken:
            result = backup_journal(journal, backup, now=dt.datetime.now(dt.UTC))
            taken.append(result.health.last_seq)
        return targets_for("drill", {"SP500": AFTER}, dt.datetime.now(dt.UTC))

    first = session.run(wanted, seconds=30)
    scribble(journal, seed=16)
    with pytest.raises(JournalUnusable) as refused:
        SqliteStore(journal)
    report = run_cli(["report", "status", "--profile", str(profile_file)])
    restored = run_cli(["store", "restore", str(backup), "--journal", str(journal), "--yes"])
    kept = sorted(p.name for p in journal.parent.iterdir() if ".replaced-" in p.name)
    restored_seq = check_journal(journal).last_seq
    restarted = _session(profile).run(
        targets_for("drill", {"SP500": AFTER}, dt.datetime.now(dt.UTC)), seconds=15
    )
    return Drill(
        profile=profile,
        profile_file=profile_file,
        backup=backup,
        backup_seq=taken[0] if taken else -1,
        first=first,
        refusal=str(refused.value),
        report_code=report.code,
        report_err=report.err,
        restore_out=restored.out + restored.err,
        restore_code=restored.code,
        kept=kept,
        restarted=restarted,
        restored_seq=restored_seq,
    )


def test_drill_backup_during_session_damage_refused_restore_restart_fail_closed(
    drill: Drill,
) -> None:
    first = drill.first
    assert drill.backup_seq > 0, "the backup was never taken"
    assert first.targets_met, first.problems
    assert first.reconcile_clean, first.breaks
    assert first.positions == {CONTRACT: AFTER}
    assert first.venue_positions == {CONTRACT: AFTER}
    backup = check_journal(drill.backup)
    assert backup.last_seq == drill.backup_seq
    # the damaged journal: refused in one line that says how to restore
    assert "bastion store restore" in drill.refusal
    assert "\n" not in drill.refusal
    assert drill.report_code == 1
    assert "bastion store restore" in drill.report_err
    # the restore: checked, the damaged file kept beside
    assert drill.restore_code == 0, drill.restore_out
    assert drill.kept
    assert drill.kept[0].startswith("journal.db.replaced-")
    assert drill.restored_seq >= backup.last_seq
    # the restart comes up on the restored journal and sends nothing while the book and the
    # venue disagree (fail closed)
    restarted = drill.restarted
    assert restarted.venue_positions == {CONTRACT: AFTER}
    assert restarted.send_order_calls == 0


def test_drill_restart_adopts_what_venue_did_after_backup_then_operator_clears(
    drill: Drill,
) -> None:
    """Restart recovery takes in what the venue did after the backup (the broker is the
    truth for what is held): the position equals the venue's, the lots no journaled
    order explains are held by the reserved unattributed strategy, and the instrument is
    locked for the operator. ``bastion recover --adopt`` gives them to the strategy and
    the reconciliation is clean."""
    restarted = drill.restarted
    assert restarted.positions == {CONTRACT: AFTER}, restarted.recoveries
    store = SqliteStore(drill.profile.store.path)
    try:
        held = dict(store.book.positions.strategy)
    finally:
        store.close()
    assert held == {("drill", "SP500"): BEFORE, ("unattributed", "SP500"): AFTER - BEFORE}
    adopted = run_cli(
        [
            "recover",
            "--profile",
            str(drill.profile_file),
            "--instrument",
            "SP500",
            "--adopt",
            "--strategy",
            "drill",
            "--reason",
            "restore drill: orders sent after the backup were ours",
        ]
    )
    assert adopted.code == 0, adopted.out + adopted.err
    assert "recovery: CLEAN, unlocked" in adopted.out
    clean = run_cli(["reconcile", "--profile", str(drill.profile_file)])
    assert clean.code == 0, clean.out + clean.err
    assert "reconciliation: CLEAN" in clean.out
