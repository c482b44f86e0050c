"""The reason taxonomy (R5.5): why an order was denied, rejected or left unresolved.

Every venue error maps to exactly one ``Reason``. Each reason has a retry policy:
non-retryable reasons are never retried. ``Outcome`` separates the three different
ways an order can fail to work (STYLE.md 5): denied locally before submit, rejected by
the venue, or unresolved (timeout, disconnect) - the last stays in flight until a query
or reconciliation settles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Outcome", "Reason", "RetryPolicy", "retry_policy"]


class Outcome(StrEnum):
    DENIED = "denied"  # refused by Bastion before any venue call
    REJECTED = "rejected"  # the venue said no
    UNRESOLVED = "unresolved"  # no answer (timeout, disconnect): still in flight


class Reason(StrEnum):
    INSUFFICIENT_MARGIN = "insufficient_margin"
    PRICE_OUTSIDE_BAND = "price_outside_band"
    MARKET_CLOSED = "market_closed"
    HALTED = "halted"  # exchange halt or circuit breaker
    RATE_LIMITED = "rate_limited"
    POSITION_LIMIT = "position_limit"
    INVALID_ORDER = "invalid_order"  # off-tick price, bad quantity, unknown contract, TIF
    CONNECTION = "connection"
    READ_ONLY = "read_only"  # the venue or mode refuses order calls
    RISK_LIMIT = "risk_limit"  # a pre-trade risk check refused it
    TRADING_STATE = "trading_state"  # HALTED / REDUCE_ONLY scope forbids it
    RECONCILIATION_BREAK = "reconciliation_break"  # instrument locked by a break
    DUPLICATE = "duplicate"  # the same intent was already sent
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retryable: bool
    max_attempts: int
    backoff_seconds: float
    """First delay; doubles each attempt."""
    description: str


_POLICIES: dict[Reason, RetryPolicy] = {
    Reason.INSUFFICIENT_MARGIN: RetryPolicy(
        retryable=False,
        max_attempts=0,
        backoff_seconds=0.0,
        description="needs more margin or a smaller order",
    ),
    Reason.PRICE_OUTSIDE_BAND: RetryPolicy(
        retryable=False,
        max_attempts=0,
        backoff_seconds=0.0,
        description="the price is outside the daily band",
    ),
    Reason.MARKET_CLOSED: RetryPolicy(
        retryable=False,
        max_attempts=0,
        backoff_seconds=0.0,
        description="retry only in the next session",
    ),
    Reason.HALTED: RetryPolicy(
        retryable=True,
        max_attempts=3,
        backoff_seconds=30.0,
        description="retry after the halt lifts",
    ),
    Reason.RATE_LIMITED: RetryPolicy(
        retryable=True,
        max_attempts=5,
        backoff_seconds=1.0,
        description="retry after the rate window",
    ),
    Reason.POSITION_LIMIT: RetryPolicy(
        retryable=False,
        max_attempts=0,
        backoff_seconds=0.0,
        description="a limit must change first",
    ),
    Reason.INVALID_ORDER: RetryPolicy(
        retryable=False,
        max_attempts=0,
        backoff_seconds=0.0,
        description="the order itself is wrong",
    ),
    Reason.CONNECTION: RetryPolicy(
        retryable=True,
        max_attempts=5,
        backoff_seconds=2.0,
        description="resend only after reconciliation",
    ),
    Reason.READ_ONLY: RetryPolicy(
        retryable=False, max_attempts=0, backoff_seconds=0.0, description="the mode forbids orders"
    ),
    Reason.RISK_LIMIT: RetryPolicy(
        retryable=False, max_attempts=0, backoff_seconds=0.0, description="a risk limit refused it"
    ),
    Reason.TRADING_STATE: RetryPolicy(
        retryable=False,
        max_attempts=0,
        backoff_seconds=0.0,
        description="an operator must resume trading",
    ),
    Reason.RECONCILIATION_BREAK: RetryPolicy(
        retryable=False,
        max_attempts=0,
        backoff_seconds=0.0,
        description="the break must clear first",
    ),
    Reason.DUPLICATE: RetryPolicy(
        retryable=False, max_attempts=0, backoff_seconds=0.0, description="already sent once"
    ),
    Reason.UNKNOWN: RetryPolicy(
        retryable=False,
        max_attempts=0,
        backoff_seconds=0.0,
        description="unknown errors are never retried blindly",
    ),
}


def retry_policy(reason: Reason) -> RetryPolicy:
    """The retry policy for ``reason``."""
    return _POLICIES[reason]
