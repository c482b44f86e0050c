"""The first restart recovery after a restore from a backup (R9.6, issue 16).

``bastion store restore`` records in the restored journal that it was restored (from
which backup, when, its new generation; ``bastion.store.backup.RESTORE_KEY``). What the
venue did between the backup and the restore is then unknown to the journal: fills for
orders Bastion sent after the backup was taken come back at the next restart as fills
for client order ids the journal never wrote.

On the first recovery after a restore (``pending_restore``), a fill the journal does not
know whose client order id is Bastion's own (``is_bastion_order_id``: the stack's
contract, roll and manual order ids, with or without a restore generation) is adopted
as Bastion's when that is not ambiguous:

- exactly one strategy trades the fill's instrument (from the journal: the strategies
  with a target, a position or an instrument order in it; the reserved
  ``unattributed`` and ``manual`` holders are not strategies of the profile): the fill is
  journaled (it moves the contract position; the broker is the truth) and its lots go to
  that strategy in the same write, filling first what the strategy still had working on
  that side (so the intent the lost orders carried out is never sent again), with a
  ``restore.adopted`` note; the engine alerts the adoption once per instrument and does
  not lock;
- otherwise (no strategy, or several) the fill is journaled held by ``unattributed``
  with a ``restore.ambiguous`` note, and the engine locks the instrument with a one-line
  reason naming ``bastion recover --adopt``.

Fills under ids that are not Bastion's (a manual trade, another client) are surprises as
at any restart: held by ``unattributed``, the instrument locked. Orders still working at
the venue under ids the journal does not know are never adopted: they lock as foreign
orders (cancel them at the venue, then ``bastion recover``). Once a recovery completes,
the restore is marked recovered (``done``) and later recoveries behave as usual.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from bastion.domain.contracts import parse_contract_id
from bastion.domain.fills import Fill
from bastion.domain.ids import UNATTRIBUTED, InstrumentId, StrategyId
from bastion.domain.records import ForeignFillRecorded, Note
from bastion.domain.targets import Target
from bastion.oms.manager import OrderManager
from bastion.recon.balance import MANUAL_STRATEGY, transfer_records
from bastion.store.backup import RESTORE_KEY

__all__ = ["RestoreAdoption", "is_bastion_order_id", "pending_restore"]

_BASTION_ID = re.compile(r"[CRM](?:\d+\.)?\d+-\d+\.\d+")
"""The stack's broker order ids: ``{contract order}.{n}``, the contract order being
``{C|R|M}[{generation}.]{base}-{counter}`` (``StackHandler._next_id``)."""

_NOT_PROFILE_STRATEGIES = frozenset({UNATTRIBUTED, MANUAL_STRATEGY})


def is_bastion_order_id(client_order_id: str) -> bool:
    """True for a client order id made by Bastion's order stack."""
    return _BASTION_ID.fullmatch(client_order_id) is not None


class _State(Protocol):
    def get_state(self, key: str) -> str | None: ...
    def set_state(self, key: str, value: str) -> None: ...


@dataclass(slots=True)
class RestoreAdoption:
    """One recovery's adoption after a restore (see the module doc)."""

    oms: OrderManager
    backup: str
    restored_at: str
    strategies: dict[InstrumentId, set[StrategyId]]
    adopted: dict[InstrumentId, tuple[StrategyId, int, int]] = field(default_factory=dict)
    """Per instrument: the strategy, the signed lots and the number of fills adopted."""
    ambiguous: dict[InstrumentId, int] = field(default_factory=dict)
    """Per instrument: the signed lots held by ``unattributed`` for want of an owner."""

    @property
    def _source(self) -> str:
        return f"the restore from {self.backup} at {self.restored_at}"

    def claim(self, fill: Fill) -> bool:
        """Take ``fill`` (one the journal does not know) in; False leaves it to the OMS
        (a fill under an id that is not Bastion's)."""
        book = self.oms.book
        if (
            not is_bastion_order_id(fill.client_order_id)
            or book.broker_order(fill.client_order_id) is not None
            or fill.exec_id in book.exec_ids
        ):
            return False
        iid, _ = parse_contract_id(fill.contract_id)
        owners = self.strategies.get(iid, set())
        what = (
            f"fill {fill.exec_id} ({fill.side} {fill.quantity} {fill.contract_id}) of order"
            f" {fill.client_order_id}, sent after the backup"
        )
        data = {
            "client_order_id": fill.client_order_id,
            "contract_id": fill.contract_id,
            "exec_id": fill.exec_id,
            "backup": self.backup,
        }
        if len(owners) != 1:
            held = self.ambiguous.get(iid, 0) + fill.signed_quantity
            self.ambiguous[iid] = held
            text = f"{what}: held as {UNATTRIBUTED} after {self._source}" + (
                f" ({len(owners)} strategies trade {iid}: {', '.join(sorted(owners))})"
                if owners
                else f" (no strategy trades {iid})"
            )
            self.oms.record(
                ForeignFillRecorded(timestamp=fill.timestamp, fill=fill, why=text),
                Note(timestamp=fill.timestamp, kind="restore.ambiguous", text=text, data=data),
            )
            return True
        (owner,) = owners
        text = f"{what}: adopted by strategy {owner} after {self._source}"
        self.oms.record(
            ForeignFillRecorded(timestamp=fill.timestamp, fill=fill, why=text),
            *transfer_records(
                book, iid, fill.signed_quantity, owner, note=text, now=fill.timestamp
            ),
            Note(
                timestamp=fill.timestamp,
                kind="restore.adopted",
                text=text,
                data={**data, "strategy_id": owner},
            ),
        )
        _, lots, fills = self.adopted.get(iid, (owner, 0, 0))
        self.adopted[iid] = (owner, lots + fill.signed_quantity, fills + 1)
        return True

    def alerts(self) -> list[tuple[InstrumentId, str]]:
        """One line per instrument whose fills were adopted."""
        return [
            (
                iid,
                (
                    f"{iid}: {lots:+d} lot(s) the venue traded under Bastion's ids after the"
                    f" backup ({fills} fill(s)) adopted by strategy {owner} after {self._source}"
                ),
            )
            for iid, (owner, lots, fills) in sorted(self.adopted.items())
        ]

    def locks(self) -> list[tuple[InstrumentId, str]]:
        """One line per instrument left to the operator, naming the command."""
        return [
            (
                iid,
                (
                    f"{iid}: {lots:+d} lot(s) the venue traded under Bastion's ids after the"
                    f" backup have no single owner ({len(self.strategies.get(iid, ()))}"
                    f" strategies trade it) after {self._source}; decide, then bastion recover"
                    f" --instrument {iid} --adopt --strategy NAME --reason TEXT"
                ),
            )
            for iid, lots in sorted(self.ambiguous.items())
        ]

    def done(self, store: _State, now: dt.datetime) -> None:
        """Mark the restore recovered (later recoveries behave as usual), journaled."""
        raw = store.get_state(RESTORE_KEY)
        state = json.loads(raw) if raw else {}
        state["recovered_at"] = now.astimezone(dt.UTC).isoformat()
        store.set_state(RESTORE_KEY, json.dumps(state))
        adopted = sum(abs(lots) for _, lots, _ in self.adopted.values())
        held = sum(abs(lots) for lots in self.ambiguous.values())
        self.oms.record(
            Note(
                timestamp=now,
                kind="restore.recovered",
                text=f"first recovery after {self._source}: {adopted} lot(s) adopted,"
                f" {held} lot(s) left to the operator",
                data={"backup": self.backup},
            )
        )


def _strategies(
    oms: OrderManager, targets: Iterable[Target]
) -> dict[InstrumentId, set[StrategyId]]:
    book = oms.book
    found: dict[InstrumentId, set[StrategyId]] = {}
    pairs = [
        *((t.strategy_id, t.instrument_id) for t in targets),
        *((sid, iid) for (sid, iid), q in book.positions.strategy.items() if q),
        *((o.strategy_id, o.instrument_id) for o in book.instrument_orders.values()),
    ]
    for sid, iid in pairs:
        if sid not in _NOT_PROFILE_STRATEGIES:
            found.setdefault(iid, set()).add(sid)
    return found


def pending_restore(
    store: _State, oms: OrderManager, targets: Iterable[Target]
) -> RestoreAdoption | None:
    """The adoption for this recovery when the journal was restored and no recovery has
    settled it yet; ``None`` otherwise (or when the record is unreadable)."""
    raw = store.get_state(RESTORE_KEY)
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(state, dict) or state.get("recovered_at"):
        return None
    return RestoreAdoption(
        oms=oms,
        backup=str(state.get("backup", "?")),
        restored_at=str(state.get("restored_at", "?")),
        strategies=_strategies(oms, targets),
    )
