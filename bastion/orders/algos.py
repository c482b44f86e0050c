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

A profile chooses the algo per instrument (``execution``; ``AlgoChoice``); the stack
names it on each contract order (``ContractOrder.algo``), so a restart builds the same
algo again. What an algo remembers about an order (``AlgoMemory``: patience start,
anchor, aggressive; last clip and clip count) is read with ``memory`` and given back
with ``restore``: the stack journals it before acting on a change, and restores it on a
restart, so the algo continues its schedule instead of starting afresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from bastion.domain.algo_memory import AlgoMemory
from bastion.domain.enums import OrderType, Side
from bastion.domain.market import MarketQuote
from bastion.domain.orders import BrokerOrder, ContractOrder

__all__ = [
    "ALGO_NAMES",
    "Algo",
    "AlgoAction",
    "AlgoChoice",
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

    def memory(self, order_id: str) -> AlgoMemory:
        """What the algo remembers about ``order_id`` (empty when nothing)."""
        ...

    def restore(self, order_id: str, memory: AlgoMemory) -> None:
        """Continue ``order_id`` from a memory journaled before a restart."""
        ...


_EMPTY = AlgoMemory()


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

    def memory(self, order_id: str) -> AlgoMemory:
        return _EMPTY

    def restore(self, order_id: str, memory: AlgoMemory) -> None:
        return None


@dataclass(slots=True)
class BestExecutionAlgo:
    patience: dt.timedelta = dt.timedelta(minutes=5)
    adverse_ticks: int = 2
    close_window: dt.timedelta = dt.timedelta(minutes=10)
    name: str = "best"
    _memory: dict[str, AlgoMemory] = field(default_factory=dict)

    def memory(self, order_id: str) -> AlgoMemory:
        return self._memory.get(order_id, _EMPTY)

    def restore(self, order_id: str, memory: AlgoMemory) -> None:
        self._memory[order_id] = memory

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
        mem = self.memory(oid)
        started = mem.started if mem.started is not None else now
        anchor = mem.anchor_ticks if mem.anchor_ticks is not None else own
        adverse = (own - anchor) * order.side.sign >= self.adverse_ticks
        late = now - started >= self.patience
        closing = session_end is not None and session_end - now <= self.close_window
        turning = not mem.aggressive and (adverse or late or closing)
        mem = msgspec.structs.replace(
            mem, started=started, anchor_ticks=anchor, aggressive=mem.aggressive or turning
        )
        self._memory[oid] = mem
        if turning:
            why = "adverse move" if adverse else ("patience ran out" if late else "session end")
            if working is not None:
                return AlgoAction(cancel=True, note=f"turning aggressive: {why}")
        if working is not None:
            return WAIT
        if mem.aggressive:
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
    _memory: dict[str, AlgoMemory] = field(default_factory=dict)

    def memory(self, order_id: str) -> AlgoMemory:
        return self._memory.get(order_id, _EMPTY)

    def restore(self, order_id: str, memory: AlgoMemory) -> None:
        self._memory[order_id] = memory

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
        mem = self.memory(order.order_id)
        last = mem.last_clip
        if last is not None and now - last < self.interval:
            return WAIT
        visible = 0
        if quote is not None:
            visible = quote.ask_size if order.side is Side.BUY else quote.bid_size
        clip = min(order.remaining, self.clip_lots)
        if visible > 0:
            clip = min(clip, max(1, int(visible * self.liquidity_fraction)))
        self._memory[order.order_id] = msgspec.structs.replace(
            mem, last_clip=now, clips=mem.clips + 1
        )
        return AlgoAction(submit=ChildSpec(clip, OrderType.MARKET), note=f"clip {clip}")


ALGO_NAMES = ("market", "best", "twap")


@dataclass(frozen=True, slots=True)
class AlgoChoice:
    """An instrument's algo as a profile chooses it (``execution``): its name and its
    parameters in the profile's units (seconds, ticks, lots, a fraction)."""

    name: str
    params: Mapping[str, float | int] = field(default_factory=dict)

    def build(self) -> Algo:
        return make_algo(self.name, self.params)


def make_algo(name: str, params: Mapping[str, float | int] | None = None) -> Algo:
    """A fresh algo; ``params`` as ``AlgoChoice`` holds them (validated by the profile)."""
    p = dict(params or {})
    seconds = dt.timedelta

    def pop_seconds(key: str) -> dict[str, dt.timedelta]:
        return {} if key not in p else {key.removesuffix("_seconds"): seconds(seconds=p.pop(key))}

    if name == "market":
        algo: Algo = MarketAlgo()
    elif name == "best":
        kwargs: dict[str, object] = {**pop_seconds("patience_seconds")}
        if "close_window_seconds" in p:
            kwargs["close_window"] = seconds(seconds=p.pop("close_window_seconds"))
        if "adverse_ticks" in p:
            kwargs["adverse_ticks"] = int(p.pop("adverse_ticks"))
        algo = BestExecutionAlgo(**kwargs)  # type: ignore[arg-type]
    elif name == "twap":
        kwargs = {**pop_seconds("interval_seconds")}
        if "clip_lots" in p:
            kwargs["clip_lots"] = int(p.pop("clip_lots"))
        if "liquidity_fraction" in p:
            kwargs["liquidity_fraction"] = float(p.pop("liquidity_fraction"))
        algo = TwapAlgo(**kwargs)  # type: ignore[arg-type]
    else:
        raise ValueError(f"unknown algo {name!r}; expected one of {sorted(ALGO_NAMES)}")
    if p:
        raise ValueError(f"algo {name}: unknown parameters {sorted(p)}")
    return algo
