"""``bastion report trades``: every filled order with its cost analysis (TCA).

Per order: average fill price and the reference, mid and touch prices at generation
(price units), the slippage against each in ticks per lot (worse positive) and against
the reference in money, and the delays generated -> submitted -> filled. An order that
carried no reference price shows "no reference" and is left out of every slippage
average; an order without a quote shows "no quote". Charts: slippage of each fill at
its timestamp (markers, not a line) and the delay from generation to fill.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import InstrumentId
from bastion.domain.records import JournalRecord
from bastion.reports.charts import points_in_time
from bastion.reports.html import Chart
from bastion.reports.ledger import fill_facts
from bastion.reports.money import NO_QUOTE, NO_REFERENCE, format_amount, format_price
from bastion.reports.report import Report
from bastion.reports.tables import TableData, grid
from bastion.reports.trades import OrderRow, order_rows

__all__ = ["order_table", "summary_table", "trades_report"]


def _per_lot(value: Fraction | None, missing: str) -> str:
    return missing if value is None else f"{float(value) + 0.0:+.2f}"


def _ms(a: dt.datetime | None, b: dt.datetime | None) -> str:
    return "-" if a is None or b is None else f"{(b - a).total_seconds() * 1000:,.0f}"


def order_table(rows: Sequence[OrderRow]) -> TableData:
    cells = []
    for r in rows:
        money = r.slippage_money(r.reference_ticks)
        cells.append(
            (
                r.filled_at.strftime("%Y-%m-%d %H:%M:%S") if r.filled_at else "-",
                r.client_order_id,
                r.contract,
                r.side,
                f"{r.filled}",
                format_price(r.average_ticks, r.spec),
                format_price(r.reference_ticks, r.spec)
                if r.reference_ticks is not None
                else NO_REFERENCE,
                _per_lot(r.slippage(r.reference_ticks), NO_REFERENCE),
                NO_REFERENCE
                if money is None
                else f"{format_amount(money, signed=True)} {r.currency}",
                _per_lot(r.slippage(r.mid_ticks), NO_QUOTE),
                _per_lot(r.slippage(r.side_ticks), NO_QUOTE),
                _ms(r.generated, r.submitted),
                _ms(r.submitted, r.filled_at),
            )
        )
    return grid(
        "Filled orders",
        (
            "filled (UTC)",
            "order",
            "contract",
            "side",
            "lots",
            "average price",
            "reference price",
            "vs reference",
            "slippage",
            "vs mid",
            "vs touch",
            "gen->sub ms",
            "sub->fill ms",
        ),
        cells,
        numeric=(False, False, False, False, *[True] * 9),
        note="vs reference / mid / touch: slippage in ticks per lot, worse positive (a buy"
        " above, a sell below); slippage: the same against the reference, in money."
        f" '{NO_REFERENCE}': the order carried no reference price.",
    )


def summary_table(rows: Sequence[OrderRow]) -> TableData:
    """Per currency: orders, lots, average slippage against each price, money lost."""
    by_currency: dict[str, list[OrderRow]] = {}
    for r in rows:
        by_currency.setdefault(r.currency or "(no spec)", []).append(r)
    cells = []
    for currency, group in sorted(by_currency.items()):
        referenced = [r for r in group if r.reference_ticks is not None]

        def average(against: str, items: list[OrderRow]) -> str:
            pairs = [
                (r.slippage(getattr(r, against)), r.filled)
                for r in items
                if getattr(r, against) is not None
            ]
            lots = sum(q for s, q in pairs if s is not None)
            if not lots:
                return NO_REFERENCE if against == "reference_ticks" else NO_QUOTE
            total = sum((s * q for s, q in pairs if s is not None), Fraction(0))
            return f"{float(total / lots) + 0.0:+.2f}"

        money = sum(
            (r.slippage_money(r.reference_ticks) or Decimal(0) for r in referenced), Decimal(0)
        )
        cells.append(
            (
                currency,
                f"{len(group)}",
                f"{sum(r.filled for r in group):,}",
                average("reference_ticks", group),
                format_amount(money, signed=True) if referenced else NO_REFERENCE,
                average("mid_ticks", group),
                average("side_ticks", group),
                f"{len(group) - len(referenced)}",
            )
        )
    return grid(
        "Cost analysis by currency",
        (
            "currency",
            "orders",
            "lots",
            "vs reference",
            "slippage",
            "vs mid",
            "vs touch",
            NO_REFERENCE,
        ),
        cells,
        note="Averages are ticks per lot, weighted by lots, over the orders that carried the"
        f" price compared against; '{NO_REFERENCE}' counts the orders left out.",
    )


def _charts(
    records: Sequence[JournalRecord], specs: Mapping[InstrumentId, ContractSpec]
) -> list[Chart]:
    facts = fill_facts(records)
    slipped = [(f, f.slippage_ticks()) for f in facts]
    known = [(f, s) for f, s in slipped if s is not None]
    charts = []
    if known:
        charts.append(
            Chart(
                "Slippage of each fill against its order's reference",
                points_in_time(
                    [f.fill.timestamp for f, _ in known],
                    [s / f.fill.quantity for f, s in known],
                    [
                        f"{f.fill.side} {f.fill.quantity} {f.fill.contract_id} at"
                        f" {format_price(f.fill.price_ticks, specs.get(f.instrument))}"
                        for f, _ in known
                    ],
                    name="slippage",
                    y_title="ticks per lot (worse positive)",
                ),
                note=f"{len(slipped) - len(known)} fill(s) with {NO_REFERENCE} are not drawn.",
            )
        )
    delayed = [
        f
        for f in facts
        if f.order is not None and (f.order.reference_time or f.order.timestamp) is not None
    ]
    if delayed:
        charts.append(
            Chart(
                "Delay from generation to fill",
                points_in_time(
                    [f.fill.timestamp for f in delayed],
                    [
                        (f.fill.timestamp - (f.order.reference_time or f.order.timestamp))  # type: ignore[union-attr]
                        .total_seconds()
                        for f in delayed
                    ],
                    [f"{f.fill.client_order_id} {f.fill.contract_id}" for f in delayed],
                    name="delay",
                    y_title="seconds",
                ),
            )
        )
    return charts


def trades_report(
    records: Sequence[JournalRecord], specs: Mapping[InstrumentId, ContractSpec], profile: str
) -> Report:
    rows = order_rows(fill_facts(records), specs)
    lots = sum(r.filled for r in rows)
    unreferenced = sum(1 for r in rows if r.reference_ticks is None)
    notes = [f"{len(rows)} filled order(s), {lots} lot(s)"]
    if unreferenced:
        notes.append(
            f"{unreferenced} order(s) carried no reference price: {NO_REFERENCE},"
            " left out of the slippage figures"
        )
    return Report(
        "trades",
        f"Bastion trades report: {profile}",
        [summary_table(rows), order_table(rows)],
        _charts(records, specs),
        notes,
    )
