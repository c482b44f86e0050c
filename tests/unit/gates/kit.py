"""Builders for gate tests: a plan, a broker state and gate inputs, all valid by default."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bastion.gates.broker import BrokerState
from bastion.gates.checks import GateInputs
from bastion.recon.breaks import ReconReport
from bastion.strategy.plan import PlanSignal, PoolInfo, SignalPlan, classify

NOW = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)


def signal(instrument: str = "SP500", previous: int = 0, target: int = 2) -> PlanSignal:
    return PlanSignal(
        instrument=instrument,
        contract=f"{instrument}/202406",
        previous=previous,
        target=target,
        action=classify(previous, target),
        forecast=0.5,
        reference_price="5000.00",
        reference_ticks=20000,
        data_date="2024-04-30",
    )


def plan(*signals: PlanSignal, **changes: Any) -> SignalPlan:
    pool = {
        "period": "2024-04",
        "cadence": "monthly",
        "start": "2024-04-01",
        "end": "2024-04-30",
        "source": "test",
        "file": "pool.yaml",
        "sha256": "0",
        "stale": False,
    }
    pool.update(changes.pop("pool", {}))
    base: dict[str, Any] = {
        "profile": "official",
        "role": "official",
        "strategy_line": "ema_trend",
        "capital": "1000000",
        "target_date": "2024-04-30",
        "generated_at": NOW.isoformat(),
        "risk_level": "base",
        "risk_level_source": "pool",
        "pool": PoolInfo(**pool),
        "data_complete": True,
        "signals": signals or (signal(),),
    }
    base.update(changes)
    return SignalPlan(**base)


def broker(positions: dict[str, int] | None = None, age_seconds: float = 10) -> BrokerState:
    at = (NOW - dt.timedelta(seconds=age_seconds)).isoformat()
    return BrokerState(
        venue="test",
        taken_at=at,
        connected=True,
        logged_in=True,
        settlement="not_applicable",
        account={"currency": "USD", "equity": "1000000", "margin_used": "0"},
        positions={} if positions is None else positions,
        positions_at=at,
        fills=[],
    )


def inputs(**changes: Any) -> GateInputs:
    base: dict[str, Any] = {
        "profile": "official",
        "role": "official",
        "named": False,
        "official_strategy_line": "ema_trend",
        "official_capital": "1000000",
        "plan": plan(),
        "broker": broker(),
        "now": NOW,
        "recon": ReconReport((), ()),
    }
    base.update(changes)
    return GateInputs(**base)
