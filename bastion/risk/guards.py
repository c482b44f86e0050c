"""Market-state guards (R6.7): stale data, an exchange halt, a spread too wide.

Each pauses new orders for that contract's instrument while its condition holds and
lifts by itself when it clears; unlike a trading state, no operator is needed. A pause
and its end are journaled (``risk.guard`` notes) when the guard notices them.

The spread breaker is on by default (``max_spread_ticks``, per instrument
``instrument_spread_ticks``) and has a *hold*: after a spread wider than the limit, new
orders wait until spreads have been back inside it for ``spread_hold_seconds`` (30 s by
default), counted from the first time the guard saw them normal again, so one narrow
quote in a widening market does not reopen it.
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
    SPREAD_HOLD = "spread_hold"


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
        self._wide: dict[ContractId, dt.datetime | None] = {}
        """Contracts whose spread was wide: when it was first seen normal again (None:
        still wide at the last look)."""

    def evaluate(
        self,
        contract_id: ContractId,
        now: dt.datetime,
        stale_after: dt.timedelta,
        max_spread_ticks: int | None,
        spread_hold: dt.timedelta = dt.timedelta(0),
    ) -> GuardPause | None:
        pause = guard_pause(
            contract_id,
            self._market.quote(contract_id),
            now=now,
            in_session=self._market.in_session(contract_id, now),
            stale_after=stale_after,
            max_spread_ticks=max_spread_ticks,
        )
        pause = self._hold(contract_id, pause, now, max_spread_ticks, spread_hold)
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

    def _hold(
        self,
        contract_id: ContractId,
        pause: GuardPause | None,
        now: dt.datetime,
        max_spread_ticks: int | None,
        hold: dt.timedelta,
    ) -> GuardPause | None:
        """The spread breaker's hold: a wide spread is remembered; once spreads are
        normal, orders wait ``hold`` from the first normal look."""
        if pause is not None and pause.kind is GuardKind.WIDE_SPREAD:
            self._wide[contract_id] = None
            return pause
        if contract_id not in self._wide:
            return pause
        if pause is not None:
            return pause  # another guard speaks first; the hold still waits
        since = self._wide[contract_id]
        if since is None:
            since = self._wide[contract_id] = now
        if now - since >= hold:
            del self._wide[contract_id]
            return None
        resume = since + hold
        return GuardPause(
            GuardKind.SPREAD_HOLD,
            Reason.RISK_LIMIT,
            f"{contract_id}: the spread is back within {max_spread_ticks} ticks since"
            f" {since:%H:%M:%S}; new orders wait {hold.total_seconds():g} s after a wide"
            f" spread (until {resume:%H:%M:%S} UTC)",
        )
