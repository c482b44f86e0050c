"""The sim venue's configuration: strict, frozen, with defaults a backtest can use as is.

Every knob that changes how optimistic the simulation is lives here, so a run's config
says exactly what was assumed (``docs/sim-venue.md`` explains each one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec

from bastion.domain.enums import OrderType, TimeInForce
from bastion.domain.reasons import Reason
from bastion.venues.port import RateLimits
from bastion.venues.sim.errors import SimConfigError

__all__ = [
    "FaultConfig",
    "FaultKind",
    "HaltPolicy",
    "ScheduledFault",
    "SimVenueConfig",
    "SlippageConfig",
    "SlippageKind",
    "load_sim_config",
]


class HaltPolicy(StrEnum):
    REJECT = "reject"  # new orders are rejected with Reason.HALTED
    HOLD = "hold"  # new orders are acknowledged and held; nothing matches until resumed


class SlippageKind(StrEnum):
    NONE = "none"
    FIXED_TICKS = "fixed_ticks"  # always ``ticks`` worse than the touch
    PROPORTIONAL = "proportional"  # ``basis_points`` of the price, rounded up to ticks
    VOLATILITY = "volatility"  # ``volatility_multiple`` x recent mean bar range


class SlippageConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Applies to market orders and triggered stops; limit orders never fill beyond their
    limit, and a marketable limit fills at the touch."""

    kind: SlippageKind = SlippageKind.NONE
    ticks: int = 0
    basis_points: int = 0
    volatility_multiple: float = 0.0
    volatility_window: int = 20

    def __post_init__(self) -> None:
        if self.ticks < 0 or self.basis_points < 0 or self.volatility_multiple < 0:
            raise ValueError("slippage parameters must not be negative")
        if self.volatility_window < 1:
            raise ValueError("the volatility window needs at least one bar")


class FaultKind(StrEnum):
    DISCONNECT = "disconnect"
    HALT = "halt"
    STALE_QUOTES = "stale_quotes"
    REJECT_NEXT = "reject_next"
    FILL_AFTER_CANCEL = "fill_after_cancel"
    DROP_NEXT = "drop_next"
    DUPLICATE_NEXT = "duplicate_next"
    REORDER_NEXT = "reorder_next"


class ScheduledFault(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A fault that starts at ``at`` (sim time)."""

    at: dt.datetime
    kind: FaultKind
    seconds: float = 0.0
    """How long it lasts (disconnect, halt, stale quotes)."""
    contract_id: str | None = None
    """For a halt: one contract, or every contract when ``None``."""
    reason: Reason = Reason.UNKNOWN
    """For REJECT_NEXT."""
    count: int = 1
    """For DROP_NEXT / DUPLICATE_NEXT: how many reports."""
    lose_reports: bool = False
    """For DISCONNECT: reports due while disconnected are lost (not replayed)."""


class FaultConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Random faults on the report stream (seeded) plus a schedule of timed faults."""

    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    """Chance that a due report swaps places with the next one in the same poll."""
    schedule: tuple[ScheduledFault, ...] = ()

    def __post_init__(self) -> None:
        for rate in (self.drop_rate, self.duplicate_rate, self.reorder_rate):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rates must be in [0, 1], got {rate}")


_ALL_TIFS = frozenset(TimeInForce)
_ALL_TYPES = frozenset(OrderType)


class SimVenueConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str = "sim"
    currency: str = "USD"
    """The account's currency: cash, equity and margin are kept in it."""
    rates: dict[str, Decimal] = msgspec.field(default_factory=dict)
    """Units of ``currency`` per unit of each other currency a contract trades in; a
    contract in a currency without a rate is refused at arrival (never valued 1:1).
    Commissions (``commission_per_contract``) are in each contract's own currency."""
    seed: int = 0
    initial_cash: Decimal = Decimal(1_000_000)
    commission_per_contract: Decimal = Decimal("2.00")
    """Charged per contract per side, exactly once per fill."""
    ack_latency: dt.timedelta = dt.timedelta(0)
    """Submit (or cancel) to the venue acting on it and acknowledging."""
    fill_latency: dt.timedelta = dt.timedelta(0)
    """A match to its fill report."""
    participation_rate: float = 0.1
    """Share of a bar's volume our orders in that contract may take."""
    touch_volume_fraction: float = 0.1
    """Share of a bar's volume assumed to trade at its high and at its low (queue model)."""
    slippage: SlippageConfig = SlippageConfig()
    halt_policy: HaltPolicy = HaltPolicy.REJECT
    supported_time_in_force: frozenset[TimeInForce] = _ALL_TIFS
    supported_order_types: frozenset[OrderType] = _ALL_TYPES
    rate_limits: RateLimits = RateLimits(orders_per_second=50.0, order_burst=20)
    enforce_rate_limits: bool = False
    """Reject order calls beyond ``rate_limits`` with Reason.RATE_LIMITED (like CTP -3)."""
    provisional_ids: bool = True
    """Return a provisional venue id at submit and a different one in the ack (CTP)."""
    faults: FaultConfig = FaultConfig()

    def __post_init__(self) -> None:
        if not 0.0 < self.participation_rate <= 1.0:
            raise ValueError(f"participation rate must be in (0, 1], got {self.participation_rate}")
        if not 0.0 <= self.touch_volume_fraction <= 1.0:
            raise ValueError("touch volume fraction must be in [0, 1]")
        if self.ack_latency < dt.timedelta(0) or self.fill_latency < dt.timedelta(0):
            raise ValueError("latencies must not be negative")
        if self.commission_per_contract < 0:
            raise ValueError("commission must not be negative")


def load_sim_config(data: Mapping[str, Any]) -> SimVenueConfig:
    """A config from plain data (a profile's ``venue`` section). Durations are ISO 8601
    (``PT0.005S``), money is a decimal string. Raises ``SimConfigError`` naming the field
    and the problem; unknown keys are errors."""
    try:
        return msgspec.convert(dict(data), SimVenueConfig, strict=False)
    except (msgspec.ValidationError, ValueError) as exc:
        raise SimConfigError(f"sim venue config: {exc}") from exc
