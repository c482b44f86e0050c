"""The broker's state as the gates see it: venue access, snapshots and the probe (R8.1).

``open_venue(profile, role)`` builds the profile's venue: the in-process sim venue for a
sim profile (it starts flat on every run: nothing persists), or the FIX adapter for a
``fix`` venue (the paper venue process), on its own FIX session ``<SenderCompID>.<ROLE>``
so a running engine keeps its own. Callers wrap it read-only or dry-run.

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
import importlib
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from bastion.clock import Clock
from bastion.config import Environment, Profile
from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.ids import ContractId
from bastion.errors import UserError
from bastion.venues.port import VenuePort

__all__ = [
    "BrokerState",
    "PositionState",
    "broker_state_path",
    "load_broker_state",
    "open_venue",
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

    def by_instrument(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for cid, qty in (self.positions or {}).items():
            iid = parse_contract_id(ContractId(cid))[0]
            out[iid] = out.get(iid, 0) + qty
        return {k: v for k, v in out.items() if v}

    def summary(self, now: dt.datetime, max_age: dt.timedelta = DEFAULT_MAX_AGE) -> dict[str, Any]:
        age = self.age(now)
        return {
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
    venue: VenuePort, clock: Clock, contracts: dict[ContractId, ContractSpec]
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


def broker_state_path(profile: Profile) -> Path:
    return Path(profile.records_dir) / "state" / "broker-snapshot.json"


def save_broker_state(state: BrokerState, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def load_broker_state(path: Path) -> BrokerState | None:
    """The saved snapshot, or ``None`` when there is none or it cannot be read (missing)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return BrokerState(**raw)
    except (OSError, ValueError, TypeError):
        return None


# -- venue access ------------------------------------------------------------------------


def profile_contracts(profile: Profile) -> dict[ContractId, ContractSpec]:
    """The contracts a profile's venue knows: the paper venue's list for a FIX venue,
    else the profile's instruments' contracts found in its bar store."""
    if profile.venue.kind == "fix":
        from bastion.venues.paper.contracts import DEFAULT_CONTRACTS

        return dict(DEFAULT_CONTRACTS)
    from bastion.marketdata.bars import BarStore
    from bastion.marketdata.specs import SpecRegistry

    registry = SpecRegistry.bundled()
    store = BarStore(Path(profile.data.dir))
    out: dict[ContractId, ContractSpec] = {}
    for iid in profile.instruments:
        spec = registry[iid].contract
        for cid, size in store.contracts(iid):
            if size == "1m":
                out[ContractId(cid)] = spec
    return out


def open_venue(profile: Profile, role: str, clock: Clock, *, timeout: float = 5.0) -> VenuePort:
    """The profile's venue (not yet connected). ``role`` names this process's session."""
    contracts = profile_contracts(profile)
    kind = profile.venue.kind
    if kind == "sim":
        from bastion.venues.sim import SimVenue, SimVenueConfig

        config = SimVenueConfig(
            seed=profile.venue.seed,
            initial_cash=Decimal(profile.capital),
            currency=profile.currency,
        )
        return SimVenue(contracts, clock, config)
    if kind == "fix":
        # Loaded by name: the FIX adapter is outside the strictly typed packages, and a
        # static import would pull its typing into bastion.gates' strict check. One
        # builder for every role: its own session, its numbers kept beside the journal.
        builder = importlib.import_module("bastion.venues.fix.profile").fix_venue_for
        venue: VenuePort = builder(
            profile, contracts, role, connect_timeout=timeout, query_timeout=timeout
        )
        return venue
    raise UserError(
        f"venue kind {kind!r} of profile {profile.name} has no adapter here yet;"
        " the gates run against 'sim' and 'fix' venues"
    )


def is_test_environment(profile: Profile) -> bool:
    return profile.environment is not Environment.LIVE
