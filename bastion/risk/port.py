"""The seam between the order stack and the risk engine.

Every broker order, on every path, is checked here before it is written ahead and sent
(ARCHITECTURE.md invariant 2). The order stack depends only on ``RiskGate``;
``PassThroughRisk`` is the default until a real engine is wired in, and it still records
that it was asked, so tests can prove no path bypasses the gate.
"""

from __future__ import annotations

from typing import Protocol

from bastion.domain.requests import OrderPath, OrderRequest, RiskDecision

__all__ = ["OrderPath", "OrderRequest", "PassThroughRisk", "RiskDecision", "RiskGate"]


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
