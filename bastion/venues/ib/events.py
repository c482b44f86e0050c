"""The IB adapter's outgoing events: a thread-safe queue that keeps IB's order.

Events are appended on the IB thread and drained by ``poll_events`` on the engine's.
A fill waits in its place for its commission report (IB sends it just after the
execution), so the fill the engine sees carries its commission and nothing behind it
overtakes it. If the report does not come within ``commission_wait`` seconds the fill
is released without it (logged): a fill is never held back for a fee.

A cancel learned from error 202 waits the same way for the orderStatus that follows it,
which carries IB's cumulative filled count; without that status it goes after the same
wait with the last count the adapter heard.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from bastion.domain.fills import Fill
from bastion.domain.venue_events import FillReport, VenueEvent

__all__ = ["EventQueue"]

log = logging.getLogger("bastion.ib.events")


@dataclass(slots=True)
class _Slot:
    event: VenueEvent | None = None
    fill: Fill | None = None
    held: VenueEvent | None = None
    key: str = ""
    release_at: float = 0.0


class EventQueue:
    def __init__(
        self, commission_wait: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._wait = commission_wait
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._slots: collections.deque[_Slot] = collections.deque()
        self._waiting: dict[str, _Slot] = {}
        self._held: dict[str, _Slot] = {}
        self.released_without_commission = 0

    def push(self, event: VenueEvent) -> None:
        with self._lock:
            self._slots.append(_Slot(event=event))

    def push_fill(self, fill: Fill, commission: Decimal | None) -> None:
        """A fill; with ``commission`` ``None`` it waits for its report."""
        with self._lock:
            if commission is not None:
                done = msgspec.structs.replace(fill, commission=commission)
                self._slots.append(_Slot(event=FillReport(fill=done)))
                return
            slot = _Slot(fill=fill, release_at=self._monotonic() + self._wait)
            self._waiting[fill.exec_id] = slot
            self._slots.append(slot)

    def push_held(self, key: str, event: VenueEvent) -> None:
        """``event`` waits in its place for ``complete(key, ...)`` to give a truer one."""
        with self._lock:
            slot = _Slot(held=event, key=key, release_at=self._monotonic() + self._wait)
            self._held[key] = slot
            self._slots.append(slot)

    def complete(self, key: str, event: VenueEvent) -> bool:
        """Replace the held event ``key``; ``False`` if none is held."""
        with self._lock:
            slot = self._held.pop(key, None)
            if slot is None:
                return False
            slot.event = event
            slot.held = None
            return True

    def attach_commission(self, exec_id: str, commission: Decimal) -> bool:
        """Give a waiting fill its commission; ``False`` if no fill waits for it."""
        with self._lock:
            slot = self._waiting.pop(exec_id, None)
            if slot is None or slot.fill is None:
                return False
            slot.event = FillReport(fill=msgspec.structs.replace(slot.fill, commission=commission))
            slot.fill = None
            return True

    def drain(self) -> list[VenueEvent]:
        now = self._monotonic()
        out: list[VenueEvent] = []
        with self._lock:
            while self._slots:
                slot = self._slots[0]
                if slot.event is None and slot.fill is not None:
                    if now < slot.release_at:
                        break
                    log.warning(
                        "IB: no commission report for execution %s within %.1f s; the fill"
                        " goes without it",
                        slot.fill.exec_id,
                        self._wait,
                    )
                    self._waiting.pop(slot.fill.exec_id, None)
                    self.released_without_commission += 1
                    slot.event = FillReport(fill=slot.fill)
                if slot.event is None and slot.held is not None:
                    if now < slot.release_at:
                        break
                    log.warning(
                        "IB: no orderStatus after the cancel of %s within %.1f s; the cancel"
                        " goes with the filled count last heard",
                        slot.key,
                        self._wait,
                    )
                    self._held.pop(slot.key, None)
                    slot.event = slot.held
                self._slots.popleft()
                if slot.event is not None:
                    out.append(slot.event)
        return out
