"""Trading states as a transition table (R6.4), in the pattern of the order state table.

A *scope* is the whole account, one strategy, or one instrument. Each scope is ACTIVE,
REDUCE_ONLY (orders that reduce a position only) or HALTED (nothing but the kill
switch's flattening). The state that applies to an order is the most severe of its
account, strategy and instrument scopes.

``TRANSITIONS[(state, event)]`` gives the next state; a pair missing from the table is
illegal and ``next_trading_state`` raises ``IllegalStateTransition`` naming both. The
rule the table encodes: a *breach* (or the kill switch) never loosens a state; only an
operator event moves a state back towards ACTIVE, and the engine requires a reason for
every operator event and journals it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bastion.errors import InvariantError, UserError

__all__ = [
    "SEVERITY",
    "TRANSITIONS",
    "IllegalStateTransition",
    "Scope",
    "ScopeKind",
    "StateEvent",
    "TradingState",
    "most_severe",
    "next_trading_state",
    "render_table",
]


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCE_ONLY = "reduce_only"
    HALTED = "halted"


class StateEvent(StrEnum):
    BREACH_REDUCE = "breach_reduce"  # a limit configured "reduce" was breached
    BREACH_HALT = "breach_halt"  # a limit configured "halt" was breached
    KILL = "kill"  # the kill switch fired (operator or a limit configured "kill")
    OPERATOR_REDUCE = "operator_reduce"
    OPERATOR_HALT = "operator_halt"
    OPERATOR_RESUME = "operator_resume"

    @property
    def by_operator(self) -> bool:
        return self in _OPERATOR_EVENTS


_OPERATOR_EVENTS: Final = frozenset(
    {StateEvent.OPERATOR_REDUCE, StateEvent.OPERATOR_HALT, StateEvent.OPERATOR_RESUME}
)

SEVERITY: Final[dict[TradingState, int]] = {
    TradingState.ACTIVE: 0,
    TradingState.REDUCE_ONLY: 1,
    TradingState.HALTED: 2,
}

A = TradingState.ACTIVE
R = TradingState.REDUCE_ONLY
H = TradingState.HALTED
E = StateEvent

TRANSITIONS: Final[dict[tuple[TradingState, StateEvent], TradingState]] = {
    # --- ACTIVE ------------------------------------------------------------------------
    (A, E.BREACH_REDUCE): R,
    (A, E.BREACH_HALT): H,
    (A, E.KILL): H,
    (A, E.OPERATOR_REDUCE): R,
    (A, E.OPERATOR_HALT): H,
    # (A, OPERATOR_RESUME) is illegal: nothing to resume, and an operator who thinks
    # otherwise is looking at the wrong scope; the command says so instead of a no-op.
    # --- REDUCE_ONLY -----------------------------------------------------------------------
    (R, E.BREACH_REDUCE): R,  # the same limit breached again (or another): stays
    (R, E.BREACH_HALT): H,
    (R, E.KILL): H,
    (R, E.OPERATOR_REDUCE): R,  # repeated by the operator: journaled, no change
    (R, E.OPERATOR_HALT): H,
    (R, E.OPERATOR_RESUME): A,
    # --- HALTED --------------------------------------------------------------------------
    (H, E.BREACH_REDUCE): H,  # a lesser breach never loosens a halt
    (H, E.BREACH_HALT): H,
    (H, E.KILL): H,  # the kill switch fires again while halted (e.g. a retry)
    (H, E.OPERATOR_HALT): H,
    (H, E.OPERATOR_REDUCE): R,  # the operator steps down one level: closes allowed
    (H, E.OPERATOR_RESUME): A,
}


class IllegalStateTransition(InvariantError):  # noqa: N818 - the name says what happened
    """A trading-state event that the table does not allow in this state."""

    def __init__(self, scope: Scope, state: TradingState, event: StateEvent) -> None:
        self.scope = scope
        self.state = state
        self.event = event
        super().__init__(
            f"illegal trading-state transition for {scope}: event {event} in state {state}"
        )


def next_trading_state(scope: Scope, state: TradingState, event: StateEvent) -> TradingState:
    """The state after ``event``; raises ``IllegalStateTransition`` for a pair not in the
    table."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalStateTransition(scope, state, event) from None


def most_severe(*states: TradingState) -> TradingState:
    return max(states, key=SEVERITY.__getitem__, default=TradingState.ACTIVE)


class ScopeKind(StrEnum):
    ACCOUNT = "account"
    STRATEGY = "strategy"
    INSTRUMENT = "instrument"


_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    kind: ScopeKind
    name: str = ""

    def __post_init__(self) -> None:
        if (self.kind is ScopeKind.ACCOUNT) != (self.name == ""):
            raise ValueError(f"scope {self.kind} {'takes no' if self.name else 'needs a'} name")

    @classmethod
    def account(cls) -> Scope:
        return cls(ScopeKind.ACCOUNT)

    @classmethod
    def strategy(cls, name: str) -> Scope:
        return cls(ScopeKind.STRATEGY, name)

    @classmethod
    def instrument(cls, name: str) -> Scope:
        return cls(ScopeKind.INSTRUMENT, name)

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``account``, ``strategy:NAME`` or ``instrument:ID``; a ``UserError`` otherwise."""
        raw = text.strip()
        kind_text, _, name = raw.partition(":")
        expected = "expected 'account', 'strategy:NAME' or 'instrument:ID'"
        try:
            kind = ScopeKind(kind_text.lower())
        except ValueError:
            raise UserError(f"scope {text!r} is not a scope; {expected}") from None
        if kind is ScopeKind.ACCOUNT:
            if name:
                raise UserError(f"scope {text!r}: the account scope takes no name; {expected}")
            return cls.account()
        if not _NAME.match(name):
            raise UserError(f"scope {text!r}: a {kind} scope needs a name; {expected}")
        return cls(kind, name)

    def __str__(self) -> str:
        return self.kind.value if self.kind is ScopeKind.ACCOUNT else f"{self.kind}:{self.name}"


def render_table() -> str:
    """The transition table as Markdown (docs/risk.md embeds it; a test keeps them equal)."""
    events = list(StateEvent)
    lines = [
        "| state \\ event | " + " | ".join(e.value for e in events) + " |",
        "|---" * (len(events) + 1) + "|",
    ]
    for state in TradingState:
        cells = []
        for event in events:
            target = TRANSITIONS.get((state, event))
            cells.append(
                "illegal" if target is None else "=" if target is state else target.upper()
            )
        lines.append(f"| {state.upper()} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
