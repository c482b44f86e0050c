"""Invariant: the engine's P&L (``PnlBook``, the bar runner's equity) keeps each
currency's money apart and sums it in the base currency only at the account's rates;
without a rate the total is unknown, never a one-for-one sum (issue 15: SP500 +56,500
USD and rb -1,550 CNY were reported as 54,950)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bastion.backtest.pnl import PnlBook
from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import Side
from bastion.domain.fills import Fill
from bastion.domain.fx import FxTable
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, InstrumentId

SP500 = ContractSpec(InstrumentId("SP500"), "CME", "USD", Decimal("0.25"), Decimal(50))
RB = ContractSpec(InstrumentId("rb"), "SHFE", "CNY", Decimal(1), Decimal(10))
SPECS = {SP500.instrument_id: SP500, RB.instrument_id: RB}
T = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def _fill(cid: str, side: Side, lots: int, ticks: int, n: int) -> Fill:
    return Fill(
        exec_id=ExecId(f"E{n}"),
        client_order_id=ClientOrderId(f"C{n}"),
        contract_id=ContractId(cid),
        side=side,
        quantity=lots,
        price_ticks=ticks,
        timestamp=T,
        commission=Decimal(0),
    )


def _book(fx: FxTable | None) -> PnlBook:
    book = PnlBook(SPECS, fx)
    # SP500: buy 2 at 5000.00, marked at 5565.00: +56,500 USD.
    book.on_fill(_fill("SP500/202406", Side.BUY, 2, 20000, 1))
    book.mark(ContractId("SP500/202406"), 22260)
    # rb: buy 5 at 3850, marked at 3819: -1,550 CNY.
    book.on_fill(_fill("rb/202410", Side.BUY, 5, 3850, 2))
    book.mark(ContractId("rb/202410"), 3819)
    return book


def test_pnl_currencies_apart_and_base_total_at_rate() -> None:
    book = _book(FxTable.fixed("USD", {"CNY": Decimal("0.1385")}))
    assert book.gross_by_currency() == {"USD": Decimal("56500.00"), "CNY": Decimal(-1550)}
    assert book.gross() == Decimal("56500.00") + Decimal(-1550) * Decimal("0.1385")
    assert book.gross() == Decimal("56285.3250")
    assert book.gross() != Decimal(54950)


def test_pnl_no_rate_total_unknown_names_currency() -> None:
    book = _book(FxTable.identity("USD"))
    assert book.gross() is None
    assert book.net() is None
    assert book.missing_rates() == ["CNY"]
