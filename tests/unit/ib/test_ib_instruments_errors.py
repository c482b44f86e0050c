"""Invariant: a contract is traded at IB only when IB names exactly one and its
multiplier, minimum tick, currency and month match the spec; otherwise the reason says
what differs (every candidate listed when ambiguous). Every IB code Bastion knows has one
reading and an action; an order rejection's reason comes from its code, or for 201 from
its text, and is unknown otherwise; the managed accounts must fit the profile."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ib_async import Contract, ContractDetails

from bastion.domain.reasons import Reason
from bastion.testing.venue_stubs import CONTRACT, stub_spec
from bastion.venues.ib.connection import account_problem
from bastion.venues.ib.errors import KNOWN_CODES, ErrorKind, reject_reason
from bastion.venues.ib.instruments import ContractBook, Qualified, check_details


def _details(con_id: int = 7, multiplier: str = "50", tick: float = 0.25) -> ContractDetails:
    contract = Contract(
        secType="FUT", conId=con_id, symbol="ES", lastTradeDateOrContractMonth="20260619",
        exchange="SIM", currency="USD", multiplier=multiplier, tradingClass="ES",
    )  # fmt: skip
    return ContractDetails(contract=contract, minTick=tick)


def test_check_details_one_matching_contract_is_qualified() -> None:
    result = check_details(CONTRACT, stub_spec(), [_details()])
    assert isinstance(result, Qualified)
    assert (result.con_id, result.last_trade) == (7, "20260619")


def test_check_details_none_ambiguous_or_mismatch_refused_with_reason() -> None:
    spec = stub_spec()
    assert "no such contract" in str(check_details(CONTRACT, spec, []))
    ambiguous = str(check_details(CONTRACT, spec, [_details(1), _details(2, "5")]))
    assert "2 candidates" in ambiguous
    assert "conId 1" in ambiguous
    assert "conId 2 ES 20260619 SIM x5" in ambiguous
    mismatch = str(check_details(CONTRACT, spec, [_details(multiplier="5", tick=0.5)]))
    assert "multiplier 5 (spec 50)" in mismatch
    assert "minimum tick 0.5 (spec 0.25)" in mismatch


def test_contract_book_problem_until_qualified_and_ticks_rounding() -> None:
    book = ContractBook({CONTRACT: stub_spec()})
    assert "not qualified at IB yet" in (book.problem(CONTRACT) or "")
    assert "not in this profile" in (book.problem("NOPE/202612") or "")  # type: ignore[arg-type]
    result = check_details(CONTRACT, stub_spec(), [_details()])
    assert isinstance(result, Qualified)
    book.record(CONTRACT, result)
    assert book.problem(CONTRACT) is None
    assert book.ticks(CONTRACT, 4000.25) == 16001
    assert book.ticks(CONTRACT, 4000.3) == 16001  # off the tick: nearest, and logged
    query = book.query(CONTRACT)
    assert (query.symbol, query.lastTradeDateOrContractMonth, query.exchange) == (
        "ES",
        "202606",
        "SIM",
    )


def test_known_codes_each_have_a_kind_and_an_action() -> None:
    assert all(row.action and row.meaning for row in KNOWN_CODES.values())
    assert KNOWN_CODES[326].kind is ErrorKind.CLIENT_ID_IN_USE
    assert KNOWN_CODES[1100].kind is ErrorKind.CONNECTIVITY_LOST
    assert KNOWN_CODES[1101].kind is ErrorKind.RESTORED_DATA_LOST
    assert KNOWN_CODES[1102].kind is ErrorKind.RESTORED_DATA_KEPT
    assert KNOWN_CODES[10167].kind is ErrorKind.MARKET_DATA_DELAYED
    assert KNOWN_CODES[354].kind is ErrorKind.MARKET_DATA_UNAVAILABLE


@pytest.mark.parametrize(
    ("code", "text", "reason"),
    [
        (201, "reason:YOUR ORDER IS NOT ACCEPTED ... INITIAL MARGIN", Reason.INSUFFICIENT_MARGIN),
        (201, "reason:price is outside the daily price limits", Reason.PRICE_OUTSIDE_BAND),
        (201, "Order rejected - reason:something new", Reason.UNKNOWN),
        (111, "The TIF (Tif type) and the order type are incompatible.", Reason.INVALID_ORDER),
        (103, "Duplicate order id", Reason.DUPLICATE),
        (163, "price exceeds the Percentage constraint", Reason.PRICE_OUTSIDE_BAND),
    ],
)  # fmt: skip
def test_reject_reason_from_code_or_text(code: int, text: str, reason: Reason) -> None:
    assert reject_reason(code, text) is reason


def test_account_problem_environment_and_account() -> None:
    assert account_problem(["DU1234567"], "DU1234567", paper=True) is None
    live = account_problem(["U7654321"], "DU1234567", paper=True) or ""
    assert "live account U7***321 to a paper profile" in live
    assert "paper account" in (account_problem(["DU1234567"], "DU1234567", paper=False) or "")
    assert "is not managed" in (account_problem(["DU1111111"], "DU1234567", paper=True) or "")
    assert account_problem([], "DU1234567", paper=True) == "IB reported no managed accounts"


def test_contract_spec_decimal_multiplier_compares_exactly() -> None:
    spec = stub_spec(multiplier="12500000", tick_size="0.0000005")
    details = _details(multiplier="12500000", tick=0.0000005)
    assert isinstance(check_details(CONTRACT, spec, [details]), Qualified)
    assert Decimal(repr(0.0000005)) == Decimal("5E-7")
