"""Market data the sim venue matches against, and its per-contract market state.

Prices are integer ticks of the contract's tick size; sizes are lots. The venue does
not read files: whoever drives it (a backtest runner, a test) feeds these records.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable

import msgspec

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId
from bastion.domain.market import MarketQuote

__all__ = ["Bar", "MarketState", "Quote", "SimMarketView", "Trade"]


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """The top of the book."""

    contract_id: ContractId
    bid_ticks: int
    ask_ticks: int
    bid_size: int
    ask_size: int
    timestamp: dt.datetime


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """A print on the tape: drives the queue model for resting limits."""

    contract_id: ContractId
    price_ticks: int
    size: int
    timestamp: dt.datetime


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    contract_id: ContractId
    open_ticks: int
    high_ticks: int
    low_ticks: int
    close_ticks: int
    volume: int
    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if not (
            self.low_ticks <= min(self.open_ticks, self.close_ticks)
            and self.high_ticks >= max(self.open_ticks, self.close_ticks)
        ):
            raise ValueError(f"bar {self.contract_id} {self.start}: OHLC out of order")
        if self.volume < 0:
            raise ValueError(f"bar {self.contract_id} {self.start}: negative volume")


class MarketState:
    """What the venue knows about one contract's market right now."""

    __slots__ = (
        "_band",
        "ask_available",
        "ask_ticks",
        "bid_available",
        "bid_ticks",
        "halted",
        "last_quote",
        "mark_ticks",
        "published_quote",
        "range_sum",
        "ranges",
        "reference_ticks",
        "spec",
        "updated_at",
    )

    def __init__(self, spec: ContractSpec, volatility_window: int) -> None:
        self.spec = spec
        self.bid_ticks: int | None = None
        self.ask_ticks: int | None = None
        self.bid_available = 0
        """Lots at the bid our sells may still take from the current quote."""
        self.ask_available = 0
        self.mark_ticks: int | None = None
        """Last trade, else mid, else last close: the price for margin and P&L."""
        self.reference_ticks: int | None = None
        """Previous settlement: the centre of the daily price band."""
        self._band: tuple[int, int] | None = None
        self.halted = False
        self.last_quote: Quote | None = None
        self.published_quote: Quote | None = None
        """What the venue's feed shows (it lags ``last_quote`` under a stale-quote fault)."""
        self.ranges: deque[int] = deque(maxlen=volatility_window)
        self.range_sum = 0
        self.updated_at: dt.datetime | None = None
        """When the last quote, trade or bar arrived."""

    def apply_quote(self, quote: Quote, *, publish: bool) -> None:
        self.bid_ticks = quote.bid_ticks
        self.ask_ticks = quote.ask_ticks
        self.bid_available = quote.bid_size
        self.ask_available = quote.ask_size
        self.mark_ticks = (quote.bid_ticks + quote.ask_ticks) // 2
        self.last_quote = quote
        self.updated_at = quote.timestamp
        if publish:
            self.published_quote = quote
        if self.reference_ticks is None:
            self.set_reference(self.mark_ticks)

    def apply_bar(self, bar: Bar) -> None:
        if self.reference_ticks is None:
            self.set_reference(bar.open_ticks)
        self.mark_ticks = bar.close_ticks
        self.updated_at = bar.end
        rng = bar.high_ticks - bar.low_ticks
        if len(self.ranges) == self.ranges.maxlen:
            self.range_sum -= self.ranges[0]
        self.ranges.append(rng)
        self.range_sum += rng

    def mean_range(self) -> float:
        return self.range_sum / len(self.ranges) if self.ranges else 0.0

    def set_reference(self, ticks: int) -> None:
        """Set the previous settlement; the band is computed once here."""
        self.reference_ticks = ticks
        if self.spec.price_band is None:
            self._band = None
            return
        width = int(abs(ticks) * self.spec.price_band)  # truncation rounds the band inward
        self._band = (ticks - width, ticks + width)

    def band(self) -> tuple[int, int] | None:
        """The daily limit band in ticks (inclusive), if the contract has one."""
        return self._band


class SimMarketView:
    """The sim venue's market as a ``MarketView``: the published quote (it lags under a
    stale-quote fault, as a real feed would), the last mark, halts and the band."""

    __slots__ = ("_is_open", "_markets")

    def __init__(
        self,
        markets: dict[ContractId, MarketState],
        is_open: Callable[[ContractId, dt.datetime], bool],
    ) -> None:
        self._markets = markets
        self._is_open = is_open

    def quote(self, contract_id: ContractId) -> MarketQuote | None:
        market = self._markets.get(contract_id)
        if market is None or market.updated_at is None:
            return None
        published = market.published_quote
        return MarketQuote(
            contract_id,
            bid_ticks=published.bid_ticks if published is not None else None,
            ask_ticks=published.ask_ticks if published is not None else None,
            last_ticks=market.mark_ticks,
            last_tick_at=published.timestamp if published is not None else market.updated_at,
            halted=market.halted,
            settlement_ticks=market.reference_ticks,
            band=market.band(),
            bid_size=published.bid_size if published is not None else 0,
            ask_size=published.ask_size if published is not None else 0,
        )

    def in_session(self, contract_id: ContractId, when: dt.datetime) -> bool:
        return self._is_open(contract_id, when)
