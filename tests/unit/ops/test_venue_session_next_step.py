"""Invariant: a venue session's next step names what is actually wrong. A break (positions
or fills disagree) or an unknown view says resolve the breaks; a target left unmet by the
daily trade limit, with positions and fills agreeing, says so and never sends the
operator to a break that does not exist; "done" only when trading, met and clean."""

from __future__ import annotations

from pathlib import Path

from bastion.cli.session import _reconciliation_text, _venue_next_step
from bastion.engine.engine import EngineState
from bastion.ops.paper import VenueSessionResult


def _result(**changes: object) -> VenueSessionResult:
    fields: dict[str, object] = {
        "seconds": 1.0,
        "ready_seconds": 1.0,
        "targets_met": True,
        "state": EngineState.TRADING.value,
        "orders": 1,
        "fills": 1,
        "send_order_calls": 1,
        "cancel_order_calls": 0,
        "positions": {},
        "venue_positions": {},
        "reconcile_clean": True,
        "breaks": [],
        "unknown": [],
        "recoveries": [],
        "disconnects": 0,
        "restarts": 0,
        "journal": Path("journal.db"),
        "log": Path("session.log"),
    }
    fields.update(changes)
    return VenueSessionResult(**fields)  # type: ignore[arg-type]


def test_next_step_trade_limit_with_agreeing_positions_names_the_limit() -> None:
    r = _result(
        targets_met=False,
        reconcile_clean=False,
        breaks=["target_vs_actual SP500 s/SP500 bastion=+1 other=+2"],
        problems=["C1-2: trade limit for SP500 reached today"],
    )
    assert "daily trade limit" in _venue_next_step(r)
    assert "resolve the breaks" not in _venue_next_step(r)
    assert _reconciliation_text(r) == "targets not met only (positions and fills agree)"


def test_next_step_locking_break_says_resolve_the_breaks() -> None:
    r = _result(reconcile_clean=False, locking_breaks=True, breaks=["contract_vs_broker ..."])
    assert "resolve the breaks" in _venue_next_step(r)
    assert _reconciliation_text(r) == "NOT CLEAN"


def test_next_step_unknown_view_says_resolve_the_breaks() -> None:
    r = _result(reconcile_clean=False, unknown=["broker positions"])
    assert "resolve the breaks" in _venue_next_step(r)


def test_next_step_met_and_clean_is_done() -> None:
    assert _venue_next_step(_result()).startswith("done for today")
