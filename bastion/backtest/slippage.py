"""Slippage of a session's filled orders against the reference price each carried.

Guarantees:
- the sign is stated once and kept everywhere: **worse is positive**, so a positive
  figure is a cost (a buy filled above its reference, a sell below);
- money is kept in each contract's own currency and summed in the base currency only
  at a usable rate (``None`` otherwise), never one for one;
- ticks are kept per instrument only: a tick of one instrument is not a tick of another
  (12.50 USD on SP500, 10 CNY on rb), so ticks are never added across instruments;
- an order with no reference price, or a reference of zero (what a flatten sends when
  it carries none, as in ``bastion.reports.ledger.reference_of``), is counted apart as
  "no reference", never measured against zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.ids import InstrumentId
from bastion.domain.orders import BrokerOrder

__all__ = ["InstrumentSlippage", "Slippage", "measure_slippage"]


@dataclass(frozen=True, slots=True)
class InstrumentSlippage:
    """One instrument's slippage: ticks worse in total over ``lots`` lots filled with a
    reference price, and its money in the instrument's currency."""

    ticks: int
    lots: int
    money: Decimal
    currency: str

    @property
    def ticks_per_lot(self) -> float:
        return self.ticks / self.lots if self.lots else 0.0


@dataclass(frozen=True, slots=True)
class Slippage:
    """A session's slippage (see the module docstring for the sign)."""

    by_instrument: dict[str, InstrumentSlippage] = field(default_factory=dict)
    by_currency: dict[str, Decimal] = field(default_factory=dict)
    base: Decimal | None = Decimal(0)
    """The total in the base currency; ``None`` when a currency in it has no usable rate."""
    unreferenced_lots: int = 0
    """Lots filled by orders that carried no reference price (not measured)."""


def measure_slippage(
    orders: Iterable[BrokerOrder],
    specs: Mapping[InstrumentId, ContractSpec],
    to_base: Callable[[Mapping[str, Decimal]], Decimal | None],
) -> Slippage:
    """The slippage of ``orders``; ``to_base`` sums ``{currency: amount}`` in the base
    currency or returns ``None`` without a usable rate (``PnlBook.to_base``)."""
    ticks: dict[InstrumentId, int] = {}
    lots: dict[InstrumentId, int] = {}
    unreferenced = 0
    for order in orders:
        if order.filled == 0:
            continue
        reference = order.costs.reference_ticks
        if reference is None or reference == 0:
            unreferenced += order.filled
            continue
        instrument = parse_contract_id(order.contract_id)[0]
        worse = (order.filled_value_ticks - reference * order.filled) * order.side.sign
        ticks[instrument] = ticks.get(instrument, 0) + worse
        lots[instrument] = lots.get(instrument, 0) + order.filled
    by_instrument: dict[str, InstrumentSlippage] = {}
    by_currency: dict[str, Decimal] = {}
    for instrument in sorted(ticks):
        spec = specs[instrument]
        money = spec.tick_value * ticks[instrument]
        by_instrument[str(instrument)] = InstrumentSlippage(
            ticks[instrument], lots[instrument], money, spec.currency
        )
        by_currency[spec.currency] = by_currency.get(spec.currency, Decimal(0)) + money
    base = to_base(by_currency)
    return Slippage(by_instrument, by_currency, base, unreferenced)
