"""Profit and loss from fills and marks, exact: integer ticks per instrument, money at the edge.

Cash-flow method: each fill moves cash by -quantity x price; equity is cash plus the
position marked at the last price, times the tick value, less commissions. Rolls need no
special case: closing the old contract and opening the new are ordinary fills.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.fills import Fill
from bastion.domain.ids import ContractId, InstrumentId

__all__ = ["PnlBook"]


@dataclass(slots=True)
class PnlBook:
    specs: Mapping[InstrumentId, ContractSpec]
    cash_ticks: dict[InstrumentId, int] = field(default_factory=dict)
    positions: dict[ContractId, int] = field(default_factory=dict)
    marks: dict[ContractId, int] = field(default_factory=dict)
    commissions: Decimal = Decimal(0)
    traded_lots: int = 0
    fills: int = 0
    _instrument_of: dict[ContractId, InstrumentId] = field(default_factory=dict)

    def on_fill(self, fill: Fill) -> None:
        iid, _ = parse_contract_id(fill.contract_id)
        q = fill.signed_quantity
        self.cash_ticks[iid] = self.cash_ticks.get(iid, 0) - q * fill.price_ticks
        self.positions[fill.contract_id] = self.positions.get(fill.contract_id, 0) + q
        self.commissions += fill.commission
        self.traded_lots += fill.quantity
        self.fills += 1

    def mark(self, contract_id: ContractId, ticks: int) -> None:
        self.marks[contract_id] = ticks

    def gross(self) -> Decimal:
        """Trading P&L before commissions, in money (exact: integer ticks per instrument,
        one Decimal product each)."""
        by_instrument: dict[InstrumentId, int] = dict(self.cash_ticks)
        marks = self.marks
        instrument_of = self._instrument_of
        for cid, pos in self.positions.items():
            if pos:
                iid = instrument_of.get(cid)
                if iid is None:
                    iid = instrument_of[cid] = parse_contract_id(cid)[0]
                by_instrument[iid] = by_instrument.get(iid, 0) + pos * marks.get(cid, 0)
        total = Decimal(0)
        for iid, ticks in by_instrument.items():
            if ticks:
                total += ticks * self.specs[iid].tick_value
        return total

    def net(self) -> Decimal:
        return self.gross() - self.commissions
