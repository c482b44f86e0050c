"""Invariant: trading states move only as the transition table says; a breach or the
kill switch never loosens a state, only an operator event does; an illegal pair raises
a typed error naming the scope, the state and the event, and changes nothing."""

from __future__ import annotations

import itertools

import pytest

from bastion.clock import SimClock
from bastion.domain.ids import InstrumentId, StrategyId
from bastion.errors import UserError
from bastion.risk.board import StateBoard
from bastion.risk.persist import MemoryRiskStore
from bastion.risk.states import (
    SEVERITY,
    TRANSITIONS,
    IllegalStateTransition,
    Scope,
    StateEvent,
    TradingState,
    next_trading_state,
)
from tests.unit.risk.kit import T0

ALL_PAIRS = list(itertools.product(TradingState, StateEvent))
SCOPE = Scope.instrument("ES")


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=str)
def test_transition_every_pair_follows_table(state: TradingState, event: StateEvent) -> None:
    expected = TRANSITIONS.get((state, event))
    if expected is None:
        with pytest.raises(IllegalStateTransition) as raised:
            next_trading_state(SCOPE, state, event)
        assert str(state) in str(raised.value)
        assert str(event) in str(raised.value)
        assert "instrument:ES" in str(raised.value)
    else:
        assert next_trading_state(SCOPE, state, event) is expected


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=str)
def test_transition_non_operator_event_never_loosens(
    state: TradingState, event: StateEvent
) -> None:
    target = TRANSITIONS.get((state, event))
    if target is not None and not event.by_operator:
        assert SEVERITY[target] >= SEVERITY[state]


def test_transition_only_operator_resume_reaches_active_from_halted() -> None:
    to_active = {e for (s, e), t in TRANSITIONS.items() if s is not t and t is TradingState.ACTIVE}
    assert to_active == {StateEvent.OPERATOR_RESUME}


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=str)
def test_board_every_pair_persists_or_refuses(state: TradingState, event: StateEvent) -> None:
    store = MemoryRiskStore()
    board = StateBoard(store, SimClock(T0))
    setup = {
        TradingState.REDUCE_ONLY: StateEvent.OPERATOR_REDUCE,
        TradingState.HALTED: StateEvent.OPERATOR_HALT,
    }
    if state in setup:
        board.apply(SCOPE, setup[state], "setup")
    notes_before = len(store.notes())
    expected = TRANSITIONS.get((state, event))
    if expected is None:
        with pytest.raises(IllegalStateTransition):
            board.apply(SCOPE, event, "why")
        assert len(store.notes()) == notes_before
        assert board.state(SCOPE) is state
        return
    change = board.apply(SCOPE, event, "why")
    assert change.after is expected
    assert StateBoard(store, SimClock(T0)).state(SCOPE) is expected  # a restart reads it back
    last = store.notes()[-1]
    assert last.kind == "risk.state"
    assert last.data["before"] == state
    assert last.data["after"] == expected
    assert last.data["reason"] == "why"


@pytest.mark.parametrize(
    "event", [StateEvent.OPERATOR_HALT, StateEvent.OPERATOR_REDUCE, StateEvent.OPERATOR_RESUME]
)
def test_board_operator_event_without_reason_refused(event: StateEvent) -> None:
    store = MemoryRiskStore()
    board = StateBoard(store, SimClock(T0))
    board.apply(SCOPE, StateEvent.BREACH_HALT, "loss")
    with pytest.raises(UserError, match="needs a reason"):
        board.apply(SCOPE, event, "   ")
    assert board.state(SCOPE) is TradingState.HALTED


def test_board_effective_state_is_most_severe_scope() -> None:
    board = StateBoard(MemoryRiskStore(), SimClock(T0))
    board.apply(Scope.strategy("ema"), StateEvent.OPERATOR_REDUCE, "review")
    board.apply(Scope.instrument("ES"), StateEvent.OPERATOR_HALT, "roll problem")
    state, scope = board.effective(InstrumentId("ES"), StrategyId("ema"))
    assert (state, scope) == (TradingState.HALTED, Scope.instrument("ES"))
    state, scope = board.effective(InstrumentId("rb"), StrategyId("ema"))
    assert (state, scope) == (TradingState.REDUCE_ONLY, Scope.strategy("ema"))
    assert board.effective(InstrumentId("rb"), None)[0] is TradingState.ACTIVE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("account", Scope.account()),
        ("strategy:ema_trend", Scope.strategy("ema_trend")),
        ("instrument:ES", Scope.instrument("ES")),
        ("INSTRUMENT:rb", Scope.instrument("rb")),
    ],
)
def test_scope_parse_valid_text_gives_scope(text: str, expected: Scope) -> None:
    assert Scope.parse(text) == expected
    assert Scope.parse(str(expected)) == expected


@pytest.mark.parametrize(
    "text", ["", "desk", "strategy", "strategy:", "account:x", "instrument:a b"]
)
def test_scope_parse_bad_text_one_line_error(text: str) -> None:
    with pytest.raises(UserError) as raised:
        Scope.parse(text)
    assert "\n" not in str(raised.value)
    assert "expected 'account', 'strategy:NAME' or 'instrument:ID'" in str(raised.value)
