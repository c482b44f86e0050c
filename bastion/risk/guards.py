"""Market-state guards (R6.7): stale data, an exchange halt, a spread too wide.

Each pauses new orders for that contract's instrument while its condition holds and
lifts by itself when it clears; unlike a trading state, no operator is needed. A pause
and its end are journaled (``risk.guard`` notes) when the guard notices them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from bastion.domain.ids import ContractId
from bastion.domain.market import MarketQuote, MarketView
from bastion.domain.reasons import Reason
from bastion.risk.persist import RiskStore, note

__all__ = ["GuardKind", "GuardPause", "MarketGuards", "guard_pause"]


class GuardKind(StrEnum):
    NO_DATA = "no_data"
    STALE = "stale"
    HALTED = "halted"
    WIDE_SPREAD = "wide_spread"


@dataclass(frozen=True, slots=True)
class GuardPause:
    kind: GuardKind
    reason: Reason
    message: str


def guard_pause(
    contract_id: ContractId,
    quote: MarketQuote | None,
    *,
    now: dt.datetime,
    in_session: bool,
    stale_after: dt.timedelta,
    max_spread_ticks: int | None,
) -> GuardPause | None:
    """Why new orders in the contract must wait, or ``None``."""
    if quote is None:
        return GuardPause(
            GuardKind.NO_DATA, Reason.RISK_LIMIT, f"{contract_id}: no market data received yet"
        )
    if quote.halted:
        return GuardPause(
            GuardKind.HALTED,
            Reason.HALTED,
            f"{contract_id}: the exchange has halted trading (halt or circuit breaker)",
        )
    if in_session:
        if quote.last_tick_at is None:
            return GuardPause(
                GuardKind.NO_DATA, Reason.RISK_LIMIT, f"{contract_id}: no tick received yet"
            )
        age = now - quote.last_tick_at
        if age > stale_after:
            return GuardPause(
                GuardKind.STALE,
                Reason.RISK_LIMIT,
                f"{contract_id}: market data is stale, no tick for {age.total_seconds():.0f} s"
                f" (limit {stale_after.total_seconds():.0f} s) while in session",
            )
    spread = quote.spread_ticks
    if max_spread_ticks is not None and spread is not None and spread > max_spread_ticks:
        return GuardPause(
            GuardKind.WIDE_SPREAD,
            Reason.RISK_LIMIT,
            f"{contract_id}: the spread is {spread} ticks, wider than {max_spread_ticks}",
        )
    return None


class MarketGuards:
    """Evaluates guards on demand and journals each pause and resume once."""

    def __init__(self, market: MarketView, store: RiskStore) -> None:
        self._market = market
        self._store = store
        self.paused: dict[ContractId, GuardPause] = {}

    def evaluate(
        self,
        contract_id: ContractId,
        now: dt.datetime,
        stale_after: dt.timedelta,
        max_spread_ticks: int | None,
    ) -> GuardPause | None:
        pause = guard_pause(
            contract_id,
            self._market.quote(contract_id),
            now=now,
            in_session=self._market.in_session(contract_id, now),
            stale_after=stale_after,
            max_spread_ticks=max_spread_ticks,
        )
        previous = self.paused.get(contract_id)
        if pause is not None and (previous is None or previous.kind is not pause.kind):
            self.paused[contract_id] = pause
            self._store.record(
                [
                    note(
                        now,
                        "risk.guard",
                        f"new orders paused: {pause.message}",
                        contract_id=contract_id,
                        guard=pause.kind,
                    )
                ]
            )
        elif pause is None and previous is not None:
            del self.paused[contract_id]
            self._store.record(
                [
                    note(
                        now,
                        "risk.guard",
                        f"{contract_id}: {previous.kind} cleared; new orders resume",
                        contract_id=contract_id,
                        guard=previous.kind,
                    )
                ]
            )
        return pause
