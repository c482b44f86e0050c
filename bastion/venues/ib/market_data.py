"""IB's market data as a ``MarketView`` for the risk engine and the algos.

Quotes come from ``reqMktData`` ticks (bid 1, ask 2, last 4 and their sizes; halted is
generic tick 49). Only live data is fresh. Delayed or frozen data (market data type 2,
3 or 4, delayed tick types 66-71, errors 10167 and 354) is kept for display but its
``last_tick_at`` is set at least ``DELAYED_AGE`` in the past, so the stale-data guard
pauses new orders in that contract; a contract IB sends nothing for has no quote at
all. IB has no session state in its ticks, so ``in_session`` is always true: stale
data always pauses (fail-closed).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

from bastion.domain.ids import ContractId
from bastion.domain.market import MarketQuote
from bastion.venues.ib.config import MarketDataType

__all__ = ["DELAYED_AGE", "IbMarket"]

DELAYED_AGE = dt.timedelta(minutes=20)
"""How old delayed data is taken to be (IB delays exchange data by 10 to 20 minutes)."""

_BID, _ASK, _LAST = {1, 66}, {2, 67}, {4, 68}
_BID_SIZE, _ASK_SIZE = {0, 69}, {3, 70}
_DELAYED_TICKS = {66, 67, 68, 69, 70, 71}
HALTED_TICK = 49


class IbMarket:
    """The latest quote per contract (thread-safe: written on the IB thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._quotes: dict[ContractId, MarketQuote] = {}
        self._types: dict[ContractId, int] = {}
        self._live_at: dict[ContractId, dt.datetime] = {}
        self.unavailable: dict[ContractId, str] = {}
        """Contracts IB gives no data for, and why (354, 10197)."""

    # -- updates (IB thread) --------------------------------------------------------------
    def on_data_type(self, cid: ContractId, data_type: int) -> None:
        with self._lock:
            self._types[cid] = data_type

    def on_unavailable(self, cid: ContractId, why: str) -> None:
        with self._lock:
            self.unavailable[cid] = why
            self._quotes.pop(cid, None)

    def on_price(
        self, cid: ContractId, tick_type: int, ticks: int | None, size: int, now: dt.datetime
    ) -> None:
        if ticks is None:
            return
        with self._lock:
            quote = self._quotes.get(cid, MarketQuote(cid))
            if tick_type in _BID:
                quote = replace(quote, bid_ticks=ticks, bid_size=size or quote.bid_size)
            elif tick_type in _ASK:
                quote = replace(quote, ask_ticks=ticks, ask_size=size or quote.ask_size)
            elif tick_type in _LAST:
                quote = replace(quote, last_ticks=ticks)
            else:
                return
            self._stamp(cid, quote, tick_type, now)

    def on_size(self, cid: ContractId, tick_type: int, size: int, now: dt.datetime) -> None:
        with self._lock:
            quote = self._quotes.get(cid)
            if quote is None:
                return
            if tick_type in _BID_SIZE:
                quote = replace(quote, bid_size=size)
            elif tick_type in _ASK_SIZE:
                quote = replace(quote, ask_size=size)
            else:
                return
            self._stamp(cid, quote, tick_type, now)

    def on_halted(self, cid: ContractId, *, halted: bool) -> None:
        with self._lock:
            quote = self._quotes.get(cid, MarketQuote(cid))
            self._quotes[cid] = replace(quote, halted=halted)

    def _stamp(self, cid: ContractId, quote: MarketQuote, tick_type: int, now: dt.datetime) -> None:
        live = (
            tick_type not in _DELAYED_TICKS
            and self._types.get(cid, MarketDataType.LIVE) == MarketDataType.LIVE
        )
        if live:
            self._live_at[cid] = now
            stamp = now
            self.unavailable.pop(cid, None)
        else:
            stamp = min(self._live_at.get(cid, now), now - DELAYED_AGE)
        self._quotes[cid] = replace(quote, last_tick_at=stamp)

    # -- the view -------------------------------------------------------------------------
    def quote(self, contract_id: ContractId) -> MarketQuote | None:
        with self._lock:
            return self._quotes.get(contract_id)

    def in_session(self, contract_id: ContractId, when: dt.datetime) -> bool:
        return True

    def data_type(self, contract_id: ContractId) -> int | None:
        with self._lock:
            return self._types.get(contract_id)
