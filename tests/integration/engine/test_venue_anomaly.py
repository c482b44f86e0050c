"""Invariant: a venue message Bastion cannot read or place is never skipped. About a
known order, it locks that order's instrument (an operator clears it with ``bastion
recover``) and alerts; naming no known order, it makes the engine reconcile at once,
since an unreadable report may have been a fill (issue 14: a hostile venue)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bastion.domain.records import Note
from bastion.domain.venue_events import VenueAnomaly
from bastion.oms.manager import ApplyOutcome
from bastion.ops.paper import targets_for
from bastion.recon.locks import LockSource
from tests.integration.engine.test_duties import SP500, SP_H, _kernel, _passes


def test_an_anomaly_about_a_known_order_locks_its_instrument(tmp_path: Path) -> None:
    engine, _sim, clock = _kernel(tmp_path)
    _passes(engine, clock, 4, targets=targets_for("s", {"SP500": 1}, clock.now()))
    order = next(iter(engine.oms.book.history.values()))
    coid = getattr(order, "client_order_id", None)
    assert coid is not None
    applied = engine.oms.apply(
        VenueAnomaly(
            kind="unknown_exec_type",
            message="ExecType 'Z' is not one Bastion knows",
            timestamp=clock.now(),
            client_order_id=coid,
        )
    )
    assert applied.outcome is ApplyOutcome.ANOMALY
    assert LockSource.ANOMALY in engine.locks.locks().get(SP500, {})
    notes = [e.record for e in engine.store.entries() if isinstance(e.record, Note)]
    assert any(n.kind == "anomaly" and n.data.get("contract_id") == SP_H for n in notes)
    assert any(n.kind == "alert" and "SP500 locked" in n.text for n in notes)
    engine.close()


def test_an_anomaly_naming_no_order_makes_the_engine_reconcile_now(tmp_path: Path) -> None:
    engine, _sim, clock = _kernel(tmp_path)
    _passes(engine, clock, 2, targets=[])
    before = engine.reconciler.last_run
    assert before is not None
    assert not engine.reconciler.due()  # the next one is 10 s away
    engine.oms.apply(
        VenueAnomaly(kind="unreadable_report", message="garbled 8", timestamp=clock.now())
    )
    assert engine.reconciler.due()
    clock.advance(dt.timedelta(milliseconds=100))
    engine.iterate()
    assert engine.reconciler.last_run == clock.now()
    assert not engine.locks.is_locked(SP500)  # nothing disagreed: nothing locked
    engine.close()
