"""A seeded random-walk price feed for the paper venue (one quote per contract per tick)."""

from __future__ import annotations

import random

from bastion.domain.ids import ContractId

__all__ = ["RandomWalk"]


class RandomWalk:
    def __init__(self, start: dict[ContractId, int], seed: int) -> None:
        self._mid = dict(start)
        self._rng = random.Random(seed)  # noqa: S311 - simulated prices, nothing secret

    def set_mid(self, contract_id: ContractId, bid: int) -> None:
        """Follow a quote applied from the input log (a replay continues from it)."""
        if contract_id in self._mid:
            self._mid[contract_id] = bid

    def step(self) -> list[tuple[ContractId, int, int]]:
        """(contract, bid, ask) after one step: the mid moves by -1, 0 or +1 tick."""
        out = []
        for cid in sorted(self._mid):
            self._mid[cid] += self._rng.choice((-1, 0, 0, 1))
            out.append((cid, self._mid[cid], self._mid[cid] + 1))
        return out
