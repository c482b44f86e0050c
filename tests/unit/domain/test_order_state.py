"""Invariant: every (state, event) pair is either defined by the table or raises a typed
error naming both; the derived groups agree with the table."""

from __future__ import annotations

import itertools

import pytest

from bastion.domain.order_state import (
    CANCELLABLE,
    IN_FLIGHT,
    TERMINAL,
    TRANSITIONS,
    WORKING,
    OrderEvent,
    OrderState,
    next_state,
)
from bastion.errors import IllegalTransition

ALL_PAIRS = list(itertools.product(OrderState, OrderEvent))


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=[f"{s}-{e}" for s, e in ALL_PAIRS])
def test_next_state_every_pair_defined_or_typed_error(state: OrderState, event: OrderEvent) -> None:
    if (state, event) in TRANSITIONS:
        result = next_state(state, event, filled=0)
        expected = TRANSITIONS[(state, event)]
        assert result == (OrderState.ACCEPTED if expected == WORKING else expected)
    else:
        with pytest.raises(IllegalTransition) as info:
            next_state(state, event)
        assert info.value.state is state
        assert info.value.event is event
        assert str(state) in str(info.value)
        assert str(event) in str(info.value)


def test_next_state_working_marker_partially_filled_when_something_filled() -> None:
    state = next_state(OrderState.CANCEL_PENDING, OrderEvent.CANCEL_REJECTED, filled=2)
    assert state is OrderState.PARTIALLY_FILLED


def test_groups_terminal_orders_accept_no_cancel_request() -> None:
    for state in TERMINAL:
        assert (state, OrderEvent.CANCEL_REQUESTED) not in TRANSITIONS
    assert not TERMINAL & IN_FLIGHT
    assert CANCELLABLE <= IN_FLIGHT
    assert set(OrderState) == TERMINAL | IN_FLIGHT


def test_table_real_world_oddities_are_allowed() -> None:
    # A fill before its acknowledgement.
    assert (
        next_state(OrderState.PENDING_NEW, OrderEvent.PARTIAL_FILL) is OrderState.PARTIALLY_FILLED
    )
    # A fill after a cancel: applied, the order stays canceled.
    assert next_state(OrderState.CANCELED, OrderEvent.PARTIAL_FILL) is OrderState.CANCELED
    # A duplicate acknowledgement.
    assert next_state(OrderState.ACCEPTED, OrderEvent.ACKNOWLEDGED) is OrderState.ACCEPTED
    # A late reject.
    assert next_state(OrderState.ACCEPTED, OrderEvent.REJECTED) is OrderState.REJECTED


def test_table_fill_on_rejected_order_is_illegal() -> None:
    with pytest.raises(IllegalTransition):
        next_state(OrderState.REJECTED, OrderEvent.PARTIAL_FILL)
