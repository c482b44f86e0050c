"""The frame of the venue conformance suite: the harness a venue supplies, the case
registry, and small checks. The cases live in ``conformance_orders`` and
``conformance_state``; ``bastion.testing.conformance`` is the public entry point.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, TypeVar

from bastion.domain.enums import Side
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    FillReport,
    Rejected,
    VenueEvent,
)
from bastion.venues.port import VenuePort

__all__ = [
    "CASES",
    "Capability",
    "ConformanceCase",
    "ConformanceError",
    "ConformanceHarness",
    "EventLog",
    "HarnessFactory",
    "VenueSetup",
    "case",
    "check",
    "known",
]


class Capability(StrEnum):
    """What a harness can do beyond the port itself. A case needing more than the
    harness offers is not run for that venue (and is listed as such)."""

    MARKET_CONTROL = "market_control"  # set quotes and print trades
    SESSION_CONTROL = "session_control"  # open/close the session, end the day
    HALT_CONTROL = "halt_control"
    FAULTS = "faults"  # inject report faults (duplicate, disconnect)
    TIME = "time"  # move the venue's clock


@dataclass(frozen=True, slots=True)
class VenueSetup:
    """What a case needs the venue to be built with. Defaults: an ES-like contract
    (tick 0.25, multiplier 50, margin 10 %), 1,000,000 cash, 2.00 per contract per side."""

    initial_cash: Decimal = Decimal(1_000_000)
    commission_per_contract: Decimal = Decimal("2.00")
    price_band: Decimal | None = None
    unsupported_time_in_force: frozenset[str] = frozenset()


class ConformanceHarness(Protocol):
    """A venue plus the controls a case needs to drive its market."""

    venue: VenuePort
    contract_id: ContractId
    capabilities: frozenset[Capability]

    def now(self) -> dt.datetime: ...

    def set_quote(self, bid: int, ask: int, bid_size: int = 10, ask_size: int = 10) -> None: ...

    def print_trade(self, price: int, size: int) -> None: ...

    def advance(self, seconds: float) -> None: ...

    def set_session_open(self, is_open: bool) -> None: ...

    def end_of_day(self) -> None: ...

    def set_reference_price(self, ticks: int) -> None: ...

    def halt(self) -> None: ...

    def duplicate_next_report(self) -> None: ...

    def disconnect_for(self, seconds: float) -> None: ...


HarnessFactory = Callable[[VenueSetup], ConformanceHarness]


class ConformanceError(AssertionError):
    """A venue did not behave as the port promises."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


_V = TypeVar("_V")


def known(value: _V | None, what: str) -> _V:
    """``value``, which the case needs to be present (a known snapshot, a record)."""
    if value is None:
        raise ConformanceError(f"{what} is missing")
    return value


@dataclass(frozen=True, slots=True)
class ConformanceCase:
    case_id: str
    title: str
    run: Callable[[ConformanceHarness], None]
    needs: frozenset[Capability]
    setup: VenueSetup = field(default_factory=VenueSetup)

    def applies_to(self, capabilities: frozenset[Capability]) -> bool:
        return self.needs <= capabilities


CASES: dict[str, ConformanceCase] = {}

_F = TypeVar("_F", bound=Callable[[ConformanceHarness], None])


def case(
    case_id: str,
    title: str,
    *needs: Capability,
    setup: VenueSetup | None = None,
) -> Callable[[_F], _F]:
    """Register a numbered case. Ids are unique and never reused."""

    def register(fn: _F) -> _F:
        if case_id in CASES:
            raise ValueError(f"conformance case {case_id} registered twice")
        CASES[case_id] = ConformanceCase(
            case_id, title, fn, frozenset(needs), setup if setup is not None else VenueSetup()
        )
        return fn

    return register


E = TypeVar("E", Acknowledged, Rejected, FillReport, Canceled, Expired, CancelRejected)


class EventLog:
    """Everything a venue reported during a case, drained from ``poll_events``."""

    def __init__(self, venue: VenuePort) -> None:
        self._venue = venue
        self.events: list[VenueEvent] = []

    def drain(self) -> list[VenueEvent]:
        new = self._venue.poll_events()
        self.events.extend(new)
        return new

    def of(self, kind: type[E], coid: ClientOrderId) -> list[E]:
        self.drain()
        return [e for e in self.events if isinstance(e, kind) and e.client_order_id == coid]

    def fills(self, coid: ClientOrderId) -> list[FillReport]:
        return self.of(FillReport, coid)

    def filled(self, coid: ClientOrderId) -> int:
        return sum(f.fill.quantity for f in self.fills(coid))

    def one(self, kind: type[E], coid: ClientOrderId) -> E:
        found = self.of(kind, coid)
        check(len(found) == 1, f"expected one {kind.__name__} for {coid}, got {len(found)}")
        return found[0]

    def none(self, kinds: Iterable[type[VenueEvent]], coid: ClientOrderId) -> None:
        self.drain()
        for kind in kinds:
            found = [e for e in self.events if isinstance(e, kind) and e.client_order_id == coid]
            check(not found, f"unexpected {kind.__name__} for {coid}: {found}")


def signed(side: Side, lots: int) -> int:
    return side.sign * lots
