"""Venues: the ``VenuePort`` protocol, read-only/dry-run modes, and the adapters.

``bastion.venues.sim`` is the in-process simulated venue (matching engine and fault
injection). Real adapters (``ib``, ``ctp``) follow the same skeleton.
"""

from bastion.venues.modes import DryRunVenue, ReadOnlyVenue, VenueMode, with_mode
from bastion.venues.port import (
    AccountSnapshot,
    FillCursor,
    FillsPage,
    OpenOrderRecord,
    OrderApiCounters,
    OrderCallResult,
    OrderStatusRecord,
    PositionRecord,
    RateLimits,
    Snapshot,
    SnapshotStatus,
    VenueOrderStatus,
    VenuePort,
)

__all__ = [
    "AccountSnapshot",
    "DryRunVenue",
    "FillCursor",
    "FillsPage",
    "OpenOrderRecord",
    "OrderApiCounters",
    "OrderCallResult",
    "OrderStatusRecord",
    "PositionRecord",
    "RateLimits",
    "ReadOnlyVenue",
    "Snapshot",
    "SnapshotStatus",
    "VenueMode",
    "VenueOrderStatus",
    "VenuePort",
    "with_mode",
]
