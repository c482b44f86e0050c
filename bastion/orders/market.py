"""What the order stack needs to know about the market, as a protocol (``MarketView``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from bastion.domain.ids import ContractId

__all__ = ["MarketView", "QuoteView", "StaticMarket"]


@dataclass(frozen=True, slots=True)
class QuoteView:
    bid_ticks: int
    ask_ticks: int
    last_ticks: int
    timestamp: dt.datetime
    bid_size: int = 0
    ask_size: int = 0

    @property
    def mid_ticks(self) -> int:
        return (self.bid_ticks + self.ask_ticks) // 2


class MarketView(Protocol):
    def quote(self, contract_id: ContractId) -> QuoteView | None:
        """The latest quote, or ``None`` when there is none (never a made-up price)."""
        ...


class StaticMarket:
    """A market view whose quotes are set explicitly (backtests, tests)."""

    def __init__(self) -> None:
        self.quotes: dict[ContractId, QuoteView] = {}

    def quote(self, contract_id: ContractId) -> QuoteView | None:
        return self.quotes.get(contract_id)

    def set(self, contract_id: ContractId, quote: QuoteView) -> None:
        self.quotes[contract_id] = quote
