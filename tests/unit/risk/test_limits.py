"""Invariant: limits changed at run time through the store reach a running engine within
its refresh interval, every change is journaled with before, after and reason, and
limits that no longer validate stop every order but the kill switch's (fail closed)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bastion.domain.enums import Side
from bastion.domain.ids import ContractId
from bastion.errors import ConfigError, UserError
from bastion.risk.checks import Check
from bastion.risk.limits import LimitBook
from bastion.risk.persist import KEY_LIMITS
from bastion.risk.port import OrderPath
from tests.unit.risk.kit import T0, make_order, make_rig


def test_limit_set_reaches_running_engine_after_refresh() -> None:
    rig = make_rig(max_order_lots=10)
    book = LimitBook(rig.engine.limit_book.base, rig.store)  # the CLI's view of the store
    old, new = book.set("max_order_lots", "3", "quiet market", T0)
    assert (old, new) == (10, 3)
    assert rig.check(make_order(quantity=5)).allowed  # not yet re-read
    rig.clock.advance(dt.timedelta(seconds=1))
    assert rig.check(make_order(quantity=5)).check == Check.ORDER_SIZE
    note = rig.store.notes("risk.limits")[-1]
    assert note.data == {
        "limit": "max_order_lots",
        "before": "10",
        "after": "3",
        "reason": "quiet market",
    }


def test_limit_tightening_written_before_journal_loosening_after() -> None:
    rig = make_rig()
    order: list[str] = []
    store = rig.store
    original_set, original_record = store.set_state, store.record
    store.set_state = lambda k, v: (order.append("value"), original_set(k, v))[1]  # type: ignore[method-assign]
    store.record = lambda r: (order.append("journal"), original_record(r))[1]  # type: ignore[method-assign]
    book = LimitBook(rig.engine.limit_book.base, store)
    book.set("max_order_lots", "3", "tighter", T0)
    book.set("max_order_lots", "30", "looser", T0)
    assert order == ["value", "journal", "journal", "value"]


def test_stored_limits_invalid_fail_closed_but_kill_passes() -> None:
    rig = make_rig()
    rig.hold(2)
    rig.store.set_state(KEY_LIMITS, json.dumps({"margin_low_mark": "0.95"}))
    rig.engine.refresh()
    decision = rig.check(make_order())
    assert decision.check == Check.LIMITS
    assert "margin_low_mark" in decision.message
    assert rig.check(make_order(Side.SELL, 2), OrderPath.KILL).allowed


@pytest.mark.parametrize(
    ("name", "value", "error", "expected"),
    [
        ("max_lots", "3", UserError, "unknown risk limit 'max_lots'"),
        ("max_order_lots", "x", ConfigError, "max_order_lots: got 'x'"),
        ("daily_loss_action", "panic", ConfigError, "daily_loss_action"),
        ("max_order_lots", " ", UserError, "value is empty"),
    ],
)
def test_limit_set_bad_input_refused_nothing_changes(
    name: str, value: str, error: type[Exception], expected: str
) -> None:
    rig = make_rig()
    book = LimitBook(rig.engine.limit_book.base, rig.store)
    with pytest.raises(error, match=expected):
        book.set(name, value, "why", T0)
    assert rig.store.get_state(KEY_LIMITS) is None
    assert rig.store.notes("risk.limits") == []


def test_engine_malformed_contract_id_denied_not_raised() -> None:
    rig = make_rig()
    decision = rig.check(make_order(contract=ContractId("garbage")))
    assert not decision.allowed
    assert decision.check == Check.CONTRACT
