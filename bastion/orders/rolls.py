"""Roll status and contract choice (R4.5).

The stack asks a ``ContractSchedule`` which contract an instrument trades now, which it
rolls to, and the roll status. What each status does:

- ``NO_ROLL``: trade the current contract.
- ``PASSIVE``: trades that reduce the position close in the old contract; trades that
  increase it open in the new one. The position migrates as the strategy trades.
- ``FORCE``: one calendar-spread contract order moves the whole old position into the
  new contract (sell old / buy new for a long), then trade the new contract.
- ``FORCE_LEG``: the same move as two outright contract orders.
- ``CLOSE``: only reducing trades, in the old contract; nothing opens.

Roll orders have no instrument-order parent, so they leave the instrument (strategy)
position unchanged; only the contract table moves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bastion.domain.ids import ContractId, InstrumentId

__all__ = ["ContractSchedule", "FixedSchedule", "RollStatus"]


class RollStatus(StrEnum):
    NO_ROLL = "no_roll"
    PASSIVE = "passive"
    FORCE = "force"
    FORCE_LEG = "force_leg"
    CLOSE = "close"


class ContractSchedule(Protocol):
    def current(self, instrument_id: InstrumentId, when: dt.datetime) -> ContractId | None:
        """The contract the instrument is priced and held in; ``None``: unknown (no trade)."""
        ...

    def next(self, instrument_id: InstrumentId, when: dt.datetime) -> ContractId | None: ...

    def status(self, instrument_id: InstrumentId, when: dt.datetime) -> RollStatus: ...


@dataclass(slots=True)
class FixedSchedule:
    """A schedule set by hand (tests, the bench, an operator's roll command)."""

    contracts: dict[InstrumentId, ContractId] = field(default_factory=dict)
    next_contracts: dict[InstrumentId, ContractId] = field(default_factory=dict)
    statuses: dict[InstrumentId, RollStatus] = field(default_factory=dict)

    def current(self, instrument_id: InstrumentId, when: dt.datetime) -> ContractId | None:
        return self.contracts.get(instrument_id)

    def next(self, instrument_id: InstrumentId, when: dt.datetime) -> ContractId | None:
        return self.next_contracts.get(instrument_id)

    def status(self, instrument_id: InstrumentId, when: dt.datetime) -> RollStatus:
        return self.statuses.get(instrument_id, RollStatus.NO_ROLL)
