"""Errors of the sim venue.

The venue never raises through an order call: bad orders become ``Rejected`` events
with ``Reason.INVALID_ORDER``. It raises only for mistakes in how it is *driven*:
market data for a contract it was not given (``DataError``), or a bad config
(``ValueError`` from the config's checks, wrapped by ``SimConfigError`` when loaded).
"""

from __future__ import annotations

from bastion.errors import ConfigError, DataError

__all__ = ["DataError", "SimConfigError"]


class SimConfigError(ConfigError):
    """A sim venue config that cannot be used (unknown key, bad value)."""
