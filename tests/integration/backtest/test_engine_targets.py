"""Invariants: a strategy's bad target is skipped with a clear note and the engine goes
on with the others; targets pass through the target store, which records each weighted
parameter set's contribution."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from bastion.backtest.build import build_engine, frictionless_venue_config
from bastion.backtest.runner import InstrumentBar
from bastion.domain.ids import ContractId, StrategyId
from bastion.domain.targets import Target, target_from_numbers
from bastion.orders.rolls import FixedSchedule
from bastion.store import SqliteStore
from bastion.strategy.examples import EmaBlend, Hold
from bastion.testing.stack import ES, ES_H, ES_SPEC, minute_bars

START = dt.datetime(2024, 3, 1, 14, tzinfo=dt.UTC)


class NaNStrategy:
    strategy_id = StrategyId("broken")
    instrument_id = ES

    def on_bar(self, close_ticks: int, contract_id: ContractId, when: dt.datetime) -> Target | None:
        return target_from_numbers(self.strategy_id, self.instrument_id, float("nan"))


def _bars(n: int) -> list[InstrumentBar]:
    return minute_bars(
        [((i * 7) % 11) - 5 + (3 if (i // 40) % 2 else -3) for i in range(n)], start=START
    )


def test_engine_bad_target_skipped_other_strategies_trade(tmp_path: Path) -> None:
    engine = build_engine(
        specs={ES: ES_SPEC},
        contracts=[(ES, ES_H)],
        schedule=FixedSchedule(contracts={ES: ES_H}),
        strategies=[NaNStrategy(), Hold("hold", ES, lots=2)],
        start=START,
        journal=None,
        venue_config=frictionless_venue_config(Decimal(2)),
    )
    engine.run(_bars(5))
    assert any("broken" in p and "finite" in p for p in engine.stack.problems)
    assert engine.stack.oms.book.positions.strategy_position(StrategyId("hold"), ES) == 2


def test_engine_blend_targets_recorded_with_contributions(tmp_path: Path) -> None:
    journal = tmp_path / "sim" / "journal.db"
    journal.parent.mkdir()
    engine = build_engine(
        specs={ES: ES_SPEC},
        contracts=[(ES, ES_H)],
        schedule=FixedSchedule(contracts={ES: ES_H}),
        strategies=[EmaBlend("blend", ES, lots=10, sets=((3, 8, 0.5), (5, 13, 0.3), (8, 21, 0.2)))],
        start=START,
        journal=journal,
        venue_config=frictionless_venue_config(Decimal(2)),
    )
    engine.run(_bars(400))
    store = engine.target_store
    assert store is not None
    assert isinstance(engine.engine.store, SqliteStore)
    target = store.read(StrategyId("blend"), ES)
    assert target is not None
    contributions = store.contributions(StrategyId("blend"), ES)
    assert [c.weight for c in contributions] == [0.5, 0.3, 0.2]
    assert round(sum(c.contribution for c in contributions) * 10) == target.low
    assert store.history_count() > 2
    held = engine.stack.oms.book.positions.strategy_position(StrategyId("blend"), ES)
    assert held == target.low
