"""Connection settings of the FIX adapter (from the profile's ``venue`` block)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bastion.secrets import Secret

__all__ = ["SESSION_ROLES", "FixConfig"]

SESSION_ROLES: tuple[str, ...] = (
    "ENGINE",
    "PROBE",
    "GATE",
    "SMOKE",
    "WATCH",
    "RECONCILE",
    "FLATTEN",
    "KILL",
    "RECOVER",
    "WATCHDOG",
)
"""The process roles that log on as their own FIX session ``<SenderCompID>.<ROLE>``
(``bastion.venues.fix.profile.fix_venue_for``). A venue that admits a base CompID
admits these (``bastion.venues.paper.access``)."""


@dataclass(frozen=True, slots=True)
class FixConfig:
    host: str = "127.0.0.1"
    port: int = 9878
    sender_comp_id: str = "BASTION"
    target_comp_id: str = "PAPER"
    heartbeat_seconds: float = 5.0
    seq_path: Path | None = None
    """Where this side's sequence numbers persist; ``None`` keeps them in memory (tests)."""
    connect_timeout: float = 5.0
    query_timeout: float = 5.0
    reconnect_initial: float = 0.2
    reconnect_max: float = 5.0
    sync_polls: bool = False
    """Each ``poll_events`` first waits for a TestRequest round trip, so every report the
    venue sent before the poll has arrived (the conformance harness needs this)."""
    name: str = "fix"
    username: str | None = None
    """Logon Username (553), when the counterparty asks for one."""
    password: Secret | None = None
    """Logon Password (554), resolved from the environment; renders as ***."""
