"""What the core knows about markets: one quote record and one small protocol.

A market-data adapter (a live feed, the sim venue, a backtest's bar stream) implements
``MarketView``; the order stack (algos, cost records) and the risk engine only read it.
Prices are integer ticks of the contract's tick size. ``None`` means unknown, and
unknown is never read as a price.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Protocol

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId

__all__ = ["MarketQuote", "MarketView", "StaticMarket", "daily_band"]


@dataclass(frozen=True, slots=True)
class MarketQuote:
    contract_id: ContractId
    bid_ticks: int | None = None
    ask_ticks: int | None = None
    last_ticks: int | None = None
    last_tick_at: dt.datetime | None = None
    """When the last tick (quote or trade) arrived."""
    halted: bool = False
    """The exchange halted the contract (halt, circuit breaker, limit lock)."""
    settlement_ticks: int | None = None
    """Previous settlement: the centre of the daily price band."""
    band: tuple[int, int] | None = None
    """The exchange's published limits (inclusive), when it publishes them."""
    bid_size: int = 0
    ask_size: int = 0
    """Visible size at the touch (lots); 0 when unknown."""

    @property
    def mid_ticks(self) -> int | None:
        if self.bid_ticks is None or self.ask_ticks is None:
            return None
        return (self.bid_ticks + self.ask_ticks) // 2

    @property
    def spread_ticks(self) -> int | None:
        if self.bid_ticks is None or self.ask_ticks is None:
            return None
        return self.ask_ticks - self.bid_ticks

    @property
    def reference_ticks(self) -> int | None:
        """Mid when both sides are known, else the last price."""
        mid = self.mid_ticks
        return mid if mid is not None else self.last_ticks


def daily_band(quote: MarketQuote, spec: ContractSpec) -> tuple[int, int] | None:
    """The daily price band in ticks (inclusive): published, or the spec's fraction of
    the previous settlement (truncated inward, as exchanges round limit prices)."""
    if quote.band is not None:
        return quote.band
    if spec.price_band is None or quote.settlement_ticks is None:
        return None
    centre = quote.settlement_ticks
    width = int(abs(centre) * spec.price_band)
    return centre - width, centre + width


class MarketView(Protocol):
    def quote(self, contract_id: ContractId) -> MarketQuote | None:
        """The latest market state of a contract; ``None`` if nothing is known."""
        ...

    def in_session(self, contract_id: ContractId, when: dt.datetime) -> bool:
        """Whether the contract's market is open at ``when`` (stale data matters only then)."""
        ...


class StaticMarket:
    """A ``MarketView`` held in memory and updated by hand: tests, what-if runs, and
    adapters that push updates."""

    def __init__(self, *, always_open: bool = True) -> None:
        self.quotes: dict[ContractId, MarketQuote] = {}
        self.closed: set[ContractId] = set()
        self._always_open = always_open

    def quote(self, contract_id: ContractId) -> MarketQuote | None:
        return self.quotes.get(contract_id)

    def in_session(self, contract_id: ContractId, when: dt.datetime) -> bool:
        return self._always_open and contract_id not in self.closed

    def set(self, quote: MarketQuote) -> None:
        self.quotes[quote.contract_id] = quote

    def update(self, contract_id: ContractId, **changes: object) -> MarketQuote:
        current = self.quotes.get(contract_id, MarketQuote(contract_id))
        updated = replace(current, **changes)  # type: ignore[arg-type]
        self.quotes[contract_id] = updated
        return updated
