"""A digest of the paper venue's state: what a replay of its input log must rebuild.

It covers the sim venue's orders (working and finished), fills, position books,
account, market quotes, and the FIX-side maps (order owners, orders, cancel ids), in a
canonical text form hashed with SHA-256. Two venues with equal digests hold the same
orders, fills, positions and money. Session numbers and market-data subscriptions are
not inputs and are left out; so is the price feed's random state (after a restart the
walk continues from the last logged quote).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bastion.venues.paper.venue import PaperVenue

__all__ = ["venue_digest"]


def _sim_order(order: object) -> str:
    keys = (
        "client_order_id",
        "venue_order_id",
        "contract_id",
        "side",
        "quantity",
        "filled",
        "order_type",
        "time_in_force",
        "limit_ticks",
        "stop_ticks",
        "expire_at",
        "offset",
        "live",
        "triggered",
        "queue_ahead",
    )
    return repr(tuple(getattr(order, k) for k in keys))


def venue_digest(venue: PaperVenue) -> str:
    sim = venue.sim
    lines = [f"clock {venue.clock.now().isoformat()}"]
    lines += [f"order {coid} {_sim_order(o)}" for coid, o in sorted(sim.orders.items())]
    lines += [f"status {coid} {record!r}" for coid, record in sorted(sim.status.items())]
    lines += [f"fill {fill!r}" for fill in sim.fills]
    lines += [f"position {cid} {r!r}" for cid, r in sorted(sim.account_book.positions().items())]
    lines.append(f"account {sim.account_book.snapshot(sim.markets)!r}")
    for cid in sorted(venue.contracts.specs):
        lines.append(f"quote {cid} {sim.market_quote(cid)!r}")
    lines += [f"owner {coid} {client}" for coid, client in sorted(venue.owner.items())]
    lines += [f"broker {coid} {order!r}" for coid, order in sorted(venue.orders.items())]
    lines += [f"cancel {coid} {cancel}" for coid, cancel in sorted(venue.cancel_ids.items())]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
