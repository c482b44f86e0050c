"""Fault injection, first-class: what can go wrong between a venue and Bastion.

``Faults`` is the venue's switchboard. Tests and scenario configs arm faults on it
(one-shot or timed); ``FaultConfig`` adds seeded random faults on the report stream
and a schedule. Everything is deterministic for a seed: the same config and the same
sequence of calls give the same reports.

Faults act on the *report stream* (what Bastion hears), never on the venue's truth:
a dropped fill still happened, so ``fills_since`` and ``positions`` still show it. That
is what makes them testable: after any fault, querying the venue must let the OMS
reach the venue's truth.

Besides the report stream, ``latency`` makes the venue act and report late (a slow
exchange link), and ``move_cash`` moves the account's cash (a variation-margin call or
a withdrawal), which is how a margin call is simulated. ``on_inject``, when set, is told
of every report the faults withheld from Bastion for good (``drop``, ``lost`` on a
reconnect), duplicated, or made up after the fact (``late_fill``), with the order it
concerns: a test harness uses it to tell what Bastion could not have known.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal

from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import VenueEvent
from bastion.venues.sim.config import FaultConfig

__all__ = ["Faults"]


class Faults:
    __slots__ = (
        "_cash",
        "_config",
        "_halt",
        "_latency",
        "_now",
        "_on_disconnect",
        "_rng",
        "disconnected_until",
        "drop_next_count",
        "duplicate_next_count",
        "fill_after_cancel_count",
        "fill_after_cancel_lots",
        "lose_reports",
        "on_inject",
        "reject_next_reasons",
        "reorder_next_count",
        "silent_since",
        "silent_until",
        "skew",
        "stale_until",
    )

    def __init__(
        self,
        config: FaultConfig,
        seed: int,
        on_disconnect: Callable[[dt.timedelta | None, bool], None],
        on_halt: Callable[[ContractId | None, dt.timedelta | None], None],
        now: Callable[[], dt.datetime],
        *,
        on_latency: Callable[[dt.timedelta, dt.timedelta], None] | None = None,
        on_cash: Callable[[Decimal], None] | None = None,
    ) -> None:
        self._config = config
        self._latency = on_latency
        self._cash = on_cash
        self.on_inject: Callable[[str, ClientOrderId | None], None] | None = None
        """Told of each report withheld for good, duplicated or made up (see above)."""
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not cryptography
        self._on_disconnect = on_disconnect
        self._halt = on_halt
        self._now = now
        self.disconnected_until: dt.datetime | None = None
        self.lose_reports = False
        self.stale_until: dt.datetime | None = None
        self.reject_next_reasons: list[tuple[Reason, str]] = []
        self.fill_after_cancel_count = 0
        self.fill_after_cancel_lots: int | None = None
        self.drop_next_count = 0
        self.duplicate_next_count = 0
        self.reorder_next_count = 0
        self.skew = dt.timedelta(0)
        self.silent_since: dt.datetime | None = None
        self.silent_until: dt.datetime | None = None

    # -- arming -----------------------------------------------------------------------
    def disconnect(self, seconds: float, *, lose_reports: bool = False) -> None:
        """Drop the connection for ``seconds`` of sim time; it comes back by itself.

        Reports due meanwhile are held and delivered on reconnect, or lost when
        ``lose_reports`` (then only queries can recover them).
        """
        self._on_disconnect(dt.timedelta(seconds=seconds), lose_reports)

    def halt(self, contract_id: ContractId | None = None, seconds: float | None = None) -> None:
        """Halt one contract (or all) for ``seconds``, or until ``SimVenue.resume``."""
        self._halt(contract_id, None if seconds is None else dt.timedelta(seconds=seconds))

    def stale_quotes(self, seconds: float) -> None:
        """The published quote freezes for ``seconds``; matching goes on with the real
        market, so a consumer that checks the quote's age sees it go stale."""
        self.stale_until = self._now() + dt.timedelta(seconds=seconds)

    def reject_next(self, reason: Reason, message: str = "injected reject") -> None:
        """The next order that reaches the matching engine is rejected with ``reason``."""
        self.reject_next_reasons.append((reason, message))

    def fill_after_cancel_next(self, lots: int | None = None) -> None:
        """The next cancel of a working order is acknowledged, and then a fill of ``lots``
        (all that remained, by default) that matched before the cancel is reported."""
        self.fill_after_cancel_count += 1
        self.fill_after_cancel_lots = lots

    def clock_skew(self, seconds: float) -> None:
        """The venue's clock runs ``seconds`` ahead of the engine's (negative: behind)
        from now on, as a broker's current time or a FIX SendingTime would show."""
        self.skew = dt.timedelta(seconds=seconds)

    def silence(self, seconds: float) -> None:
        """The venue sends nothing for ``seconds`` of sim time while the connection
        stays up (no report, no heartbeat answer): what it was last heard at stands
        still, so a silence limit notices."""
        now = self._now()
        self.silent_since = now
        self.silent_until = now + dt.timedelta(seconds=seconds)

    def heard_at(self, now: dt.datetime) -> dt.datetime:
        """When the venue was last heard from, at ``now``."""
        if self.silent_until is not None and now < self.silent_until:
            return self.silent_since or now
        return now

    def drop_next(self, count: int = 1) -> None:
        self.drop_next_count += count

    def duplicate_next(self, count: int = 1) -> None:
        self.duplicate_next_count += count

    def reorder_next(self, count: int = 1) -> None:
        """The next due report swaps places with the one after it."""
        self.reorder_next_count += count

    def latency(self, ack_seconds: float, fill_seconds: float) -> None:
        """From now on the venue acts on order calls ``ack_seconds`` late and reports each
        fill ``fill_seconds`` after it matched (late reports); zero puts it back."""
        if self._latency is None:
            raise ValueError("this venue's latency cannot be changed")
        self._latency(dt.timedelta(seconds=ack_seconds), dt.timedelta(seconds=fill_seconds))

    def move_cash(self, amount: Decimal) -> None:
        """Move the account's cash by ``amount`` (negative: a margin call or withdrawal)."""
        if self._cash is None:
            raise ValueError("this venue's cash cannot be moved")
        self._cash(amount)

    def injected(self, kind: str, client_order_id: ClientOrderId | None) -> None:
        if self.on_inject is not None:
            self.on_inject(kind, client_order_id)

    # -- applying --------------------------------------------------------------------
    def is_stale(self, now: dt.datetime) -> bool:
        return self.stale_until is not None and now < self.stale_until

    def take_reject(self) -> tuple[Reason, str] | None:
        return self.reject_next_reasons.pop(0) if self.reject_next_reasons else None

    def take_fill_after_cancel(self) -> tuple[bool, int | None]:
        if self.fill_after_cancel_count <= 0:
            return False, None
        self.fill_after_cancel_count -= 1
        return True, self.fill_after_cancel_lots

    def _roll(self, rate: float) -> bool:
        return rate > 0.0 and self._rng.random() < rate

    def shape(self, reports: list[VenueEvent]) -> list[VenueEvent]:
        """Reorder, drop and duplicate due reports, as armed and as the dice say."""
        config = self._config
        quiet = not (
            self.drop_next_count
            or self.duplicate_next_count
            or self.reorder_next_count
            or config.drop_rate
            or config.duplicate_rate
            or config.reorder_rate
        )
        if quiet:
            return reports
        ordered = list(reports)
        i = 0
        while i + 1 < len(ordered):
            if self.reorder_next_count > 0 or self._roll(config.reorder_rate):
                self.reorder_next_count = max(0, self.reorder_next_count - 1)
                ordered[i], ordered[i + 1] = ordered[i + 1], ordered[i]
                i += 2
            else:
                i += 1
        out: list[VenueEvent] = []
        for event in ordered:
            if self.drop_next_count > 0 or self._roll(config.drop_rate):
                self.drop_next_count = max(0, self.drop_next_count - 1)
                self.injected("drop", event.client_order_id)
                continue
            out.append(event)
            if self.duplicate_next_count > 0 or self._roll(config.duplicate_rate):
                self.duplicate_next_count = max(0, self.duplicate_next_count - 1)
                self.injected("duplicate", event.client_order_id)
                out.append(event)
        return out
