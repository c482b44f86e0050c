"""The trading-state board: the current state of every scope, persisted and journaled.

Scopes not on the board are ACTIVE. Every change goes through the transition table
(``states.py``); operator events need a reason; each change is written to the store and
journaled as a ``risk.state`` note, tightening changes value-first and loosening ones
journal-first (``persist.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bastion.clock import Clock
from bastion.domain.ids import InstrumentId, StrategyId
from bastion.errors import UserError
from bastion.risk.persist import KEY_STATES, RiskStore, load_json, note, write_change
from bastion.risk.states import (
    SEVERITY,
    Scope,
    ScopeKind,
    StateEvent,
    TradingState,
    most_severe,
    next_trading_state,
)

__all__ = ["ScopeStatus", "StateBoard", "StateChange"]


@dataclass(frozen=True, slots=True)
class ScopeStatus:
    state: TradingState
    since: dt.datetime | None = None
    reason: str = ""
    event: StateEvent | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    scope: Scope
    before: TradingState
    after: TradingState
    event: StateEvent
    reason: str

    @property
    def changed(self) -> bool:
        return self.before is not self.after


class StateBoard:
    def __init__(self, store: RiskStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._states: dict[Scope, ScopeStatus] = {}
        self.reload()

    def reload(self) -> None:
        """Read the states from the store (another process may have changed them)."""
        states: dict[Scope, ScopeStatus] = {}
        for key, raw in load_json(self._store, KEY_STATES).items():
            scope = Scope.parse(key)
            since = raw.get("since")
            event = raw.get("event")
            states[scope] = ScopeStatus(
                state=TradingState(raw["state"]),
                since=None if since is None else dt.datetime.fromisoformat(since),
                reason=str(raw.get("reason", "")),
                event=None if event is None else StateEvent(event),
            )
        self._states = states

    # -- reading ---------------------------------------------------------------------------
    def status(self, scope: Scope) -> ScopeStatus:
        return self._states.get(scope, ScopeStatus(TradingState.ACTIVE))

    def state(self, scope: Scope) -> TradingState:
        found = self._states.get(scope)
        return TradingState.ACTIVE if found is None else found.state

    def effective(
        self, instrument_id: InstrumentId, strategy_id: StrategyId | None
    ) -> tuple[TradingState, Scope]:
        """The most severe state that applies to an order, and the scope it comes from."""
        scopes = [Scope.account(), Scope.instrument(instrument_id)]
        if strategy_id:
            scopes.append(Scope.strategy(strategy_id))
        worst = max(scopes, key=lambda s: SEVERITY[self.state(s)])
        return self.state(worst), worst

    def all(self) -> dict[Scope, ScopeStatus]:
        """Every scope on the board, the account first."""
        board = dict(self._states)
        board.setdefault(Scope.account(), ScopeStatus(TradingState.ACTIVE))
        return dict(sorted(board.items(), key=lambda item: (item[0].kind != "account", item[0])))

    def worst(self) -> TradingState:
        return most_severe(*(s.state for s in self._states.values()))

    # -- changing ----------------------------------------------------------------------------
    def apply(self, scope: Scope, event: StateEvent, reason: str, actor: str = "") -> StateChange:
        """Move ``scope`` by ``event``; persisted and journaled even when it stays put.

        Operator events need a non-empty reason (a ``UserError`` otherwise). An illegal
        pair raises ``IllegalStateTransition`` and changes nothing.
        """
        reason = reason.strip()
        if event.by_operator and not reason:
            raise UserError(f"{event} of {scope} needs a reason (--reason TEXT)")
        if scope.kind is ScopeKind.ACCOUNT and scope.name:  # pragma: no cover - Scope forbids
            raise UserError("the account scope takes no name")
        self.reload()  # never decide on a stale board
        before = self.state(scope)
        after = next_trading_state(scope, before, event)
        now = self._clock.now()
        states = {str(s): _encode(st) for s, st in self._states.items()}
        status = ScopeStatus(after, now, reason, event)
        if after is TradingState.ACTIVE:
            states.pop(str(scope), None)
        else:
            states[str(scope)] = _encode(status)
        verb = "stays" if after is before else "moves to"
        text = f"{scope} {verb} {after.upper()} ({event}): {reason}"
        record = note(
            now,
            "risk.state",
            text,
            scope=str(scope),
            before=before,
            after=after,
            trigger=event,
            reason=reason,
            actor=actor or ("operator" if event.by_operator else "risk engine"),
        )
        tightens = SEVERITY[after] >= SEVERITY[before]
        write_change(self._store, KEY_STATES, states, record, tightens=tightens)
        if after is TradingState.ACTIVE:
            self._states.pop(scope, None)
        else:
            self._states[scope] = status
        return StateChange(scope, before, after, event, reason)


def _encode(status: ScopeStatus) -> dict[str, str]:
    out = {"state": status.state.value, "reason": status.reason}
    if status.since is not None:
        out["since"] = status.since.isoformat()
    if status.event is not None:
        out["event"] = status.event.value
    return out
