"""Invariant: the reports' ledger is exact and honest: realised + unrealised equals the
cash-flow P&L for any sequence of fills; average cost; commissions in the contract's
currency; slippage only against a reference the order carried (zero or none is "no
reference")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import OrderType, Side
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, InstrumentId
from bastion.domain.records import BrokerOrderCreated
from bastion.reports.ledger import ContractLedger, FillFact, Ledger

ES = ContractSpec(InstrumentId("SP500"), "CME", "USD", Decimal("0.25"), Decimal(50))
RB = ContractSpec(InstrumentId("rb"), "SHFE", "CNY", Decimal(1), Decimal(10))
SPECS = {ES.instrument_id: ES, RB.instrument_id: RB}
T0 = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)


def fact(
    contract: str,
    side: Side,
    lots: int,
    ticks: int,
    *,
    n: int = 0,
    reference: int | None = None,
    commission: str = "2",
) -> FillFact:
    coid = ClientOrderId(f"C{n}")
    order = BrokerOrderCreated(
        timestamp=T0,
        client_order_id=coid,
        contract_id=ContractId(contract),
        side=side,
        quantity=lots,
        order_type=OrderType.MARKET,
        reference_ticks=reference,
    )
    fill = Fill(
        exec_id=ExecId(f"E{n}"),
        client_order_id=coid,
        contract_id=ContractId(contract),
        side=side,
        quantity=lots,
        price_ticks=ticks,
        timestamp=T0 + dt.timedelta(minutes=n),
        commission=Decimal(commission),
    )
    return FillFact(fill, order)


@given(
    st.lists(
        st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 9), st.integers(1, 500)),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 500),
)
def test_ledger_realised_plus_unrealised_equals_cash_flow(
    fills: list[tuple[Side, int, int]], mark: int
) -> None:
    book = ContractLedger(ContractId("SP500/202406"))
    for n, (side, lots, ticks) in enumerate(fills):
        book.apply(fact("SP500/202406", side, lots, ticks, n=n))
    unrealised = book.unrealised_ticks(mark)
    assert unrealised is not None
    assert book.realised_ticks + unrealised == book.cash_ticks + book.position * mark
    if book.position == 0:
        assert book.open_cost == 0


def test_ledger_average_cost_realised_on_reduce_and_flip() -> None:
    book = ContractLedger(ContractId("SP500/202406"))
    book.apply(fact("SP500/202406", Side.BUY, 2, 100, n=1))
    book.apply(fact("SP500/202406", Side.BUY, 2, 110, n=2))
    assert book.average_entry == 105
    assert book.apply(fact("SP500/202406", Side.SELL, 1, 120, n=3)) == 15
    # Sell 5 from +3: closes 3 at average 105 (realises 3 x 15), opens -2 at 120.
    assert book.apply(fact("SP500/202406", Side.SELL, 5, 120, n=4)) == 45
    assert book.position == -2
    assert book.average_entry == 120
    assert book.unrealised_ticks(110) == 20


def test_ledger_summary_per_currency_commission_in_contract_currency() -> None:
    ledger = Ledger(SPECS)
    for f in (
        fact("SP500/202406", Side.BUY, 1, 20_000, n=1, reference=20_000, commission="2.10"),
        fact("SP500/202406", Side.SELL, 1, 20_004, n=2, reference=20_005, commission="2.10"),
        fact("rb/202410", Side.BUY, 2, 3_900, n=3, reference=3_899, commission="3"),
    ):
        ledger.apply(f)
    summary = ledger.summary(
        {ContractId("rb/202410"): (3_950, "close")}, base="USD", capital=Decimal(1000)
    )
    usd, cny = summary.currencies
    assert (usd.currency, cny.currency) == ("USD", "CNY")
    assert usd.realised == Decimal("50.00")  # 4 ticks x 12.50
    assert usd.commissions == Decimal("4.20")
    assert usd.slippage == Decimal("12.50")  # sold 1 tick below the reference
    assert cny.unrealised == Decimal("1000.00")  # 2 lots x 50 ticks x 10
    assert cny.slippage == Decimal("20.00")  # bought 1 tick above, 2 lots
    assert summary.total("net").text() == "no rate for CNY"
    converted = ledger.summary({}, base="USD", capital=Decimal(1000), rates={"CNY": Decimal("0.1")})
    assert converted.total("commissions").amount == Decimal("4.50")


def test_ledger_zero_or_missing_reference_is_no_reference() -> None:
    for reference in (None, 0):
        f = fact("SP500/202406", Side.BUY, 1, 21_688, reference=reference)
        assert f.reference_ticks is None
        assert f.slippage_ticks() is None
        book = ContractLedger(ContractId("SP500/202406"))
        book.apply(f)
        assert (book.slippage_ticks, book.unreferenced_lots, book.referenced_lots) == (0, 1, 0)


def test_ledger_contract_without_spec_named_not_counted() -> None:
    ledger = Ledger(SPECS)
    assert ledger.apply(fact("ZZ/202406", Side.BUY, 1, 10)) is None
    summary = ledger.summary({}, base="USD", capital=Decimal(1))
    assert summary.currencies == ()
    assert summary.notes == ("no contract spec for ZZ/202406: its fills are not in the P&L",)


def test_contract_pnl_unmarked_open_position_marked_at_last_fill() -> None:
    ledger = Ledger(SPECS)
    ledger.apply(fact("SP500/202406", Side.BUY, 1, 20_000, n=1))
    (row,) = ledger.contract_pnl({})
    assert (row.mark_ticks, row.mark_source, row.unrealised) == (20_000, "last fill", Decimal(0))
    assert row.average_entry_ticks == Fraction(20_000)
