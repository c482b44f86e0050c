"""Execution algos (R4.4): how a contract order becomes broker orders over time.

An algo is asked, on every step, what to do with the contract order it controls:
submit a child, cancel the working child, or wait. One algo controls a contract order
at a time (the stack holds the lock); algos never talk to venues themselves.

- ``MarketAlgo``: one market order for what is left.
- ``BestExecutionAlgo``: a passive limit at our side of the touch; it turns aggressive
  (cancels and sends a marketable order) after ``patience``, when the price moves
  ``adverse_ticks`` against us, or within ``close_window`` of the session end.
- ``TwapAlgo``: clips every ``interval``, each no larger than ``clip_lots`` nor than
  ``liquidity_fraction`` of the visible size on the side we take.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from bastion.domain.enums import OrderType, Side
from bastion.domain.market import MarketQuote
from bastion.domain.orders import BrokerOrder, ContractOrder

__all__ = [
    "Algo",
    "AlgoAction",
    "BestExecutionAlgo",
    "ChildSpec",
    "MarketAlgo",
    "TwapAlgo",
    "make_algo",
]


@dataclass(frozen=True, slots=True)
class ChildSpec:
    quantity: int
    order_type: OrderType
    limit_ticks: int | None = None


@dataclass(frozen=True, slots=True)
class AlgoAction:
    submit: ChildSpec | None = None
    cancel: bool = False
    note: str = ""


WAIT = AlgoAction()


class Algo(Protocol):
    name: str

    def decide(
        self,
        order: ContractOrder,
        working: BrokerOrder | None,
        quote: MarketQuote | None,
        now: dt.datetime,
        session_end: dt.datetime | None,
    ) -> AlgoAction: ...


def _unsent(order: ContractOrder, working: BrokerOrder | None) -> int:
    return order.remaining - (working.remaining if working is not None else 0)


class MarketAlgo:
    name = "market"

    def decide(
        self,
        order: ContractOrder,
        working: BrokerOrder | None,
        quote: MarketQuote | None,
        now: dt.datetime,
        session_end: dt.datetime | None,
    ) -> AlgoAction:
        if working is not None or order.remaining <= 0:
            return WAIT
        return AlgoAction(submit=ChildSpec(order.remaining, OrderType.MARKET))


@dataclass(slots=True)
class BestExecutionAlgo:
    patience: dt.timedelta = dt.timedelta(minutes=5)
    adverse_ticks: int = 2
    close_window: dt.timedelta = dt.timedelta(minutes=10)
    name: str = "best"
    _started: dict[str, dt.datetime] = field(default_factory=dict)
    _anchor: dict[str, int] = field(default_factory=dict)
    _aggressive: set[str] = field(default_factory=set)

    def decide(
        self,
        order: ContractOrder,
        working: BrokerOrder | None,
        quote: MarketQuote | None,
        now: dt.datetime,
        session_end: dt.datetime | None,
    ) -> AlgoAction:
        oid = order.order_id
        if order.remaining <= 0:
            return WAIT
        own = (
            None
            if quote is None
            else (quote.bid_ticks if order.side is Side.BUY else quote.ask_ticks)
        )
        if own is None:
            return AlgoAction(note="no quote: waiting") if working is None else WAIT
        self._started.setdefault(oid, now)
        self._anchor.setdefault(oid, own)
        adverse = (own - self._anchor[oid]) * order.side.sign >= self.adverse_ticks
        late = now - self._started[oid] >= self.patience
        closing = session_end is not None and session_end - now <= self.close_window
        if oid not in self._aggressive and (adverse or late or closing):
            self._aggressive.add(oid)
            why = "adverse move" if adverse else ("patience ran out" if late else "session end")
            if working is not None:
                return AlgoAction(cancel=True, note=f"turning aggressive: {why}")
        if working is not None:
            return WAIT
        if oid in self._aggressive:
            return AlgoAction(
                submit=ChildSpec(order.remaining, OrderType.MARKET), note="aggressive"
            )
        return AlgoAction(submit=ChildSpec(order.remaining, OrderType.LIMIT, own), note="passive")


@dataclass(slots=True)
class TwapAlgo:
    interval: dt.timedelta = dt.timedelta(minutes=1)
    clip_lots: int = 5
    liquidity_fraction: float = 0.2
    name: str = "twap"
    _last: dict[str, dt.datetime] = field(default_factory=dict)

    def decide(
        self,
        order: ContractOrder,
        working: BrokerOrder | None,
        quote: MarketQuote | None,
        now: dt.datetime,
        session_end: dt.datetime | None,
    ) -> AlgoAction:
        if working is not None or _unsent(order, working) <= 0:
            return WAIT
        last = self._last.get(order.order_id)
        if last is not None and now - last < self.interval:
            return WAIT
        visible = 0
        if quote is not None:
            visible = quote.ask_size if order.side is Side.BUY else quote.bid_size
        clip = min(order.remaining, self.clip_lots)
        if visible > 0:
            clip = min(clip, max(1, int(visible * self.liquidity_fraction)))
        self._last[order.order_id] = now
        return AlgoAction(submit=ChildSpec(clip, OrderType.MARKET), note=f"clip {clip}")


def make_algo(name: str) -> Algo:
    algos: dict[str, type[MarketAlgo] | type[BestExecutionAlgo] | type[TwapAlgo]] = {
        "market": MarketAlgo,
        "best": BestExecutionAlgo,
        "twap": TwapAlgo,
    }
    try:
        return algos[name]()
    except KeyError:
        raise ValueError(f"unknown algo {name!r}; expected one of {sorted(algos)}") from None
