"""The IB adapter's settings, and the rule that gives each role its own client id.

IB orders belong to the API client id that placed them: only that client (or TWS's
master client) sees their live reports and may cancel them, and a second connection
with an id in use is refused with error 326. Each Bastion process therefore connects
with its own id, derived from the profile's base id (``venue.client_id``) and the
process's role:

==========  =======  =========================================================
role        offset   used by
==========  =======  =========================================================
engine      +0       ``bastion session`` (the one process that trades)
probe       +1       ``bastion probe``
gate        +2       ``bastion gate dry-run``
smoke       +3       ``bastion smoke-order``
watch       +4       ``bastion session --watch``
reconcile   +5       ``bastion reconcile``
flatten     +6       ``bastion flatten`` snapshots (before and after)
kill        +0       the kill switch run by ``bastion kill`` or ``flatten --immediate``
                     when no engine runs: the engine's own id, so it can cancel the
                     engine's orders (refused with 326 while the engine is connected;
                     a running engine runs the kill itself)
watchdog    +0       the watchdog's cancel after the engine died: the engine's id
recover     +0       ``bastion recover`` (never while an engine runs): the engine's id
kill-global +7       ``bastion kill --global-cancel``: when the engine's id is held by a
                     connection that will not go away, a global cancel (every order in
                     the account, other programs' and manual ones too) from its own id,
                     then the flatten
==========  =======  =========================================================

So with the default base 10, the engine is client 10 and a probe beside it is 11. Keep
the next ten ids free for Bastion; id 0 is TWS's own (manual orders) and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bastion.domain.enums import TimeInForce
from bastion.errors import ConfigError

__all__ = [
    "DEFAULT_BASE_CLIENT_ID",
    "ROLE_OFFSETS",
    "IbConfig",
    "MarketDataType",
    "client_id_for",
]

DEFAULT_BASE_CLIENT_ID = 10
ROLE_OFFSETS: dict[str, int] = {
    "engine": 0,
    "probe": 1,
    "gate": 2,
    "smoke": 3,
    "watch": 4,
    "reconcile": 5,
    "flatten": 6,
    "kill": 0,
    "watchdog": 0,
    "recover": 0,
    "kill-global": 7,
}


class MarketDataType:
    """IB's market data types (``reqMarketDataType``)."""

    LIVE = 1
    FROZEN = 2
    DELAYED = 3
    DELAYED_FROZEN = 4


def client_id_for(base: int | None, role: str) -> int:
    """The client id a role connects with: ``base + ROLE_OFFSETS[role]``."""
    start = DEFAULT_BASE_CLIENT_ID if base is None else base
    if start < 1:
        raise ConfigError(
            f"venue.client_id {start}: IB client id 0 is TWS's own (it binds manual orders);"
            " use 1 or more"
        )
    offset = ROLE_OFFSETS.get(role.lower())
    if offset is None:
        raise ConfigError(
            f"IB role {role!r} has no client id; known roles: {', '.join(ROLE_OFFSETS)}"
        )
    return start + offset


@dataclass(frozen=True, slots=True)
class IbConfig:
    """How to reach TWS or the gateway, and how the adapter behaves there."""

    port: int
    client_id: int
    account: str
    paper: bool
    """The profile's environment is paper: only paper accounts (DU...) are accepted."""
    host: str = "127.0.0.1"
    name: str = "ib"
    role: str = "engine"
    read_only: bool = False
    """The order calls refuse everything before it leaves (R10.4)."""
    connect_timeout: float = 5.0
    """Each stage of connecting: the socket and handshake, then the start-up sync."""
    query_timeout: float = 5.0
    """One snapshot query, or one contract qualification."""
    reconnect_initial: float = 1.0
    reconnect_max: float = 60.0
    market_data_type: int = MarketDataType.LIVE
    """Asked for at every connection; anything but live data counts as stale."""
    market_as_limit_ticks: int | None = None
    """Send market orders as limits this many ticks through the touch (``None``: MKT)."""
    time_check_seconds: float = 15.0
    """How often IB is asked its time (clock skew, and a heartbeat it answers)."""
    commission_wait: float = 2.0
    """How long a fill may wait for its commission report before it is released without."""
    sync_polls: bool = False
    """Round-trip to TWS before each ``poll_events`` (tests: everything sent is read)."""
    unsupported_time_in_force: frozenset[TimeInForce] = field(default_factory=frozenset)
    """Refused locally, before anything is sent."""

    def __post_init__(self) -> None:
        if self.client_id < 1:
            raise ConfigError(f"IB client id {self.client_id}: use 1 or more")
        for name in ("connect_timeout", "query_timeout", "reconnect_initial", "commission_wait"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"IB {name} must be positive, got {getattr(self, name)}")
        if self.market_data_type not in {1, 2, 3, 4}:
            raise ConfigError(
                f"IB market data type {self.market_data_type}: expected 1 (live), 2 (frozen),"
                " 3 (delayed) or 4 (delayed frozen)"
            )
        if self.market_as_limit_ticks is not None and self.market_as_limit_ticks < 0:
            raise ConfigError("market_as_limit_ticks must not be negative")
