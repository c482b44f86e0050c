"""The target store (R3.1): strategies write targets here; the engine reads them.

The two sides share nothing else. A target is validated on the way in (a NaN, an
infinity, a buffer with low above high, an unknown instrument are refused with a clear
error and nothing is written); each write also lands in ``target_history`` with the
weighted-merge contributions that produced it (R3.2), so "why did we trade" can be
answered later.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import msgspec

from bastion.domain.ids import InstrumentId, StrategyId
from bastion.domain.targets import Target, TargetError
from bastion.store.sqlite import SqliteStore, to_us

__all__ = ["Contribution", "TargetStore"]


class Contribution(msgspec.Struct, frozen=True):
    name: str
    position: float
    weight: float
    contribution: float


_target_decoder = msgspec.json.Decoder(Target)
_contrib_decoder = msgspec.json.Decoder(list[Contribution])


class TargetStore:
    def __init__(self, store: SqliteStore, instruments: Collection[str] | None = None) -> None:
        self._store = store
        self._instruments = set(instruments) if instruments is not None else None

    def write(self, target: Target, contributions: Sequence[Contribution] = ()) -> None:
        if self._instruments is not None and target.instrument_id not in self._instruments:
            raise TargetError(
                f"target {target.strategy_id}/{target.instrument_id}: unknown instrument;"
                f" expected one of {sorted(self._instruments)}"
            )
        payload = msgspec.json.encode(target)
        contrib = msgspec.json.encode(list(contributions))
        db = self._store.connection
        now = to_us(self._store.clock.now())
        key = (target.strategy_id, target.instrument_id)
        with self._store.transaction():
            db.execute(
                "INSERT OR REPLACE INTO targets VALUES (?, ?, ?, ?, ?)",
                (*key, payload, contrib, now),
            )
            db.execute(
                "INSERT INTO target_history (strategy_id, instrument_id, payload, contributions,"
                " written_us) VALUES (?, ?, ?, ?, ?)",
                (*key, payload, contrib, now),
            )

    def read(self, strategy_id: StrategyId, instrument_id: InstrumentId) -> Target | None:
        row = self._store.connection.execute(
            "SELECT payload FROM targets WHERE strategy_id = ? AND instrument_id = ?",
            (strategy_id, instrument_id),
        ).fetchone()
        return None if row is None else _target_decoder.decode(row[0])

    def all(self) -> list[Target]:
        rows = self._store.connection.execute(
            "SELECT payload FROM targets ORDER BY strategy_id, instrument_id"
        )
        return [_target_decoder.decode(r[0]) for r in rows]

    def contributions(
        self, strategy_id: StrategyId, instrument_id: InstrumentId
    ) -> list[Contribution]:
        row = self._store.connection.execute(
            "SELECT contributions FROM targets WHERE strategy_id = ? AND instrument_id = ?",
            (strategy_id, instrument_id),
        ).fetchone()
        return [] if row is None else _contrib_decoder.decode(row[0])

    def history_count(self) -> int:
        return int(
            self._store.connection.execute("SELECT COUNT(*) FROM target_history").fetchone()[0]
        )
