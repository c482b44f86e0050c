"""P&L a trader expects, from the journal's fills: per contract and per currency,
realised and unrealised (average cost), commissions, and slippage against the
reference price where the order carried one.

Guarantees:

- Exact: positions and prices stay integers (ticks, lots); the average entry price is
  an exact fraction; money is ticks x the contract's tick value, in the contract's
  currency, rounded to the cent only when shown.
- realised + unrealised equals the cash-flow P&L (cash + position x mark) for every
  contract, whatever the order of fills (a property test checks it).
- Commissions are counted in the currency of the contract they were paid on.
- Slippage is counted only for fills whose order carried a reference price; the lots
  without one are counted apart and reported as "no reference". A reference of zero
  ticks is the graceful-flatten plan's "no price" marker
  (``bastion.gates.flatten``) and counts as no reference.
- Nothing here converts currencies: per-currency figures are summed into the base
  currency only with the caller's rates (``bastion.reports.money.to_base``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.fills import Fill
from bastion.domain.ids import ContractId, InstrumentId, OrderId
from bastion.domain.records import (
    BrokerOrderCreated,
    BrokerOrderSubmitted,
    ContractOrderCreated,
    FillRecorded,
    JournalRecord,
)
from bastion.reports.money import BaseTotal, to_base, to_decimal_money

__all__ = [
    "ContractLedger",
    "ContractPnl",
    "CurrencyPnl",
    "FillFact",
    "Ledger",
    "PnlSummary",
    "fill_facts",
    "reference_of",
]


def reference_of(order: BrokerOrderCreated | None) -> int | None:
    """The order's reference price in ticks, or None when it carried none (or zero)."""
    if order is None or order.reference_ticks is None or order.reference_ticks == 0:
        return None
    return order.reference_ticks


@dataclass(frozen=True, slots=True)
class FillFact:
    """One fill with what the journal says about its order."""

    fill: Fill
    order: BrokerOrderCreated | None
    submitted: dt.datetime | None = None
    roll: bool = False

    @property
    def instrument(self) -> InstrumentId:
        return parse_contract_id(self.fill.contract_id)[0]

    @property
    def reference_ticks(self) -> int | None:
        return reference_of(self.order)

    def slippage_ticks(self) -> int | None:
        """Ticks over all lots of this fill against the reference; worse is positive."""
        ref = self.reference_ticks
        if ref is None:
            return None
        return (self.fill.price_ticks - ref) * self.fill.side.sign * self.fill.quantity


def fill_facts(records: Iterable[JournalRecord]) -> list[FillFact]:
    """Every fill in journal order, with its broker order, submit time and roll flag."""
    orders: dict[str, BrokerOrderCreated] = {}
    submitted: dict[str, dt.datetime] = {}
    rolls: set[OrderId] = set()
    facts: list[FillFact] = []
    for record in records:
        if isinstance(record, BrokerOrderCreated):
            orders[record.client_order_id] = record
        elif isinstance(record, BrokerOrderSubmitted):
            submitted.setdefault(record.client_order_id, record.timestamp)
        elif isinstance(record, ContractOrderCreated) and record.roll:
            rolls.add(record.order_id)
        elif isinstance(record, FillRecorded):
            coid = record.fill.client_order_id
            order = orders.get(coid)
            facts.append(
                FillFact(
                    fill=record.fill,
                    order=order,
                    submitted=submitted.get(coid),
                    roll=order is not None and order.parent_id in rolls,
                )
            )
    return facts


@dataclass(slots=True)
class ContractLedger:
    """One contract's position at average cost, in ticks and lots."""

    contract: ContractId
    position: int = 0
    open_cost: Fraction = Fraction(0)
    """Sum of signed lots x price (ticks) of the open position."""
    cash_ticks: int = 0
    realised_ticks: Fraction = Fraction(0)
    commissions: Decimal = Decimal(0)
    slippage_ticks: int = 0
    referenced_lots: int = 0
    unreferenced_lots: int = 0
    traded_lots: int = 0
    fills: int = 0
    last_fill_ticks: int | None = None
    last_fill_at: dt.datetime | None = None

    def apply(self, fact: FillFact) -> Fraction:
        """Book one fill; returns the P&L (ticks x lots) it realised."""
        fill = fact.fill
        q, price = fill.signed_quantity, fill.price_ticks
        self.cash_ticks -= q * price
        self.commissions += fill.commission
        self.traded_lots += fill.quantity
        self.fills += 1
        self.last_fill_ticks, self.last_fill_at = price, fill.timestamp
        slip = fact.slippage_ticks()
        if slip is None:
            self.unreferenced_lots += fill.quantity
        else:
            self.slippage_ticks += slip
            self.referenced_lots += fill.quantity
        realised = Fraction(0)
        if self.position * q < 0:
            sign = 1 if self.position > 0 else -1
            closed = min(abs(q), abs(self.position))
            average = self.open_cost / self.position
            realised = closed * (price - average) * sign
            self.open_cost -= average * closed * sign
            self.position -= closed * sign
            q += closed * sign  # what is left opens the other way
        if q:
            self.open_cost += q * price
            self.position += q
        if self.position == 0:
            self.open_cost = Fraction(0)
        self.realised_ticks += realised
        return realised

    @property
    def average_entry(self) -> Fraction | None:
        return self.open_cost / self.position if self.position else None

    def unrealised_ticks(self, mark: int | None) -> Fraction | None:
        if self.position == 0:
            return Fraction(0)
        if mark is None:
            return None
        return self.position * mark - self.open_cost


@dataclass(frozen=True, slots=True)
class ContractPnl:
    contract: ContractId
    instrument: InstrumentId
    currency: str
    spec: ContractSpec
    position: int
    average_entry_ticks: Fraction | None
    mark_ticks: int | None
    mark_source: str
    realised: Decimal
    unrealised: Decimal | None
    """None when a position is open and there is no mark for it."""
    commissions: Decimal
    slippage: Decimal
    """Money lost to slippage against the reference (worse positive)."""
    referenced_lots: int
    unreferenced_lots: int
    traded_lots: int
    fills: int

    @property
    def net(self) -> Decimal | None:
        if self.unrealised is None:
            return None
        return self.realised + self.unrealised - self.commissions


@dataclass(frozen=True, slots=True)
class CurrencyPnl:
    currency: str
    realised: Decimal
    unrealised: Decimal
    commissions: Decimal
    slippage: Decimal
    referenced_lots: int
    unreferenced_lots: int
    unmarked: tuple[str, ...] = ()
    """Contracts with a position and no mark: their unrealised P&L is not in the sum."""

    @property
    def gross(self) -> Decimal:
        return self.realised + self.unrealised

    @property
    def net(self) -> Decimal:
        return self.realised + self.unrealised - self.commissions


@dataclass(frozen=True, slots=True)
class PnlSummary:
    """Per contract and per currency, with base-currency totals where rates allow."""

    base: str
    capital: Decimal
    contracts: tuple[ContractPnl, ...]
    currencies: tuple[CurrencyPnl, ...]
    rates: Mapping[str, Decimal] | None = None
    notes: tuple[str, ...] = ()

    def total(self, name: str) -> BaseTotal:
        """``realised``, ``unrealised``, ``commissions``, ``slippage``, ``gross`` or
        ``net`` summed in the base currency (or the missing rates)."""
        return to_base(
            ((c.currency, getattr(c, name)) for c in self.currencies), self.base, self.rates
        )

    @property
    def equity(self) -> BaseTotal:
        """Capital plus net P&L, in the base currency."""
        net = self.total("net")
        if net.amount is None:
            return net
        return BaseTotal(self.base, self.capital + net.amount)


@dataclass(slots=True)
class Ledger:
    """Every contract's ledger, fed fill by fill."""

    specs: Mapping[InstrumentId, ContractSpec]
    contracts: dict[ContractId, ContractLedger] = field(default_factory=dict)
    unknown: set[ContractId] = field(default_factory=set)

    def apply(self, fact: FillFact) -> Fraction | None:
        """Book a fill; the realised ticks, or None for a contract without a spec."""
        cid = fact.fill.contract_id
        if fact.instrument not in self.specs:
            self.unknown.add(cid)
            return None
        book = self.contracts.get(cid)
        if book is None:
            book = self.contracts[cid] = ContractLedger(cid)
        return book.apply(fact)

    def spec(self, contract: ContractId) -> ContractSpec:
        return self.specs[parse_contract_id(contract)[0]]

    def open_positions(self) -> dict[ContractId, int]:
        return {c: b.position for c, b in sorted(self.contracts.items()) if b.position}

    def contract_pnl(self, marks: Mapping[ContractId, tuple[int, str]]) -> list[ContractPnl]:
        """Per contract; ``marks`` maps a contract to (price ticks, where it came from).
        A contract without a mark is marked at its last fill, and says so."""
        out: list[ContractPnl] = []
        for cid, book in sorted(self.contracts.items()):
            spec = self.spec(cid)
            mark, source = marks.get(cid, (book.last_fill_ticks, "last fill"))
            unrealised = book.unrealised_ticks(mark)
            value = spec.tick_value
            out.append(
                ContractPnl(
                    contract=cid,
                    instrument=spec.instrument_id,
                    currency=spec.currency,
                    spec=spec,
                    position=book.position,
                    average_entry_ticks=book.average_entry,
                    mark_ticks=mark,
                    mark_source=source,
                    realised=to_decimal_money(book.realised_ticks * _fraction(value)),
                    unrealised=None
                    if unrealised is None
                    else to_decimal_money(unrealised * _fraction(value)),
                    commissions=book.commissions,
                    slippage=to_decimal_money(book.slippage_ticks * value),
                    referenced_lots=book.referenced_lots,
                    unreferenced_lots=book.unreferenced_lots,
                    traded_lots=book.traded_lots,
                    fills=book.fills,
                )
            )
        return out

    def summary(
        self,
        marks: Mapping[ContractId, tuple[int, str]],
        *,
        base: str,
        capital: Decimal,
        rates: Mapping[str, Decimal] | None = None,
    ) -> PnlSummary:
        contracts = self.contract_pnl(marks)
        by_currency: dict[str, list[ContractPnl]] = {}
        for row in contracts:
            by_currency.setdefault(row.currency, []).append(row)
        currencies = tuple(
            CurrencyPnl(
                currency=cur,
                realised=sum((r.realised for r in rows), Decimal(0)),
                unrealised=sum((r.unrealised or Decimal(0) for r in rows), Decimal(0)),
                commissions=sum((r.commissions for r in rows), Decimal(0)),
                slippage=sum((r.slippage for r in rows), Decimal(0)),
                referenced_lots=sum(r.referenced_lots for r in rows),
                unreferenced_lots=sum(r.unreferenced_lots for r in rows),
                unmarked=tuple(str(r.contract) for r in rows if r.unrealised is None),
            )
            for cur, rows in sorted(by_currency.items(), key=lambda kv: (kv[0] != base, kv[0]))
        )
        notes = tuple(
            f"no contract spec for {c}: its fills are not in the P&L" for c in sorted(self.unknown)
        )
        return PnlSummary(base, capital, tuple(contracts), currencies, rates, notes)

    def net_by_currency(self, marks: Mapping[ContractId, int]) -> dict[str, Decimal]:
        """Net P&L per currency with every position marked (unmarked: at its last fill)."""
        out: dict[str, Decimal] = {}
        for cid, book in self.contracts.items():
            spec = self.spec(cid)
            mark = marks.get(cid, book.last_fill_ticks)
            ticks = book.cash_ticks + book.position * (mark or 0)
            out[spec.currency] = (
                out.get(spec.currency, Decimal(0)) + ticks * spec.tick_value - book.commissions
            )
        return out

    def gross_exposure(self, marks: Mapping[ContractId, int]) -> dict[str, Decimal]:
        """Sum of |position| x price x multiplier per currency (notional held)."""
        out: dict[str, Decimal] = {}
        for cid, book in self.contracts.items():
            if not book.position:
                continue
            spec = self.spec(cid)
            mark = marks.get(cid, book.last_fill_ticks) or 0
            out[spec.currency] = (
                out.get(spec.currency, Decimal(0)) + abs(book.position * mark) * spec.tick_value
            )
        return out


def _fraction(value: Decimal) -> Fraction:
    return Fraction(value)
