"""Invariant (issue 20, slippage a trader reads): a session's slippage is money in each
contract's currency and in the base currency at its rate, worse (a cost) positive; ticks
are kept per instrument and never added across instruments with different tick values;
an order with no reference price, or a reference of zero, is counted apart, never
measured against zero."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from bastion.backtest.slippage import measure_slippage
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId
from bastion.domain.orders import BrokerOrder, CostRecord
from bastion.marketdata.specs import SpecRegistry

SPECS = {i: SpecRegistry.bundled()[InstrumentId(i)].contract for i in ("SP500", "rb")}
AT = dt.datetime(2024, 2, 1, 15, tzinfo=dt.UTC)


def _filled(n: int, cid: str, side: Side, lots: int, *, avg: int, ref: int | None) -> BrokerOrder:
    return BrokerOrder(
        client_order_id=ClientOrderId(f"c{n}"),
        contract_id=ContractId(cid),
        side=side,
        quantity=lots,
        order_type=OrderType.MARKET,
        created=AT,
        filled=lots,
        filled_value_ticks=avg * lots,
        costs=CostRecord(reference_ticks=ref),
    )


def _at_rate(amounts: Mapping[str, Decimal]) -> Decimal | None:
    rates = {"USD": Decimal(1), "CNY": Decimal("0.1385")}
    return sum((a * rates[c] for c, a in amounts.items()), Decimal(0))


def test_slippage_money_per_currency_ticks_per_instrument_cost_positive() -> None:
    orders = [
        # SP500 buy 2 one tick above the reference: a cost of 2 ticks x 12.50 USD.
        _filled(1, "SP500/202403", Side.BUY, 2, avg=20001, ref=20000),
        # rb sell 4 five ticks above the reference: a gain of 20 ticks x 10 CNY.
        _filled(2, "rb/202405", Side.SELL, 4, avg=3805, ref=3800),
        # A flatten that carried no reference (zero) and one with none at all.
        _filled(3, "SP500/202403", Side.SELL, 3, avg=20100, ref=0),
        _filled(4, "rb/202405", Side.BUY, 1, avg=3810, ref=None),
    ]
    slip = measure_slippage(orders, SPECS, _at_rate)
    assert slip.by_currency == {"CNY": Decimal(-200), "USD": Decimal(25)}
    assert slip.base == Decimal(25) - Decimal(200) * Decimal("0.1385")  # -2.70: a gain
    sp, rb = slip.by_instrument["SP500"], slip.by_instrument["rb"]
    assert (sp.ticks, sp.lots, sp.ticks_per_lot) == (2, 2, 1.0)
    assert (rb.ticks, rb.lots, rb.ticks_per_lot) == (-20, 4, -5.0)
    assert slip.unreferenced_lots == 4


def test_slippage_no_rate_base_total_unknown_currencies_kept() -> None:
    orders = [_filled(1, "rb/202405", Side.BUY, 1, avg=3801, ref=3800)]
    slip = measure_slippage(orders, SPECS, lambda _amounts: None)
    assert slip.base is None
    assert slip.by_currency == {"CNY": Decimal(10)}
