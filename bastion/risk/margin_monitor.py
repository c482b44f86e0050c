"""The margin utilisation monitor (R6.6) and close-before-open sequencing (R6.3).

Margin and equity are in the account's base currency (each contract's margin at its
currency's rate). Above the high mark (90 % of equity by default), ``plan_margin_reduction`` chooses
risk-reducing orders that bring the margin in use down to the low mark (70 %): the
contracts with the most margin per lot first, each only as far as needed, never past
flat. The order stack turns each ``ReduceIntent`` into an order with
``reduces_position=True``, which the risk engine lets through in REDUCE_ONLY too.

Sequencing: when margin is tight, an opening order that needs the margin a close will
free must wait until the close is confirmed. The pre-trade margin check enforces that
on its own: it counts a working close at its worst case (not yet filled), so the open
is refused until the close fills. ``split_closes_first`` and ``closes_confirmed`` give
the order stack the plan: send the closes, wait for them, then send the opens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from bastion.domain.book import Book
from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import Side
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId
from bastion.domain.market import MarketView
from bastion.risk.port import OrderRequest

__all__ = ["ReduceIntent", "closes_confirmed", "plan_margin_reduction", "split_closes_first"]


@dataclass(frozen=True, slots=True)
class ReduceIntent:
    contract_id: ContractId
    side: Side
    quantity: int
    reason: str


def plan_margin_reduction(  # noqa: PLR0917 - the figures the plan is made of
    positions: Mapping[tuple[InstrumentId, ContractId], int],
    specs: Mapping[InstrumentId, ContractSpec],
    market: MarketView,
    equity: Decimal,
    used: Decimal,
    low_mark: Decimal,
    max_order_lots: int,
    rate_of: Callable[[InstrumentId], Decimal | None],
) -> list[ReduceIntent]:
    """Orders that bring ``used`` margin down to ``low_mark`` of ``equity``, in clips of
    at most ``max_order_lots`` (the order-size check applies to reducing orders too).
    ``rate_of`` gives an instrument's rate to the base currency (``None``: unknown, the
    contract is left out). It reads positions, specs, the market and rates only: no
    engine, no import cycle."""
    excess = used - equity * low_mark
    candidates: list[tuple[Decimal, ContractId, int]] = []
    for (instrument, cid), lots in positions.items():
        spec = specs.get(instrument)
        quote = market.quote(cid)
        mark = None if quote is None else quote.reference_ticks
        rate = rate_of(instrument)
        if spec is None or mark is None or rate is None or lots == 0:
            continue
        candidates.append((spec.margin(mark, 1) * rate, cid, lots))
    candidates.sort(key=lambda c: (-c[0], c[1]))
    intents = []
    for per_lot, cid, lots in candidates:
        if excess <= 0:
            break
        if per_lot <= 0:
            continue
        needed = int((excess / per_lot).to_integral_value(rounding=ROUND_CEILING))
        quantity = min(abs(lots), needed)
        excess -= per_lot * quantity
        reason = (
            f"margin utilisation {used / equity:.1%} above the high mark;"
            f" reduce {cid} by {quantity} lots"
        )
        while quantity > 0:
            clip = min(quantity, max_order_lots)
            intents.append(ReduceIntent(cid, Side.SELL if lots > 0 else Side.BUY, clip, reason))
            quantity -= clip
    return intents


def split_closes_first(
    requests: Iterable[OrderRequest],
) -> tuple[list[OrderRequest], list[OrderRequest]]:
    """(closes and reductions, opens), each in the given order."""
    closes: list[OrderRequest] = []
    opens: list[OrderRequest] = []
    for request in requests:
        (closes if request.reduces_position else opens).append(request)
    return closes, opens


def closes_confirmed(book: Book, client_order_ids: Sequence[ClientOrderId]) -> bool:
    """True when every close was confirmed: filled, or otherwise finished at the venue
    (a close that was canceled or rejected frees nothing, but waiting longer won't either;
    the margin check then decides whether the opens may go)."""
    for coid in client_order_ids:
        order = book.broker_order(coid)
        if order is None or not order.is_terminal:
            return False
    return True
