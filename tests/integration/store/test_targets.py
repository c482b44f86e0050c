"""Invariant: the target store keeps the latest target per strategy and instrument, every
write in its history with the merge contributions, survives a restart, and refuses a
target for an unknown instrument without writing anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.clock import SimClock, utc
from bastion.domain.ids import InstrumentId, StrategyId
from bastion.domain.targets import Target, TargetError
from bastion.store import SqliteStore
from bastion.store.targets import Contribution, TargetStore

S, ES = StrategyId("trend"), InstrumentId("ES")


def _target(low: int, high: int) -> Target:
    return Target(strategy_id=S, instrument_id=ES, low=low, high=high, reference_ticks=16000)


def test_targets_latest_wins_history_kept_across_restart(tmp_path: Path) -> None:
    path = tmp_path / "sim" / "journal.db"
    path.parent.mkdir()
    store = SqliteStore(path, clock=SimClock(utc(2024, 3, 1)))
    targets = TargetStore(store, instruments=["ES"])
    targets.write(_target(2, 2))
    targets.write(_target(3, 6), [Contribution("ema_16_64", 0.5, 0.6, 0.3)])
    store.close()
    reopened = TargetStore(SqliteStore(path), instruments=["ES"])
    assert reopened.read(S, ES) == _target(3, 6)
    assert reopened.all() == [_target(3, 6)]
    assert reopened.contributions(S, ES) == [Contribution("ema_16_64", 0.5, 0.6, 0.3)]
    assert reopened.history_count() == 2


def test_targets_unknown_instrument_refused_nothing_written(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "journal.db")
    targets = TargetStore(store, instruments=["ES"])
    bad = Target(strategy_id=S, instrument_id=InstrumentId("XX"), low=1, high=1)
    with pytest.raises(TargetError, match="unknown instrument"):
        targets.write(bad)
    assert targets.all() == []
    assert targets.history_count() == 0
