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

__all__ = ["CalendarSchedule", "ContractSchedule", "FixedSchedule", "Roll", "RollStatus"]


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


@dataclass(frozen=True, slots=True)
class Roll:
    when: dt.datetime
    old: ContractId
    new: ContractId


@dataclass(slots=True)
class CalendarSchedule:
    """A schedule from roll calendars: passive for ``passive_days`` before each roll,
    then ``mode`` (FORCE or FORCE_LEG) for ``force_window`` from the roll time, so any
    position left in the old contract moves; after that the new contract is current."""

    rolls: dict[InstrumentId, list[Roll]]
    passive_days: int = 3
    mode: RollStatus = RollStatus.FORCE
    force_window: dt.timedelta = dt.timedelta(days=1)

    def __post_init__(self) -> None:
        if self.mode not in (RollStatus.FORCE, RollStatus.FORCE_LEG):
            raise ValueError(f"roll mode must be force or force_leg, not {self.mode}")
        for rolls in self.rolls.values():
            rolls.sort(key=lambda r: r.when)

    def _where(
        self, instrument_id: InstrumentId, when: dt.datetime
    ) -> tuple[ContractId | None, ContractId | None, RollStatus]:
        rolls = self.rolls.get(instrument_id)
        if not rolls:
            return None, None, RollStatus.NO_ROLL
        current = rolls[0].old
        for roll in rolls:
            if when < roll.when - dt.timedelta(days=self.passive_days):
                return current, None, RollStatus.NO_ROLL
            if when < roll.when:
                return roll.old, roll.new, RollStatus.PASSIVE
            if when < roll.when + self.force_window:
                return roll.old, roll.new, self.mode
            current = roll.new
        return current, None, RollStatus.NO_ROLL

    def current(self, instrument_id: InstrumentId, when: dt.datetime) -> ContractId | None:
        return self._where(instrument_id, when)[0]

    def next(self, instrument_id: InstrumentId, when: dt.datetime) -> ContractId | None:
        return self._where(instrument_id, when)[1]

    def status(self, instrument_id: InstrumentId, when: dt.datetime) -> RollStatus:
        return self._where(instrument_id, when)[2]

    def priced(self, instrument_id: InstrumentId, when: dt.datetime) -> ContractId | None:
        """The contract whose prices drive signals: the new one from the roll time on."""
        current, new, status = self._where(instrument_id, when)
        return new if status in (RollStatus.FORCE, RollStatus.FORCE_LEG) else current
