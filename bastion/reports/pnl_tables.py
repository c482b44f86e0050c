"""The P&L tables every command shows the same way: per currency (with the equity and
the base-currency total) and per contract (position, average entry, mark, realised,
unrealised, commissions, slippage), prices in price units.

``pnl_tables(summary)`` is what the session, watch, pnl and daily summaries print; it
takes a ``PnlSummary`` (``bastion.reports.ledger``), which any of them can build from
their journal with ``Ledger``.
"""

from __future__ import annotations

from bastion.reports.ledger import PnlSummary
from bastion.reports.money import NO_REFERENCE, format_amount, format_money, format_price
from bastion.reports.tables import TableData, grid

__all__ = ["contract_table", "currency_table", "pnl_tables"]


def currency_table(summary: PnlSummary, *, title: str = "P&L and equity by currency") -> TableData:
    rows = [
        (
            c.currency,
            format_amount(c.realised, signed=True),
            format_amount(c.unrealised, signed=True) + (" (part unmarked)" if c.unmarked else ""),
            format_amount(c.commissions),
            format_amount(c.net, signed=True),
            format_amount(c.slippage, signed=True)
            + (f" ({c.unreferenced_lots} lot(s) {NO_REFERENCE})" if c.unreferenced_lots else ""),
        )
        for c in summary.currencies
    ]
    base = summary.base
    rows.append(
        (
            f"total in {base}",
            summary.total("realised").text(signed=True),
            summary.total("unrealised").text(signed=True),
            summary.total("commissions").text(),
            summary.total("net").text(signed=True),
            summary.total("slippage").text(signed=True),
        )
    )
    equity = summary.equity
    note = (
        f"Equity = capital {format_money(summary.capital, base)} + net P&L in {base}:"
        f" {equity.text()}."
        " Net = realised + unrealised - commission; slippage against the reference price"
        " (worse positive) is already inside realised and unrealised."
    )
    if not summary.currencies:
        note = f"No fills yet. Equity = capital {format_money(summary.capital, base)}."
    return grid(
        title,
        ("currency", "realised", "unrealised", "commission", "net P&L", "slippage"),
        rows,
        note=note,
    )


def contract_table(summary: PnlSummary) -> TableData:
    rows = [
        (
            str(c.contract),
            f"{c.position:+d}",
            format_price(c.average_entry_ticks, c.spec) if c.position else "-",
            format_price(c.mark_ticks, c.spec) if c.position else "-",
            c.mark_source if c.position else "flat",
            format_amount(c.realised, signed=True),
            "no mark" if c.unrealised is None else format_amount(c.unrealised, signed=True),
            format_amount(c.commissions),
            c.currency,
        )
        for c in summary.contracts
    ]
    return grid(
        "Positions and P&L by contract",
        (
            "contract",
            "position",
            "average entry",
            "mark price",
            "mark",
            "realised",
            "unrealised",
            "commission",
            "currency",
        ),
        rows,
        numeric=(False, True, True, True, False, True, True, True, False),
        note="Average-cost accounting; prices in price units.",
    )


def pnl_tables(summary: PnlSummary) -> list[TableData]:
    return [currency_table(summary), contract_table(summary)]
