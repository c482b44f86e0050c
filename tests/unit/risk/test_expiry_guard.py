"""Invariant (issue 15): within ``expiry_guard_days`` trading days of a contract's last
trade day or, for physical delivery, its first notice day (the earlier), nothing new
opens in it (reduce-only), a position still held there alerts once per contract and
trading day, and a contract whose days cannot be known fails closed."""

from __future__ import annotations

import datetime as dt

import pytest

from bastion.domain.contracts import ContractDates
from bastion.domain.enums import Side
from bastion.domain.ids import ContractId
from bastion.errors import DataError
from bastion.risk.checks import Check
from bastion.risk.expiry import expiry_window
from tests.unit.risk.kit import CONTRACT, NEXT, T0, make_order, make_rig

TODAY = T0.date()  # a Monday


def _weekdays(start: dt.date, end: dt.date) -> int:
    step = 1 if end >= start else -1
    count, day = 0, start
    while day != end:
        day += dt.timedelta(days=step)
        count += day.weekday() < 5
    return count * step


class Calendar:
    """Weekdays trade; ES/202606 has the given days, ES/202609 is far away."""

    def __init__(self, last: dt.date, notice: dt.date | None = None, broken: bool = False):
        self.dates_of = {
            CONTRACT: ContractDates(CONTRACT, last, notice),
            NEXT: ContractDates(NEXT, dt.date(2026, 9, 18)),
        }
        self.broken = broken

    def dates(self, contract_id: ContractId) -> ContractDates | None:
        if self.broken:
            raise DataError("no China futures calendar for 2027")
        return self.dates_of.get(contract_id)

    def trading_days_between(self, contract_id: ContractId, start: dt.date, end: dt.date) -> int:
        return _weekdays(start, end)

    def trading_day(self, contract_id: ContractId, when: dt.datetime) -> dt.date:
        return when.date()


@pytest.mark.parametrize(("days_after", "inside"), [(5, True), (6, False)])
def test_expiry_guard_window_boundary(days_after: int, inside: bool) -> None:
    # Mon 2 Mar + 5 weekdays = Mon 9 Mar: 5 trading days left is inside a 5-day guard.
    last = TODAY + dt.timedelta(days=days_after + 2 * (days_after >= 5))
    assert _weekdays(TODAY, last) == days_after
    rig = make_rig(expiry=Calendar(last), expiry_guard_days=5)
    decision = rig.check(make_order())
    assert decision.allowed is not inside
    if inside:
        assert decision.check == Check.EXPIRY
        assert f"5 trading day(s) before its last trade day {last}" in decision.message
        assert "reduce-only" in decision.message


def test_expiry_guard_first_notice_earlier_applies() -> None:
    notice = TODAY + dt.timedelta(days=3)
    rig = make_rig(expiry=Calendar(dt.date(2026, 6, 19), notice), expiry_guard_days=5)
    refused = rig.check(make_order())
    assert refused.check == Check.EXPIRY
    assert f"its first notice day {notice}" in refused.message
    assert rig.check(make_order(contract=NEXT)).allowed  # the next contract opens


def test_expiry_guard_reduce_only_and_alerts_once_a_day() -> None:
    rig = make_rig(expiry=Calendar(TODAY + dt.timedelta(days=1)), expiry_guard_days=5)
    rig.engine.expiry = None
    rig.hold(3)  # opened before the guard knew
    rig.engine.expiry = Calendar(TODAY + dt.timedelta(days=1))
    assert rig.check(make_order(Side.SELL, 2)).allowed  # reducing passes
    assert rig.check(make_order(Side.BUY, 1)).check == Check.EXPIRY
    alerts = rig.engine.expiry_alerts(T0)
    assert len(alerts) == 1
    assert (
        "+3 lots still held in ES/202606: 1 trading day(s) before its last trade day"
        in (alerts[0][1])
    )
    assert rig.engine.expiry_alerts(T0 + dt.timedelta(hours=1)) == []  # once a day


def test_expiry_guard_unknown_dates_fail_closed() -> None:
    rig = make_rig(expiry=Calendar(TODAY, broken=True), expiry_guard_days=5)
    refused = rig.check(make_order())
    assert refused.check == Check.EXPIRY
    assert "cannot be known" in refused.message
    assert "no China futures calendar for 2027" in refused.message


def test_expiry_guard_off_at_zero() -> None:
    rig = make_rig(expiry=Calendar(TODAY), expiry_guard_days=0)
    assert rig.check(make_order()).allowed


def test_expiry_window_past_event_is_inside() -> None:
    found = expiry_window(Calendar(TODAY - dt.timedelta(days=3)), CONTRACT, T0, 5)
    assert found is not None
    assert found.days_left == -1
    assert "past its last trade day" in found.text()
