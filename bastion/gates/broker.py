"""The broker's state as the gates see it: venue access, snapshots and the probe (R8.1).

Venues are built by ``bastion.venues.registry`` (``open_venue(profile, role)``), each
role on its own session so a running engine keeps its own; callers wrap it read-only or
dry-run.

``take_broker_state(venue, clock)`` connects, logs in and takes the account, position,
open-order, fill and contract snapshots. Each snapshot keeps its own time; the position
state is ``confirmed_flat`` (an OK empty answer), ``positions_received`` or ``missing``
(the query failed, or the answer is older than the limit, 300 s by default). A failed
query is never read as flat.

``BrokerState`` is plain data saved as JSON (the probe's snapshot file); the dry-run
gate reads it back and judges its age against the clock.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bastion.clock import Clock
from bastion.config import Environment, Profile
from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.ids import ContractId
from bastion.venues.login import SETTLEMENT_STEP, ReportsLoginSteps
from bastion.venues.port import VenueQueries

__all__ = [
    "BrokerState",
    "PositionState",
    "broker_state_path",
    "load_broker_state",
    "save_broker_state",
    "take_broker_state",
]

DEFAULT_MAX_AGE = dt.timedelta(seconds=300)


class PositionState(StrEnum):
    CONFIRMED_FLAT = "confirmed_flat"
    POSITIONS_RECEIVED = "positions_received"
    MISSING = "missing"


@dataclass(slots=True)
class BrokerState:
    venue: str
    taken_at: str
    """When the probe finished (UTC, ISO)."""
    connected: bool
    logged_in: bool
    settlement: str
    """``confirmed``, ``not_applicable`` (the venue has no settlement confirmation) or
    ``unconfirmed``."""
    account: dict[str, str] | None = None
    account_at: str | None = None
    account_reason: str = ""
    positions: dict[str, int] | None = None
    """Net lots per contract; ``None``: unknown (never flat)."""
    positions_at: str | None = None
    positions_reason: str = ""
    open_orders: int | None = None
    fills: list[dict[str, Any]] | None = None
    """Today's venue fills (exec id, contract, side, quantity, client order id)."""
    contracts: list[dict[str, str]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    login_steps: list[dict[str, Any]] = field(default_factory=list)
    """Each login step a venue reports (``ReportsLoginSteps``: CTP's market login,
    authentication, login, settlement confirmation, contracts): name, ok, at, detail."""

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        if self.positions_at is None:
            return None
        return now - dt.datetime.fromisoformat(self.positions_at)

    def position_state(
        self, now: dt.datetime, max_age: dt.timedelta = DEFAULT_MAX_AGE
    ) -> PositionState:
        age = self.age(now)
        if self.positions is None or age is None or age > max_age:
            return PositionState.MISSING
        return PositionState.POSITIONS_RECEIVED if self.positions else PositionState.CONFIRMED_FLAT

    def step_results(self) -> dict[str, str]:
        """Each reported login step: ``ok`` or ``failed``."""
        return {str(s["name"]): "ok" if s["ok"] else "failed" for s in self.login_steps}

    def by_instrument(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for cid, qty in (self.positions or {}).items():
            iid = parse_contract_id(ContractId(cid))[0]
            out[iid] = out.get(iid, 0) + qty
        return {k: v for k, v in out.items() if v}

    def summary(self, now: dt.datetime, max_age: dt.timedelta = DEFAULT_MAX_AGE) -> dict[str, Any]:
        age = self.age(now)
        steps = {"login_steps": self.step_results()} if self.login_steps else {}
        return {
            **steps,
            "venue": self.venue,
            "connected": self.connected,
            "logged_in": self.logged_in,
            "settlement": self.settlement,
            "position_state": self.position_state(now, max_age).value,
            "positions": dict(self.positions) if self.positions is not None else "unknown",
            "snapshot_age_seconds": None if age is None else round(age.total_seconds(), 1),
            "equity": (self.account or {}).get("equity", "unknown"),
            "margin_used": (self.account or {}).get("margin_used", "unknown"),
            "open_orders": "unknown" if self.open_orders is None else self.open_orders,
        }


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.astimezone(dt.UTC).isoformat()


def take_broker_state(
    venue: VenueQueries, clock: Clock, contracts: dict[ContractId, ContractSpec]
) -> BrokerState:
    """Connect and take every snapshot; nothing here calls an order API."""
    connected = venue.connect()
    state = BrokerState(
        venue=venue.name,
        taken_at=clock.now().isoformat(),
        connected=connected,
        logged_in=connected,
        settlement="not_applicable",
        contracts=[
            {
                "contract": str(cid),
                "exchange": spec.exchange,
                "currency": spec.currency,
                "tick_size": str(spec.tick_size),
                "multiplier": str(spec.multiplier),
            }
            for cid, spec in sorted(contracts.items())
        ],
    )
    if isinstance(venue, ReportsLoginSteps):
        _take_login_steps(state, venue)
    if connected:
        account = venue.account()
        if account.value is not None:
            a = account.value
            state.account = {
                "currency": a.currency,
                "equity": str(a.equity),
                "margin_used": str(a.margin_used),
                "margin_available": str(a.margin_available),
            }
            state.account_at = _iso(account.taken_at)
        else:
            state.account_reason = account.reason or "unknown"
        positions = venue.positions()
        if positions.value is not None:
            state.positions = {str(c): r.net for c, r in sorted(positions.value.items()) if r.net}
            state.positions_at = _iso(positions.taken_at)
        else:
            state.positions_reason = positions.reason or "unknown"
        orders = venue.open_orders()
        state.open_orders = None if orders.value is None else len(orders.value)
        fills = venue.fills_since(None)
        if fills.value is not None:
            state.fills = [
                {
                    "exec_id": str(f.exec_id),
                    "contract": str(f.contract_id),
                    "side": str(f.side),
                    "quantity": f.quantity,
                    "client_order_id": str(f.client_order_id),
                }
                for f in fills.value.fills
            ]
    else:
        state.positions_reason = state.account_reason = "could not connect"
    state.taken_at = clock.now().isoformat()
    state.counters = venue.counters.as_dict()
    return state


def _take_login_steps(state: BrokerState, venue: ReportsLoginSteps) -> None:
    steps = venue.login_steps()
    state.login_steps = [
        {"name": s.name, "ok": s.ok, "at": _iso(s.at), "detail": s.detail} for s in steps
    ]
    for step in steps:
        if step.name == SETTLEMENT_STEP:
            state.settlement = "confirmed" if step.ok else "unconfirmed"
        elif step.name == "trading_login":
            state.logged_in = step.ok


def broker_state_path(profile: Profile) -> Path:
    return Path(profile.records_dir) / "state" / "broker-snapshot.json"


def save_broker_state(state: BrokerState, path: Path) -> Path:
    from bastion.files import write_atomically

    return write_atomically(path, json.dumps(asdict(state), indent=2), "broker snapshot")


def load_broker_state(path: Path) -> BrokerState | None:
    """The saved snapshot, or ``None`` when there is none or it cannot be read (missing)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return BrokerState(**raw)
    except (OSError, ValueError, TypeError):
        return None


def is_test_environment(profile: Profile) -> bool:
    return profile.environment is not Environment.LIVE
