"""Market data over FIX: MarketDataSnapshotFullRefresh (35=W) into a ``MarketView``."""

from __future__ import annotations

import datetime as dt
import threading

from bastion.domain.ids import ContractId
from bastion.domain.market import MarketQuote
from bastion.venues.fix.instruments import ContractBook
from bastion.venues.fix.wire import Message, parse_fix_time, text, texts

__all__ = ["FixMarket", "quote_from_snapshot"]


def quote_from_snapshot(msg: Message, contracts: ContractBook) -> MarketQuote | None:
    cid = contracts.contract(text(msg, 55), text(msg, 200))
    if cid is None:
        return None
    kinds, prices, sizes = texts(msg, 269), texts(msg, 270), texts(msg, 271)
    book = {
        k: (contracts.ticks(cid, p), int(s)) for k, p, s in zip(kinds, prices, sizes, strict=False)
    }
    stamp = text(msg, 60)
    if "0" not in book or "1" not in book or stamp is None:
        return None
    (bid, bid_size), (ask, ask_size) = book["0"], book["1"]
    return MarketQuote(
        contract_id=cid,
        bid_ticks=bid,
        ask_ticks=ask,
        last_ticks=book["2"][0] if "2" in book else None,
        last_tick_at=parse_fix_time(stamp),
        bid_size=bid_size,
        ask_size=ask_size,
    )


class FixMarket:
    """The latest quote per contract, as the venue's snapshots gave it (thread-safe).
    The paper venue trades around the clock, so ``in_session`` is always true."""

    def __init__(self) -> None:
        self._quotes: dict[ContractId, MarketQuote] = {}
        self._lock = threading.Lock()

    def update(self, quote: MarketQuote) -> None:
        with self._lock:
            self._quotes[quote.contract_id] = quote

    def quote(self, contract_id: ContractId) -> MarketQuote | None:
        with self._lock:
            return self._quotes.get(contract_id)

    def in_session(self, contract_id: ContractId, when: dt.datetime) -> bool:
        return True
