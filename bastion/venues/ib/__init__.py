"""The Interactive Brokers adapter (``kind: ib``), on ib_async.

``IbVenue`` implements the ``VenuePort`` against TWS or IB Gateway; ``profile.BUILDER``
builds it from a profile. See ``docs/ib.md`` for set-up, client ids, the nightly
reset, what Bastion does on each IB message code, and the limits.
"""

from __future__ import annotations

from bastion.venues.ib.config import IbConfig, client_id_for
from bastion.venues.ib.errors import AccountMismatch, ClientIdInUse, IbRefused
from bastion.venues.ib.execution import GLOBAL_CANCEL_CONFIRMATION, IbVenue

__all__ = [
    "GLOBAL_CANCEL_CONFIRMATION",
    "AccountMismatch",
    "ClientIdInUse",
    "IbConfig",
    "IbRefused",
    "IbVenue",
    "client_id_for",
]
