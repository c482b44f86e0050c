"""Invariant: above the margin high mark the monitor plans risk-reducing orders that
bring margin to the low mark (never past flat), at the boundary exactly; and when
margin is tight, an open that needs the margin a close frees is refused until the close
is confirmed (closes before opens, R6.3)."""

from __future__ import annotations

from decimal import Decimal

from bastion.domain.enums import Side
from bastion.domain.fills import Fill
from bastion.domain.ids import ExecId
from bastion.domain.venue_events import FillReport
from bastion.risk.checks import Check
from bastion.risk.margin_monitor import closes_confirmed, split_closes_first
from bastion.risk.states import Scope, StateEvent
from tests.unit.risk.kit import CONTRACT, MID, NEXT, make_order, make_request, make_rig

EQUITY = Decimal(1_000_000)  # one lot is 20,000 margin: 45 lots = 90 %


def test_margin_at_high_mark_plans_nothing() -> None:
    rig = make_rig()
    rig.hold(45)
    check = rig.engine.on_account(EQUITY)
    assert check.utilisation == Decimal("0.9")
    assert check.reductions == []


def test_margin_above_high_mark_reduces_to_low_mark_in_clips() -> None:
    rig = make_rig(max_order_lots=10)
    rig.hold(46)  # 92 %
    check = rig.engine.on_account(EQUITY)
    assert [(r.contract_id, r.side, r.quantity) for r in check.reductions] == [
        (CONTRACT, Side.SELL, 10),
        (CONTRACT, Side.SELL, 1),
    ]  # 46 - 11 = 35 lots = 700,000 = 70 %
    assert "above the high mark" in rig.store.notes("risk.margin")[0].text


def test_margin_reduction_spans_contracts_most_margin_first_never_past_flat() -> None:
    rig = make_rig(max_order_lots=50)
    rig.hold(20)  # 400,000
    rig.hold(-20, contract=NEXT)  # at twice the price: 800,000
    rig.market.update(NEXT, bid_ticks=2 * MID - 1, ask_ticks=2 * MID + 1, last_ticks=2 * MID)
    check = rig.engine.on_account(Decimal(500_000))  # 240 %; low mark 350,000
    assert [(r.contract_id, r.side, r.quantity) for r in check.reductions] == [
        (NEXT, Side.BUY, 20),  # all of it, never past flat
        (CONTRACT, Side.SELL, 3),  # 17 x 20,000 = 340,000 <= 350,000
    ]


def test_margin_reduction_orders_pass_in_reduce_only() -> None:
    rig = make_rig()
    rig.hold(46)
    rig.engine.operator(Scope.account(), StateEvent.OPERATOR_REDUCE, "margin")
    intent = rig.engine.on_account(EQUITY).reductions[0]
    order = make_order(intent.side, intent.quantity, limit=MID - 1)
    assert rig.check(order, reduces=True).allowed


def test_tight_margin_open_waits_for_close_confirmation() -> None:
    rig = make_rig(equity=Decimal(100_000))  # 90,000 allowed = 4 lots
    rig.hold(4)
    close = make_order(Side.SELL, 4, limit=MID - 1)
    open_ = make_order(Side.SELL, 4, contract=NEXT, limit=MID - 1)
    closes, opens = split_closes_first([make_request(open_), make_request(close, reduces=True)])
    assert [r.order for r in closes] == [close]
    assert [r.order for r in opens] == [open_]
    assert rig.engine.check(closes[0]).allowed
    rig.working(close)
    refused = rig.engine.check(opens[0])
    assert refused.check == Check.MARGIN  # the close is not confirmed yet
    assert not closes_confirmed(rig.oms.book, [close.client_order_id])
    rig.oms.apply(
        FillReport(
            fill=Fill(
                exec_id=ExecId("close-fill"),
                client_order_id=close.client_order_id,
                contract_id=CONTRACT,
                side=Side.SELL,
                quantity=4,
                price_ticks=MID - 1,
                timestamp=rig.clock.now(),
            )
        )
    )
    assert closes_confirmed(rig.oms.book, [close.client_order_id])
    assert rig.engine.check(opens[0]).allowed
