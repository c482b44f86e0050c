"""The seam between the order stack and the risk engine.

Every broker order, on every path, is checked here before it is written ahead and sent
(ARCHITECTURE.md invariant 2). The order stack depends only on ``RiskGate``;
``PassThroughRisk`` is the default until a real engine is wired in, and it still records
that it was asked, so tests can prove no path bypasses the gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bastion.domain.ids import InstrumentId, StrategyId
from bastion.domain.reasons import Reason
from bastion.domain.records import BrokerOrderCreated

__all__ = ["OrderPath", "OrderRequest", "PassThroughRisk", "RiskDecision", "RiskGate"]


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


class RiskGate(Protocol):
    def check(self, request: OrderRequest) -> RiskDecision:
        """Decide on one broker order. Must not raise for a refusal; return a denial."""
        ...


class PassThroughRisk:
    """Allows everything, and counts the requests it saw (to prove nothing bypasses it)."""

    def __init__(self) -> None:
        self.requests: list[OrderRequest] = []

    def check(self, request: OrderRequest) -> RiskDecision:
        self.requests.append(request)
        return RiskDecision.allow()
