"""The restore drill (R9.6, issue 16) against the paper venue process.

A session trades; the next session's journal is backed up while it runs (from another
connection, with the session's own open), and that session trades on past the backup;
the journal is then damaged. Invariants: the damaged journal is refused
in one line naming the restore command; the backup restores; the session restarts on
the restored journal and sends nothing while its book and the venue disagree.

The last step: the first restart recovery after the restore adopts on its own what the
venue did after the backup (fills under Bastion's own order ids) when exactly one
strategy trades the instrument: the lots are that strategy's, the adoption is journaled
and alerted, nothing is locked and the reconciliation is clean with no operator step.
When two strategies trade it, the lots are held as unattributed and the instrument is
locked with one line naming ``bastion recover --adopt``, which then makes it clean.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bastion.config import Profile, parse_profile
from bastion.domain.records import BrokerOrderCreated, ForeignFillRecorded, Note
from bastion.domain.targets import Target
from bastion.errors import JournalUnusable
from bastion.ops.paper import VenueSession, VenueSessionResult, targets_for
from bastion.recon.locks import LockBook
from bastion.store import SqliteStore
from bastion.store.backup import RESTORE_KEY, backup_journal
from bastion.store.check import check_journal
from bastion.testing.paper_process import PaperVenueProcess
from bastion.venues.fix.profile import fix_venue_for
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO, run_cli
from tests.integration.store.journals import scribble

CONTRACT = "SP500/202406"
BEFORE, AFTER = 2, 5  # lots held when the backup is taken, and at the end of the session
SHARED = "other"  # in the shared drill, a second strategy holds 1 lot throughout


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
    locks: dict[str, dict[str, str]]
    held: dict[tuple[str, str], int]
    notes: list[tuple[str, str]]
    restore_state: str | None
    ids_after_backup: set[str]
    """Client order ids of the fills the venue made after the backup (adopted)."""
    ids_after_restore: set[str]
    """Client order ids a session after the restart sent (one more lot)."""


def _targets(lots: int, *, shared: bool) -> list[Target]:
    """``lots`` of SP500 in all: strategy ``drill``'s, and with ``shared`` one of them
    ``other``'s (two strategies trade the instrument)."""
    now = dt.datetime.now(dt.UTC)
    if not shared:
        return targets_for("drill", {"SP500": lots}, now)
    return [
        *targets_for("drill", {"SP500": lots - 1}, now),
        *targets_for(SHARED, {"SP500": 1}, now),
    ]


def _venue_drill(tmp_path: Path, *, shared: bool) -> Iterator[Drill]:
    venue = PaperVenueProcess(tmp_path / "venue.db", max_seconds=120)
    try:
        yield _run_drill(tmp_path, venue, shared=shared)
    finally:
        venue.stop()


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    yield from _venue_drill(tmp_path_factory.mktemp("drill"), shared=False)


@pytest.fixture(scope="module")
def shared_drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    yield from _venue_drill(tmp_path_factory.mktemp("shared"), shared=True)


def _run_drill(tmp_path: Path, venue: PaperVenueProcess, *, shared: bool) -> Drill:
    profile, profile_file = _profile(tmp_path, venue.port)
    journal = profile.store.path
    backup = tmp_path / "backups" / "journal-during-session.db"
    opening = _session(profile).run(_targets(BEFORE, shared=shared), seconds=30)
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
        return _targets(AFTER, shared=shared)

    first = session.run(wanted, seconds=30)
    scribble(journal, seed=16)
    with pytest.raises(JournalUnusable) as refused:
        SqliteStore(journal)
    report = run_cli(["report", "status", "--profile", str(profile_file)])
    restored = run_cli(["store", "restore", str(backup), "--journal", str(journal), "--yes"])
    kept = sorted(p.name for p in journal.parent.iterdir() if ".replaced-" in p.name)
    restored_seq = check_journal(journal).last_seq
    restarted = _session(profile).run(_targets(AFTER, shared=shared), seconds=5 if shared else 15)
    store = SqliteStore(journal)
    try:
        locks = {str(k): dict(v) for k, v in LockBook(store).locks().items()}
        held = {(str(s), str(i)): q for (s, i), q in store.book.positions.strategy.items() if q}
        notes = [
            (e.record.kind, e.record.text)
            for e in store.entries(restored_seq)
            if isinstance(e.record, Note)
        ]
        restore_state = store.get_state(RESTORE_KEY)
        ids_after_backup = {
            str(e.record.fill.client_order_id)
            for e in store.entries(restored_seq)
            if isinstance(e.record, ForeignFillRecorded)
        }
        last_seq = store.last_seq
    finally:
        store.close()
    ids_after_restore: set[str] = set()
    if not shared:  # trade on: new orders after the restore
        more = _session(profile).run(_targets(AFTER + 1, shared=shared), seconds=30)
        assert more.targets_met, more.problems
        store = SqliteStore(journal)
        try:
            ids_after_restore = {
                str(e.record.client_order_id)
                for e in store.entries(last_seq)
                if isinstance(e.record, BrokerOrderCreated)
            }
        finally:
            store.close()
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
        locks=locks,
        held=held,
        notes=notes,
        restore_state=restore_state,
        ids_after_backup=ids_after_backup,
        ids_after_restore=ids_after_restore,
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


def test_drill_restart_adopts_what_venue_did_after_backup_clean_without_operator(
    drill: Drill,
) -> None:
    """The first restart recovery after the restore takes in what the venue did after
    the backup (the broker is the truth for what is held) and, one strategy trading the
    instrument, gives it to that strategy: journaled, alerted, nothing locked, and the
    reconciliation is clean with no operator step."""
    restarted = drill.restarted
    assert restarted.positions == {CONTRACT: AFTER}, restarted.recoveries
    assert restarted.reconcile_clean, restarted.breaks
    assert restarted.done_for_today, restarted.state
    assert restarted.send_order_calls == 0
    assert drill.held == {("drill", "SP500"): AFTER}
    assert drill.locks == {}
    adopted = [text for kind, text in drill.notes if kind == "restore.adopted"]
    assert adopted
    assert all(str(drill.backup) in text and "strategy drill" in text for text in adopted)
    alerts = [text for kind, text in drill.notes if kind == "alert"]
    assert any(
        f"{AFTER - BEFORE:+d} lot(s)" in t and "adopted by strategy drill" in t for t in alerts
    )
    assert not any("locked" in t for t in alerts), alerts
    assert any(kind == "restore.recovered" for kind, _ in drill.notes)
    assert drill.restore_state is not None
    assert "recovered_at" in json.loads(drill.restore_state)
    clean = run_cli(["reconcile", "--profile", str(drill.profile_file)])
    assert clean.code == 0, clean.out + clean.err
    assert "reconciliation: CLEAN" in clean.out


def test_drill_two_strategies_trade_instrument_lock_names_recover_adopt(
    shared_drill: Drill,
) -> None:
    """Ambiguous (two strategies trade SP500): nothing is guessed. The lots are held as
    unattributed, the instrument is locked with one line naming ``bastion recover
    --adopt``, nothing is sent; the operator's adopt makes the reconciliation clean."""
    drill = shared_drill
    restarted = drill.restarted
    assert restarted.venue_positions == {CONTRACT: AFTER}
    assert restarted.positions == {CONTRACT: AFTER}, restarted.recoveries
    assert restarted.send_order_calls == 0
    assert drill.held == {
        ("drill", "SP500"): BEFORE - 1,
        (SHARED, "SP500"): 1,
        ("unattributed", "SP500"): AFTER - BEFORE,
    }
    why = drill.locks["SP500"]["anomaly"]
    assert "\n" not in why
    assert "bastion recover --instrument SP500 --adopt" in why
    assert "2 strategies" in why
    assert any(kind == "restore.ambiguous" for kind, _ in drill.notes)
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
            "restore drill: orders sent after the backup were drill's",
        ]
    )
    assert adopted.code == 0, adopted.out + adopted.err
    assert "recovery: CLEAN, unlocked" in adopted.out
    clean = run_cli(["reconcile", "--profile", str(drill.profile_file)])
    assert clean.code == 0, clean.out + clean.err
    assert "reconciliation: CLEAN" in clean.out


def test_generation_restore_then_new_orders_never_reuse_an_id_venue_saw_after_backup(
    drill: Drill,
) -> None:
    """The restore raised the journal's generation: the orders a session sends after it
    carry it, so none repeats a client order id the venue saw after the backup (the
    journal rebuilt from the backup would otherwise make the same ids again)."""
    assert drill.ids_after_backup
    assert drill.ids_after_restore
    assert not drill.ids_after_backup & drill.ids_after_restore
    assert all(i.startswith(("C1.", "I1.", "R1.", "M1.")) for i in drill.ids_after_restore), (
        drill.ids_after_restore
    )
