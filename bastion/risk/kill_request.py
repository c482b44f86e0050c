"""A kill request: HALTED persisted at once, then a request the engine's loop runs.

Shared by every trigger (a limit configured ``kill``, ``bastion kill``), so the first
step of the kill switch, persisting HALTED, happens the moment anyone pulls it, even
in a process that cannot reach the venue (the CLI).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bastion.clock import Clock
from bastion.risk.board import StateBoard
from bastion.risk.persist import (
    KEY_KILL,
    KEY_KILL_CLOSED,
    RiskStore,
    load_json,
    note,
    write_change,
)
from bastion.risk.states import Scope, StateEvent

__all__ = ["clear_kill", "closed_kill", "pending_kill", "request_kill"]


def request_kill(
    store: RiskStore, board: StateBoard, clock: Clock, reason: str, actor: str = "operator"
) -> None:
    """Persist HALTED for the account, then record the request (both journaled)."""
    now = clock.now()
    board.apply(Scope.account(), StateEvent.KILL, reason, actor=actor)
    request = {"reason": reason, "actor": actor, "requested_at": now.isoformat()}
    record = note(now, "risk.kill", f"kill switch requested by {actor}: {reason}", **request)
    write_change(store, KEY_KILL, request, record, tightens=True)


def pending_kill(store: RiskStore) -> dict[str, Any] | None:
    return load_json(store, KEY_KILL) or None


def clear_kill(store: RiskStore, clock: Clock, outcome: str) -> None:
    """The kill switch ran; the account stays HALTED until an operator resumes. When it
    finished is kept (``closed_kill``) before the request is cleared: the plan it
    interrupted is over, and an engine restarted at any point after must know it."""
    now = clock.now()
    store.set_state(KEY_KILL_CLOSED, now.isoformat())
    record = note(now, "risk.kill", f"kill request closed: {outcome}")
    write_change(store, KEY_KILL, {}, record, tightens=False)


def closed_kill(store: RiskStore) -> dt.datetime | None:
    """When the last kill switch finished, if one ever did."""
    raw = store.get_state(KEY_KILL_CLOSED)
    return None if raw is None else dt.datetime.fromisoformat(raw)
