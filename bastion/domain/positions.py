"""Positions in two tables (R4.1): per strategy and instrument, per instrument and contract.

Both are signed lot counts. The contract table follows broker fills; the strategy
table follows fills as the order stack allocates them to strategies. At rest, the sum
of a strategy table row set for an instrument equals the sum of its contract rows
(reconciliation checks this, R7.2).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId, InstrumentId, StrategyId

__all__ = ["PositionBook", "split_largest_remainder"]

_K = TypeVar("_K")


@dataclass(slots=True)
class PositionBook:
    strategy: dict[tuple[StrategyId, InstrumentId], int] = field(default_factory=dict)
    contract: dict[tuple[InstrumentId, ContractId], int] = field(default_factory=dict)

    def apply_contract_fill(self, contract_id: ContractId, signed_quantity: int) -> None:
        instrument, _ = parse_contract_id(contract_id)
        key = (instrument, contract_id)
        _add(self.contract, key, signed_quantity)

    def apply_strategy_fill(
        self, strategy_id: StrategyId, instrument_id: InstrumentId, signed_quantity: int
    ) -> None:
        _add(self.strategy, (strategy_id, instrument_id), signed_quantity)

    def contract_position(self, contract_id: ContractId) -> int:
        instrument, _ = parse_contract_id(contract_id)
        return self.contract.get((instrument, contract_id), 0)

    def strategy_position(self, strategy_id: StrategyId, instrument_id: InstrumentId) -> int:
        return self.strategy.get((strategy_id, instrument_id), 0)

    def instrument_position(self, instrument_id: InstrumentId) -> int:
        """Net position of an instrument across its contracts."""
        return sum(q for (i, _), q in self.contract.items() if i == instrument_id)

    def strategies_total(self, instrument_id: InstrumentId) -> int:
        return sum(q for (_, i), q in self.strategy.items() if i == instrument_id)

    def contracts_of(self, instrument_id: InstrumentId) -> Iterator[tuple[ContractId, int]]:
        for (i, c), q in self.contract.items():
            if i == instrument_id:
                yield c, q

    def copy(self) -> PositionBook:
        return PositionBook(dict(self.strategy), dict(self.contract))


def _add(table: dict[_K, int], key: _K, delta: int) -> None:
    value = table.get(key, 0) + delta
    if value == 0:
        table.pop(key, None)
    else:
        table[key] = value


def split_largest_remainder(lots: int, weights: list[tuple[_K, int]]) -> dict[_K, int]:
    """Split ``lots`` over ``weights`` (positive sizes) in proportion, by largest
    remainder, never giving a member more than its own size; ties go in the given order.
    Deterministic, so a fold that uses it gives the same split on every rebuild."""
    total = sum(w for _, w in weights)
    lots = min(lots, total)
    if lots <= 0 or total <= 0:
        return {}
    shares = {key: lots * w // total for key, w in weights}
    left = lots - sum(shares.values())
    order = sorted(range(len(weights)), key=lambda i: (-((lots * weights[i][1]) % total), i))
    for i in order:
        if left == 0:
            break
        key, size = weights[i]
        if shares[key] < size:
            shares[key] += 1
            left -= 1
    return {key: share for key, share in shares.items() if share}
