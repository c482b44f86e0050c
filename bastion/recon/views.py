"""Gathering the three views: from the book, the targets, and the venue's queries.

``FillIndex`` keeps the fills Bastion has applied, fed incrementally from the journal
(``update`` takes only entries after the last one it saw, so a periodic check never
rescans history). ``take_views`` asks the venue for positions and fills; a query that
fails leaves that view ``None`` (unknown), never empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bastion.domain.book import Book
from bastion.domain.ids import ContractId, ExecId, InstrumentId, StrategyId
from bastion.domain.records import (
    BrokerOrderCreated,
    FillRecorded,
    ForeignFillRecorded,
    JournalRecord,
)
from bastion.domain.targets import Target
from bastion.recon.breaks import FillFact, Views
from bastion.venues.port import VenueQueries

__all__ = ["BALANCE_VENUE", "FillIndex", "take_views", "target_ranges"]

BALANCE_VENUE = "balance"
"""The ``venue`` of broker orders that record trades made outside Bastion (R4.6)."""


@dataclass(slots=True)
class FillIndex:
    """Bastion's fills by execution id, split into venue fills and adopted ones."""

    venue_fills: dict[ExecId, FillFact] = field(default_factory=dict)
    adopted: set[ExecId] = field(default_factory=set)
    _balance_orders: set[str] = field(default_factory=set)

    def add(self, record: JournalRecord) -> None:
        if isinstance(record, BrokerOrderCreated) and record.venue == BALANCE_VENUE:
            self._balance_orders.add(record.client_order_id)
        elif isinstance(record, FillRecorded):
            fill = record.fill
            if fill.client_order_id in self._balance_orders:
                self.adopted.add(fill.exec_id)
            else:
                self.venue_fills[fill.exec_id] = FillFact.of(fill)
        elif isinstance(record, ForeignFillRecorded):  # a venue fill, held as unattributed
            self.venue_fills[record.fill.exec_id] = FillFact.of(record.fill)

    def extend(self, records: Iterable[JournalRecord]) -> None:
        for record in records:
            self.add(record)


def target_ranges(
    targets: Iterable[Target],
) -> dict[tuple[StrategyId, InstrumentId], tuple[int, int]]:
    return {(t.strategy_id, t.instrument_id): (t.low, t.high) for t in targets}


def _working(book: Book) -> dict[tuple[StrategyId, InstrumentId], int]:
    out: dict[tuple[StrategyId, InstrumentId], int] = {}
    for order in book.instrument_orders.values():
        key = (order.strategy_id, order.instrument_id)
        out[key] = out.get(key, 0) + order.remaining * order.side.sign
    return out


def take_views(
    book: Book,
    fills: FillIndex,
    venue: VenueQueries | None,
    targets: Mapping[tuple[StrategyId, InstrumentId], tuple[int, int]] | None = None,
    *,
    target_buffer: int = 0,
    fill_views: tuple[Mapping[ExecId, FillFact], Mapping[ExecId, FillFact] | None] | None = None,
) -> Views:
    """The three views now. ``venue`` None (or a failed query) leaves the broker unknown.

    ``fill_views`` (Bastion's, the broker's) replaces the full fill comparison with one
    the caller keeps incrementally (the engine's reconciler compares only what is not
    yet matched, so a periodic run never rescans the day)."""
    broker_positions: dict[ContractId, int] | None = None
    broker_fills: Mapping[ExecId, FillFact] | None = None
    if venue is not None:
        snap = venue.positions()
        if snap.value is not None:
            broker_positions = {cid: rec.net for cid, rec in snap.value.items() if rec.net}
        if fill_views is None:
            page = venue.fills_since(None)
            if page.value is not None:
                broker_fills = {f.exec_id: FillFact.of(f) for f in page.value.fills}
        else:
            broker_fills = fill_views[1]
    return Views(
        targets=dict(targets or {}),
        strategy_positions=dict(book.positions.strategy),
        contract_positions={cid: q for (_, cid), q in book.positions.contract.items()},
        working=_working(book),
        broker_positions=broker_positions,
        bastion_fills=dict(fills.venue_fills) if fill_views is None else dict(fill_views[0]),
        broker_fills=broker_fills,
        adopted_exec_ids=frozenset(fills.adopted),
        target_buffer=target_buffer,
    )
