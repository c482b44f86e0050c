"""An order put to the risk gate, and the gate's decision: immutable values.

Every broker order, on every path, is put as an ``OrderRequest`` (the order, where it
came from, whether it only reduces) and answered with a ``RiskDecision`` (allowed, or
denied with its reason, the check that refused and a sentence for a person). The gate
itself (``RiskGate``) and the engine behind it live in ``bastion.risk``; these values
live here so that every layer can speak them without importing the risk engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bastion.domain.ids import InstrumentId, StrategyId
from bastion.domain.reasons import Reason
from bastion.domain.records import BrokerOrderCreated

__all__ = ["OrderPath", "OrderRequest", "RiskDecision"]


class OrderPath(StrEnum):
    """Where an order came from. Every path goes through the gate (R6.1)."""

    AUTOMATIC = "automatic"  # targets -> order generation -> stack
    MANUAL = "manual"  # an operator's manual order
    ALGO = "algo"  # a child order an execution algo placed
    ROLL = "roll"  # a roll order
    KILL = "kill"  # kill-switch flattening: reduced checks, never none
    RECONCILE = "reconcile"  # a correcting order from the recovery procedure
    SMOKE = "smoke"  # a smoke-test order (test environments only)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    order: BrokerOrderCreated
    path: OrderPath
    instrument_id: InstrumentId
    strategy_id: StrategyId | None = None
    reduces_position: bool = False
    """True when the order only reduces the absolute position it trades against."""


@dataclass(frozen=True, slots=True)
class RiskDecision:
    allowed: bool
    reason: Reason | None = None
    check: str = ""
    """Name of the check that refused it."""
    message: str = ""
    """A sentence for a person: what was refused and why."""

    @classmethod
    def allow(cls) -> RiskDecision:
        return cls(allowed=True)

    @classmethod
    def deny(cls, reason: Reason, check: str, message: str) -> RiskDecision:
        return cls(allowed=False, reason=reason, check=check, message=message)
