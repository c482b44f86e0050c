"""The risk engine (R6): pre-trade checks, trading states, loss limits, market guards,
the margin monitor and the kill switch. ``docs/risk.md`` describes them.

Names are imported lazily, so importing ``bastion.risk.port`` (the order stack's seam)
does not load the engine, and no import cycle can form through this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion.domain.market import MarketQuote, MarketView, StaticMarket
    from bastion.risk.engine import AccountCheck, RiskEngine
    from bastion.risk.kill import KillReport, KillSwitch
    from bastion.risk.level import RiskLevel
    from bastion.risk.persist import MemoryRiskStore, RiskStore
    from bastion.risk.port import (
        OrderPath,
        OrderRequest,
        PassThroughRisk,
        RiskDecision,
        RiskGate,
    )
    from bastion.risk.states import Scope, StateEvent, TradingState

__all__ = [
    "AccountCheck",
    "KillReport",
    "KillSwitch",
    "MarketQuote",
    "MarketView",
    "MemoryRiskStore",
    "OrderPath",
    "OrderRequest",
    "PassThroughRisk",
    "RiskDecision",
    "RiskEngine",
    "RiskGate",
    "RiskLevel",
    "RiskStore",
    "Scope",
    "StateEvent",
    "StaticMarket",
    "TradingState",
]

_HOME = {
    "AccountCheck": "bastion.risk.engine",
    "RiskEngine": "bastion.risk.engine",
    "KillReport": "bastion.risk.kill",
    "KillSwitch": "bastion.risk.kill",
    "RiskLevel": "bastion.risk.level",
    "MarketQuote": "bastion.domain.market",
    "MarketView": "bastion.domain.market",
    "StaticMarket": "bastion.domain.market",
    "MemoryRiskStore": "bastion.risk.persist",
    "RiskStore": "bastion.risk.persist",
    "OrderPath": "bastion.risk.port",
    "OrderRequest": "bastion.risk.port",
    "PassThroughRisk": "bastion.risk.port",
    "RiskDecision": "bastion.risk.port",
    "RiskGate": "bastion.risk.port",
    "Scope": "bastion.risk.states",
    "StateEvent": "bastion.risk.states",
    "TradingState": "bastion.risk.states",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'bastion.risk' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
