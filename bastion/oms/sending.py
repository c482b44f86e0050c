"""The seam between the parts of the engine that decide to trade and the one send path.

The order stack, the kill switch, the recovery procedure, smoke orders and margin
reductions decide *what* to send; only ``bastion.engine.send.OrderGateway`` talks to a
venue's order API. They see it through ``OrderSender``, so none of them can reach
``submit``, ``cancel`` or ``modify`` by another route (ARCHITECTURE.md: one door).

Outcomes are kept apart, as STYLE.md asks: *denied* (the risk engine said no before
anything was written), *rejected* (the venue refused, at the call or later), and
*unresolved* (the call failed in a way that leaves the venue's view unknown: the order
stays in flight until a query or reconciliation settles it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bastion.domain.ids import ClientOrderId
from bastion.domain.reasons import Reason
from bastion.domain.requests import OrderRequest, RiskDecision

__all__ = ["OrderSender", "SendOutcome", "SendResult"]


class SendOutcome(StrEnum):
    SENT = "sent"  # the venue took the call; what it did arrives as events
    DENIED = "denied"  # the risk engine refused: nothing written, nothing sent
    REJECTED = "rejected"  # written ahead; the venue refused it at the call
    UNRESOLVED = "unresolved"  # written ahead; the call failed: a query must settle it
    NOTHING_TO_DO = "nothing_to_do"  # a cancel of an order already finished


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: SendOutcome
    client_order_id: ClientOrderId
    reason: Reason | None = None
    message: str = ""
    check: str = ""
    """For a denial: the name of the risk check that refused."""

    @property
    def sent(self) -> bool:
        return self.outcome is SendOutcome.SENT

    @property
    def written(self) -> bool:
        """Whether the order is in the journal (everything but a denial)."""
        return self.outcome is not SendOutcome.DENIED


class OrderSender(Protocol):
    """The one send path, as the deciding parts of the engine see it."""

    @property
    def venue_name(self) -> str: ...

    def send(self, request: OrderRequest, decision: RiskDecision | None = None) -> SendResult:
        """Risk decision, write-ahead, submit; submitted only if the venue took it.
        ``decision`` is for callers that ran a stricter gate first (the kill switch's
        reduced checks); it must come from the risk engine, and a denial is recorded."""
        ...

    def cancel(self, client_order_id: ClientOrderId, why: str = "") -> SendResult:
        """Record the cancel request (for orders Bastion knows), then send it."""
        ...
