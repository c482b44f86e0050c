"""Instrument locks (R7.3) and the risk-gate seam that enforces them.

A lock stops new orders in one instrument. Reconciliation locks an instrument when a
locking break appears and unlocks it when the break clears; the retry breaker locks an
instrument whose orders fail in a loop (R5.5) and only an operator clears that one.
Locks live in the store's small key-value state, so they survive restarts: a crash
never silently unlocks anything.

API:
- ``LockBook(state)``: ``lock(instrument, source, why)``, ``unlock(instrument, source)``,
  ``is_locked(instrument)``, ``locks()``; ``sync_from_report(report)`` applies a
  reconciliation report (locks new breaks, clears reconciliation locks whose break is
  gone) and returns what changed, for alerts and the journal.
- ``LockingGate(inner, locks, broker_positions)`` wraps any ``RiskGate``: a locked
  instrument refuses orders (``Reason.RECONCILIATION_BREAK``) except on the recovery
  path, and a closing order is refused unless the broker holds the position it closes
  (R7.4: a close with no matching broker position is never sent).
- ``lock_note(when, change, by)``: the journal note (kind ``lock``) for a lock an
  operator's procedure changed; the alert mapping turns an unlock into "instrument
  unlocked" (the reconciler's own changes are in its ``reconcile`` note).

The risk engine (``bastion.risk``) keeps trading states per scope; these locks are a
separate, narrower thing (one instrument, one cause) and are checked in front of it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.reasons import Reason
from bastion.domain.records import Note
from bastion.recon.breaks import ReconReport
from bastion.risk.port import OrderPath, OrderRequest, RiskDecision, RiskGate

__all__ = ["LockBook", "LockChange", "LockSource", "LockingGate", "StateStore", "lock_note"]

LOCK_NOTE = "lock"

_KEY = "recon.locks"


class StateStore(Protocol):
    def get_state(self, key: str) -> str | None: ...

    def set_state(self, key: str, value: str) -> None: ...


class LockSource:
    RECONCILIATION = "reconciliation"
    BREAKER = "breaker"
    OPERATOR = "operator"
    ANOMALY = "anomaly"
    """A venue fact that did not fit the book (an overfill, a fill for an order Bastion
    did not place): only an operator clears it, by adopting or restoring the position."""


@dataclass(frozen=True, slots=True)
class LockChange:
    instrument_id: InstrumentId
    locked: bool
    source: str
    why: str


def lock_note(when: dt.datetime, change: LockChange, by: str) -> Note:
    """The journal note for ``change``, made by ``by`` (the operator's reason)."""
    iid = change.instrument_id
    verb = "locked" if change.locked else "unlocked"
    return Note(
        timestamp=when,
        kind=LOCK_NOTE,
        text=f"{iid} {verb} ({change.source} lock: {change.why}): {by}",
        data={
            "instrument_id": str(iid),
            "locked": str(change.locked).lower(),
            "source": change.source,
            "why": change.why,
            "by": by,
        },
    )


class LockBook:
    def __init__(self, state: StateStore) -> None:
        self._state = state
        raw = state.get_state(_KEY)
        loaded: dict[str, dict[str, str]] = json.loads(raw) if raw else {}
        self._locks: dict[InstrumentId, dict[str, str]] = {
            InstrumentId(k): dict(v) for k, v in loaded.items()
        }

    def _save(self) -> None:
        self._state.set_state(_KEY, json.dumps(self._locks, sort_keys=True))

    def locks(self) -> dict[InstrumentId, dict[str, str]]:
        """Locked instruments: for each, the sources holding the lock and why."""
        return {k: dict(v) for k, v in self._locks.items()}

    def is_locked(self, instrument_id: InstrumentId) -> bool:
        return bool(self._locks.get(instrument_id))

    def lock(self, instrument_id: InstrumentId, source: str, why: str) -> LockChange | None:
        held = self._locks.setdefault(instrument_id, {})
        if held.get(source) == why:
            return None
        held[source] = why
        self._save()
        return LockChange(instrument_id, locked=True, source=source, why=why)

    def unlock(self, instrument_id: InstrumentId, source: str) -> LockChange | None:
        held = self._locks.get(instrument_id)
        if not held or source not in held:
            return None
        why = held.pop(source)
        if not held:
            del self._locks[instrument_id]
        self._save()
        return LockChange(instrument_id, locked=False, source=source, why=why)

    def sync_from_report(self, report: ReconReport) -> list[LockChange]:
        """Lock every instrument with a locking break; clear reconciliation locks whose
        breaks are gone. An incomplete report (an unknown view) clears nothing."""
        changes: list[LockChange] = []
        breaking = report.locked_instruments
        for iid in sorted(breaking):
            why = "; ".join(
                f"{b.kind} {b.key}" for b in report.breaks if b.instrument_id == iid and b.locks
            )
            change = self.lock(iid, LockSource.RECONCILIATION, why)
            if change is not None:
                changes.append(change)
        if report.unknown:
            return changes
        for iid in sorted(self._locks):
            if iid not in breaking and LockSource.RECONCILIATION in self._locks[iid]:
                change = self.unlock(iid, LockSource.RECONCILIATION)
                if change is not None:
                    changes.append(change)
        return changes


BrokerPositions = Callable[[], Mapping[ContractId, int] | None]
"""The latest usable broker positions, or ``None`` when unknown or too old."""


class LockingGate:
    """A ``RiskGate`` in front of another: locks first, then R7.4, then ``inner``."""

    def __init__(
        self,
        inner: RiskGate,
        locks: LockBook,
        broker_positions: BrokerPositions | None = None,
    ) -> None:
        self.inner = inner
        self.locks = locks
        self._broker_positions = broker_positions
        self.denied = 0

    def check(self, request: OrderRequest) -> RiskDecision:
        iid = request.instrument_id
        if self.locks.is_locked(iid) and request.path is not OrderPath.RECONCILE:
            self.denied += 1
            held = self.locks.locks().get(iid, {})
            return RiskDecision.deny(
                Reason.RECONCILIATION_BREAK,
                "instrument_lock",
                f"{iid} is locked until its break clears ({'; '.join(held.values())})",
            )
        if request.reduces_position and self._broker_positions is not None:
            refusal = self._broker_truth(request)
            if refusal is not None:
                self.denied += 1
                return refusal
        return self.inner.check(request)

    def _broker_truth(self, request: OrderRequest) -> RiskDecision | None:
        """R7.4: a close is sent only if the broker holds what it closes."""
        assert self._broker_positions is not None  # noqa: S101 - checked by the caller
        broker = self._broker_positions()
        order = request.order
        if broker is None:
            return RiskDecision.deny(
                Reason.RECONCILIATION_BREAK,
                "broker_position",
                f"close of {order.contract_id}: the broker's position is unknown",
            )
        held = broker.get(order.contract_id, 0)
        if held * order.side.sign >= 0 or abs(held) < order.quantity:
            return RiskDecision.deny(
                Reason.RECONCILIATION_BREAK,
                "broker_position",
                f"close {order.side} {order.quantity} {order.contract_id}: the broker holds"
                f" {held:+d}; a close with no matching broker position is never sent",
            )
        return None
