"""Where the risk engine keeps what must survive a restart (R6.1).

Current values (trading states, run-time limits, the day's starting equity, the risk
level, a pending kill request) live in the store's small key-value table; every change
is also journaled as a ``Note`` so the audit trail says who changed what, when and why.
``SqliteStore`` is a ``RiskStore``; ``MemoryRiskStore`` is the in-memory one for pure
tests.

Write order, so that a crash between the two writes fails closed:
- a change that *tightens* (halt, reduce, kill request) sets the value first, then
  journals: the restriction holds at once, even if the note is lost;
- a change that *loosens* (resume, a higher limit) journals first, then sets the value:
  a crash in between leaves the old, tighter value in force.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Protocol

from bastion.domain.records import JournalRecord, Note
from bastion.errors import InvariantError

__all__ = ["MemoryRiskStore", "RiskStore", "load_json", "write_change"]

KEY_STATES = "risk.states"
KEY_LIMITS = "risk.limits"
KEY_LOSS = "risk.loss"
KEY_LEVEL = "risk.level"
KEY_KILL = "risk.kill"
KEY_KILL_CLOSED = "risk.kill.closed"
"""When the last kill switch finished (ISO time): the plan it interrupted ended then."""


class RiskStore(Protocol):
    def get_state(self, key: str) -> str | None: ...

    def set_state(self, key: str, value: str) -> None: ...

    def record(self, records: Sequence[JournalRecord]) -> None: ...


class MemoryRiskStore:
    """A ``RiskStore`` in memory: a dict of values and a list of journal records."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.records: list[JournalRecord] = []

    def get_state(self, key: str) -> str | None:
        return self.values.get(key)

    def set_state(self, key: str, value: str) -> None:
        self.values[key] = value

    def record(self, records: Sequence[JournalRecord]) -> None:
        self.records.extend(records)

    def notes(self, kind_prefix: str = "risk") -> list[Note]:
        return [r for r in self.records if isinstance(r, Note) and r.kind.startswith(kind_prefix)]


def load_json(store: RiskStore, key: str) -> dict[str, Any]:
    """The JSON object stored under ``key``; empty when absent."""
    raw = store.get_state(key)
    if raw is None:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise InvariantError(f"risk state {key} is not a JSON object: {raw[:80]!r}")
    return value


def write_change(
    store: RiskStore,
    key: str,
    value: dict[str, Any],
    note: Note,
    *,
    tightens: bool,
) -> None:
    """Persist ``value`` under ``key`` and journal ``note``, in the fail-closed order."""
    encoded = json.dumps(value, sort_keys=True)
    if tightens:
        store.set_state(key, encoded)
        store.record([note])
    else:
        store.record([note])
        store.set_state(key, encoded)


def note(when: dt.datetime, kind: str, text: str, **data: object) -> Note:
    """A risk journal note; data values are rendered as strings."""
    return Note(
        timestamp=when,
        kind=kind,
        text=text,
        data={k: str(v) for k, v in data.items() if v is not None},
    )
