"""Invariant (R2.1, issue 15): every bundled contract spec carries a last trade rule and
says how it settles; a physically delivered contract's first notice day comes from its
rule and the exchange calendar, exactly as the exchange publishes it."""

from __future__ import annotations

import datetime as dt

import pytest

from bastion.domain.ids import ContractId, InstrumentId
from bastion.marketdata.calendars import calendar_for
from bastion.marketdata.expiry import ContractCalendar
from bastion.marketdata.specs import SpecRegistry

REG = SpecRegistry.bundled()


def test_every_bundled_spec_has_an_expiry_rule() -> None:
    assert [i for i, s in REG.items() if not s.contract.expiry_rule] == []
    physical = [i for i, s in REG.items() if s.contract.first_notice_rule]
    assert all(REG[i].contract.delivery == "physical" for i in physical)
    assert REG["SP500"].contract.delivery == "cash"
    assert REG["rb"].contract.delivery == "physical"


@pytest.mark.parametrize(
    ("contract", "last_trade", "first_notice"),
    [
        ("SP500/202403", dt.date(2024, 3, 15), None),  # third Friday, cash settled
        ("rb/202405", dt.date(2024, 5, 15), dt.date(2024, 5, 6)),  # after May Day
        ("GOLD/202406", dt.date(2024, 6, 26), dt.date(2024, 5, 31)),
        ("CORN/202407", dt.date(2024, 7, 12), dt.date(2024, 6, 28)),
    ],
)
def test_contract_dates_from_rules(
    contract: str, last_trade: dt.date, first_notice: dt.date | None
) -> None:
    iid = InstrumentId(contract.split("/", maxsplit=1)[0])
    book = ContractCalendar({iid: REG[iid].contract}, {iid: calendar_for(REG[iid])})
    dates = book.dates(ContractId(contract))
    assert dates is not None
    assert (dates.last_trade, dates.first_notice) == (last_trade, first_notice)


def test_contract_calendar_counts_trading_days() -> None:
    iid = InstrumentId("SP500")
    book = ContractCalendar({iid: REG[iid].contract}, {iid: calendar_for(REG[iid])})
    cid = ContractId("SP500/202403")
    assert book.trading_days_between(cid, dt.date(2024, 3, 8), dt.date(2024, 3, 15)) == 5
    assert book.trading_days_between(cid, dt.date(2024, 3, 15), dt.date(2024, 3, 8)) == -5
    when = dt.datetime(2024, 3, 7, 23, 30, tzinfo=dt.UTC)  # 17:30 Chicago: 8 March's day
    assert book.trading_day(cid, when) == dt.date(2024, 3, 8)
