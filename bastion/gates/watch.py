"""Watch mode (R8.9): connected, monitoring and reconciling, sending nothing.

``watch(...)`` connects through a ``ReadOnlyVenue`` (every order call is refused before
it reaches the venue, so the venue's counters prove nothing was sent) and, every
``interval`` seconds for ``cycles`` rounds (or until interrupted), takes the broker's
snapshots, reconciles them with the profile's journal and reports one line: the
connection, the position state and positions, working orders, the reconciliation
result and the order API counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.clock import Clock
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId
from bastion.gates.broker import BrokerState, take_broker_state
from bastion.gates.dryrun import read_store
from bastion.gates.profiles import ResolvedProfile
from bastion.venues.modes import ReadOnlyVenue

__all__ = ["WatchLine", "watch"]


@dataclass(slots=True)
class WatchLine:
    at: str
    connected: bool
    position_state: str
    positions: dict[str, int] | None
    open_orders: int | None
    reconciliation: str
    counters: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        held = (
            "unknown"
            if self.positions is None
            else (", ".join(f"{c} {q:+d}" for c, q in self.positions.items()) or "none")
        )
        return (
            f"{self.at} connected={'yes' if self.connected else 'NO'}"
            f" positions={self.position_state} ({held})"
            f" working={'?' if self.open_orders is None else self.open_orders}"
            f" reconciliation={self.reconciliation}"
            f" send={self.counters.get('send_order_calls', 0)}"
            f" cancel={self.counters.get('cancel_order_calls', 0)}"
        )


def watch(  # noqa: PLR0917 - the parts of a watch, in reading order
    resolved: ResolvedProfile,
    venue: ReadOnlyVenue,
    clock: Clock,
    contracts: dict[ContractId, ContractSpec],
    cycles: int,
    interval: float,
    sleep: Callable[[float], None],
    emit: Callable[[WatchLine], None],
) -> tuple[list[WatchLine], BrokerState | None]:
    lines: list[WatchLine] = []
    last: BrokerState | None = None
    max_age = dt.timedelta(seconds=resolved.profile.snapshot_max_age_seconds)
    n = 0
    while cycles <= 0 or n < cycles:
        if n:
            sleep(interval)
        n += 1
        state = take_broker_state(venue, clock, contracts)
        last = state
        recon = read_store(resolved, state).recon
        if recon is None:
            verdict = "unknown"
        elif recon.clean:
            verdict = "clean"
        else:
            verdict = "BREAKS: " + "; ".join(b.line().split("  ")[0] for b in recon.breaks[:3])
            if recon.unknown:
                verdict += " unknown " + ", ".join(recon.unknown)
        line = WatchLine(
            at=clock.now().isoformat(timespec="seconds"),
            connected=state.connected,
            position_state=state.position_state(clock.now(), max_age).value,
            positions=state.positions,
            open_orders=state.open_orders,
            reconciliation=verdict,
            counters=venue.counters.as_dict(),
        )
        lines.append(line)
        emit(line)
    return lines, last
