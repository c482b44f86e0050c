"""Invariant: every fault schedule that once broke an invariant of the deterministic
simulation now runs to its end with every invariant kept, and still breaks it when the
engine's fix is taken out again (so the schedule keeps guarding the bug it found).

Each schedule is the one ``bench/dst.py`` printed for a failing seed, shrunk by delta
debugging; the issue's own scenarios are in ``test_dst_issue_scenarios.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from bastion.domain.enums import Side
from bastion.domain.ids import ClientOrderId, InstrumentId, StrategyId
from bastion.domain.order_state import OrderEvent
from bastion.domain.orders import BrokerOrder
from bastion.domain.records import Allocation, JournalRecord
from bastion.domain.venue_events import Canceled, Expired
from bastion.engine import engine as engine_module
from bastion.oms.manager import Applied, OrderManager
from bastion.orders.stack import StackHandler
from bastion.testing.dst.runner import run
from bastion.testing.dst.schedule import Schedule

CROSS_HALVES = Schedule.from_json(
    '{"seed":20,"steps":83,"algo":"best","faults":[[56,"target",0,-4],[62,"target",1,-4],'
    '[67,"crash_at",5,0],[81,"target",0,4]]}'
)
"""A crash right after the first instrument order of an internal cross was journaled:
its allocation moved one strategy, the other half never came."""


LATE_FILL_BEYOND_PARENT = Schedule.from_json(
    '{"seed":305,"steps":66,"algo":"best","faults":[[49,"target",0,4],'
    '[54,"latency",0,2000,9],[61,"fill_after_cancel",0],[64,"target",1,-4]]}'
)
"""A passive buy is canceled to turn aggressive, the venue fills it after the cancel and
the fill report is slow: its parent is filled, yet the aggressive buy still works. The
other strategy's sell went out beside it: its parents said nothing was working."""

MARGIN_REDUCTION_BESIDE_A_TARGET = Schedule.from_json(
    '{"seed":149,"steps":103,"algo":"best","faults":[[47,"target",1,2],[65,"crash",21,1],'
    '[67,"target",0,-3],[70,"target",1,-3],[76,"target",1,2],[93,"target",1,-3],'
    '[95,"margin_call",14],[102,"target",0,1]]}'
)
"""A margin reduction (nobody's target) went out on the other side of a strategy's
resting order."""


STALE_MARGIN_REDUCTION = Schedule.from_json(
    '{"seed":187,"steps":200,"algo":"market","faults":[[146,"target",0,-4],[179,"halt",120],'
    '[179,"target",1,4],[180,"margin_call",16]]}'
)
"""A margin reduction decided while the account was short, held back by a halt, went
out after the strategies' own trades had taken the position flat: it opened a
position instead of reducing one."""


MARGIN_CALL_AT_TARGET = Schedule.from_json(
    '{"seed":126,"steps":21,"algo":"market","faults":[[2,"target",1,-1],[19,"margin_call",17]]}'
)
"""A margin call while the strategy sits at its target: the reduction was canceled at
the next step as a reversal of that target, so margin was never reduced."""


CANCEL_STORM = Schedule.from_json(
    '{"seed":37,"steps":15,"algo":"best","faults":[[7,"latency",0,2000,14],'
    '[9,"target",1,-2],[12,"target",0,4]]}'
)
"""A resting order filled at the venue, its fill report slow; the target moved and the
stack canceled it at every step, the venue refusing each cancel (the order was filled)."""


KILL_LEAVES_INTENT = Schedule.from_json(
    '{"seed":40,"steps":145,"algo":"best","faults":[[116,"price_limit",-1,15],'
    '[123,"target",1,2],[129,"kill"],[144,"operator_resume"]]}'
)
"""A resting buy when the kill switch fired: the kill canceled it and voided the targets,
but its instrument order stayed live, and the resume bought the old plan's 2 lots."""


def _kill_keeps_intents(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: the kill voids the targets but leaves the stack's orders live."""
    monkeypatch.setattr(StackHandler, "stop_all", lambda *_, **__: None)


KILL_FORGOTTEN_AT_RESTART = Schedule.from_json(
    '{"seed":276,"steps":62,"algo":"market","faults":[[35,"target",0,-3],[40,"kill"],'
    '[43,"operator_resume"],[56,"crash",1,0]]}'
)
"""A kill, a resume, then a crash: the new engine did not know the kill had ended the
plan, took the driver's old target again and sold the 3 lots the kill had bought back."""


def _kill_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: when the last kill finished lives only in the engine's memory."""
    monkeypatch.setattr(engine_module, "closed_kill", lambda _store: None)


CANCEL_BEFORE_FILL_REPORT = Schedule.from_json(
    '{"seed":2999,"steps":133,"algo":"best","faults":[[121,"latency",0,4000,14],'
    '[124,"thin_book",8],[126,"target",0,2]]}'
)
"""A resting buy of 2 filled 1 lot in a thin book; the fill report was slow, the algo
turned aggressive and the cancel was confirmed first: Bastion took the order for
unfilled and sent 2 more (3 executed for an intent of 2). No venue fault: only a slow
fill channel, the pysystemtrade case of issue 13."""


def _end_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: a cancel is applied at once, whatever fills the venue says it counted."""

    def end_now(self: OrderManager, order: BrokerOrder, event: Canceled | Expired) -> Applied:
        kind = OrderEvent.CANCEL_CONFIRMED if isinstance(event, Canceled) else OrderEvent.EXPIRED
        return self._transition(order, kind, event.timestamp, venue_id=event.venue_order_id)

    monkeypatch.setattr(OrderManager, "_await_fills", end_now)


SIBLING_FILLED_LATE = Schedule.from_json(
    '{"seed":2353,"steps":159,"algo":"best","faults":[[122,"target",1,1],[137,"target",1,-4],'
    '[139,"target",0,-1],[142,"latency",0,2000,18],[146,"fill_after_cancel",0],[149,"halt",27]]}'
)
"""A sell of 1 was canceled, the venue filled it after the cancel, and meanwhile a halt
stopped its contract order and a new one took over; when the late fill arrived the
instrument order was complete, yet the new contract order went on and sold another."""


def _contract_orders_ignore_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: a contract order works its own remainder whatever its parent needs."""
    monkeypatch.setattr(StackHandler, "_parent_room", lambda *_: 10**6)


REVERSAL_HIDDEN_BY_REDUCTION = Schedule.from_json(
    '{"seed":4338,"steps":39,"algo":"market","faults":[[3,"target",0,-3],[12,"target",1,2],'
    '[16,"margin_call",7],[18,"target",0,-4],[19,"halt",98],[26,"target",1,-3],'
    '[38,"target",0,2]]}'
)
"""A strategy's sell (its old target) waited behind a halt beside a margin reduction
buying for the same strategy; the target turned to a buy, but the two orders netted to
nothing, so the reversal went unseen and the old sell went out after the new target
was reached."""


def _net_reversal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: a reversal is read from the strategy's net working quantity, reductions
    included."""

    def net_reversed(self: StackHandler, sid: StrategyId, iid: InstrumentId, side: Side) -> bool:
        pending = sum(
            self._io_working(o) * o.side.sign
            for o in self.oms.book.instrument_orders.values()
            if o.strategy_id == sid and o.instrument_id == iid
        )
        return pending != 0 and (side is Side.BUY) != (pending > 0)

    monkeypatch.setattr(StackHandler, "_reversed", net_reversed)

    def working_with_reductions(self: StackHandler) -> dict[tuple[StrategyId, InstrumentId], int]:
        totals: dict[tuple[StrategyId, InstrumentId], int] = {}
        for order in self.oms.book.instrument_orders.values():
            key = (order.strategy_id, order.instrument_id)
            totals[key] = totals.get(key, 0) + self._io_working(order) * order.side.sign
        return totals

    monkeypatch.setattr(StackHandler, "_working_by_strategy", working_with_reductions)


TARGET_BUYS_BACK_REDUCTION = Schedule.from_json(
    '{"seed":14498,"steps":146,"algo":"market","faults":[[69,"crash_at",4,0],[70,"reject",3],'
    '[72,"latency",0,4000,26],[74,"target",1,2],[85,"disconnect",31,1],[86,"target",0,2],'
    '[94,"drop",3],[94,"target",0,0],[101,"reject",0],[106,"target",1,3],[108,"target",0,1],'
    '[118,"disconnect",4,0],[120,"halt",125],[132,"target",0,2],[133,"margin_call",7],'
    '[143,"target",0,1]]}'
)
"""A margin reduction sold a lot for a strategy whose target then came down to what it
held: the reduction netted the strategy's old buy to its target, so the buy went out
and bought back what the reduction sold."""


def _targets_count_reductions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: a strategy's working reductions count as its target's working orders."""

    def working(self: StackHandler) -> dict[tuple[StrategyId, InstrumentId], int]:
        totals: dict[tuple[StrategyId, InstrumentId], int] = {}
        for order in self.oms.book.instrument_orders.values():
            key = (order.strategy_id, order.instrument_id)
            totals[key] = totals.get(key, 0) + self._io_working(order) * order.side.sign
        return totals

    monkeypatch.setattr(StackHandler, "_working_by_strategy", working)


def _cancel_at_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: the stack sends a cancel at every step until the order is finished."""

    def cancel_broker(self: StackHandler, client_order_id: ClientOrderId) -> None:
        order = self.oms.book.broker_orders.get(client_order_id)
        if order is not None and not order.is_terminal:
            self.sender.cancel(client_order_id)

    monkeypatch.setattr(StackHandler, "cancel_broker", cancel_broker)


def _targets_cancel_reductions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: a target's reversal cancels every order of the strategy, reductions too."""

    def cancel(self: StackHandler, sid: StrategyId, iid: InstrumentId, why: str) -> None:
        for order in list(self.oms.book.instrument_orders.values()):
            if order.strategy_id == sid and order.instrument_id == iid:
                self._cancel_family(order, why)

    monkeypatch.setattr(StackHandler, "_cancel_instrument_orders", cancel)
    _net_reversal(monkeypatch)  # as it was then: the reversal read from the net


def _reductions_unbounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: a reduction is sent whatever the position holds by then."""
    monkeypatch.setattr(StackHandler, "_reducible", lambda *_: 10**6)


def _both_sides(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: the stack sends while the other side of the contract is working."""
    monkeypatch.setattr(StackHandler, "_other_side_working", lambda *_: False)


def _records_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: a plan's records written one instrument order at a time."""
    original = OrderManager.record

    def record(self: OrderManager, *records: JournalRecord) -> None:
        if any(isinstance(r, Allocation) for r in records) and len(records) > 2:
            for start in range(0, len(records), 2):
                original(self, *records[start : start + 2])
            return
        original(self, *records)

    monkeypatch.setattr(OrderManager, "record", record)


FILL_AFTER_CANCEL_BEYOND_INTENT = Schedule.from_json(
    '{"seed":189,"steps":200,"algo":"best","faults":[[96,"fill_after_cancel",0],'
    '[124,"target",1,4],[127,"target",1,3],[128,"target",1,-1],[129,"latency",0,2000,17]]}'
)
"""The venue confirmed a cancel with nothing filled, the intent was sent again, then the
first order's fill came: 8 sold for a 4-lot intent. The venue hid it from Bastion, so
the overfill cannot be prevented; it must not be silent (the lots went to UNATTRIBUTED
with no anomaly, no lock, and a clean reconciliation)."""


def _family_overfill_unseen(monkeypatch: pytest.MonkeyPatch) -> None:
    """As before the fix: only a broker order's own quantity was checked."""
    monkeypatch.setattr(OrderManager, "_family_excess", lambda *_: (0, ""))


REGRESSIONS: Sequence[tuple[str, Schedule, str, Callable[[pytest.MonkeyPatch], None]]] = (
    ("cross_in_one_write", CROSS_HALVES, "strategies sum to contracts", _records_one_by_one),
    ("late_fill_beyond_parent", LATE_FILL_BEYOND_PARENT, "one side at a time", _both_sides),
    (
        "margin_reduction_one_side",
        MARGIN_REDUCTION_BESIDE_A_TARGET,
        "one side at a time",
        _both_sides,
    ),
    (
        "reduction_never_opens",
        STALE_MARGIN_REDUCTION,
        "reductions stop at flat",
        _reductions_unbounded,
    ),
    (
        "reduction_outranks_target",
        MARGIN_CALL_AT_TARGET,
        "reductions outrank targets",
        _targets_cancel_reductions,
    ),
    ("cancel_once", CANCEL_STORM, "no cancel storm", _cancel_at_every_step),
    ("kill_ends_intents", KILL_LEAVES_INTENT, "residual", _kill_keeps_intents),
    ("kill_survives_restart", KILL_FORGOTTEN_AT_RESTART, "residual", _kill_forgotten),
    ("cancel_waits_for_fills", CANCEL_BEFORE_FILL_REPORT, "no overfill", _end_without_waiting),
    ("parent_bounds_child", SIBLING_FILLED_LATE, "no overfill", _contract_orders_ignore_parent),
    ("reversal_order_by_order", REVERSAL_HIDDEN_BY_REDUCTION, "residual", _net_reversal),
    (
        "overfill_never_silent",
        FILL_AFTER_CANCEL_BEYOND_INTENT,
        "overfill never silent",
        _family_overfill_unseen,
    ),
    (
        "targets_ignore_reductions",
        TARGET_BUYS_BACK_REDUCTION,
        "residual",
        _targets_count_reductions,
    ),
)


@pytest.mark.parametrize(("name", "schedule"), [(r[0], r[1]) for r in REGRESSIONS])
def test_dst_regression_schedule_keeps_every_invariant(name: str, schedule: Schedule) -> None:
    result = run(schedule)
    assert result.failure is None, f"{name}: {result.failure}"


@pytest.mark.parametrize(
    ("name", "schedule", "invariant", "reintroduce"), REGRESSIONS, ids=[r[0] for r in REGRESSIONS]
)
def test_dst_regression_schedule_without_the_fix_breaks_its_invariant(
    name: str,
    schedule: Schedule,
    invariant: str,
    reintroduce: Callable[[pytest.MonkeyPatch], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reintroduce(monkeypatch)
    result = run(schedule)
    assert result.failure is not None, f"{name}: the schedule no longer finds the bug"
    assert result.failure.invariant == invariant
