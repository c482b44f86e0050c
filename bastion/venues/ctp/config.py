"""Connection settings of the CTP adapter (from the profile's ``venue`` block).

Identity and secrets come from the environment only (``profile.build_config``): the user
(investor) id, the password and the AuthCode; the profile holds the fronts, the broker
id, the AppID and the terminal information.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bastion.secrets import Secret

__all__ = ["CtpConfig"]


@dataclass(frozen=True, slots=True)
class CtpConfig:
    front: str
    broker_id: str
    user_id: str
    password: Secret
    app_id: str = ""
    auth_code: Secret | None = None
    md_front: str | None = None
    product_info: str = "BASTION"
    client_ip: str | None = None
    client_port: int | None = None
    mac_address: str | None = None
    login_remark: str | None = None
    name: str = "ctp"
    connect_timeout: float = 5.0
    """How long to wait for each login step (a silent front fails after this)."""
    query_timeout: float = 5.0
    flow_dir: Path | None = None
    """Where the binding keeps its flow files (``None``: a fresh temporary folder)."""
    order_map_path: Path | None = None
    """Bastion's CTP order identities, kept beside the journal so reports of orders sent
    by any earlier session of the day map back (``None``: in memory only)."""
    market_protection_ticks: int = 10
    """A "market" order is a limit this many ticks through the touch, inside the band."""
    flow_retries: int = 5
    flow_backoff: float = 0.2
    """First wait after a -2/-3 (flow control) answer; doubles on each retry."""
    default_query_rate: float = 1.0
    """Queries per second when the front does not say (``GetFrontInfo``)."""
    check_contracts: bool = True
    """Query each contract at login and refuse a spec that differs from CTP's."""
    compare_clock: bool = True
    """Compare the exchange times CTP reports with this machine's clock (``clock_skew``).
    Off for a front whose times are not today's (SimNow's 7x24 front replays old days):
    the times are then only logged, and the engine never halts on them."""
