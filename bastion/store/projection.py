"""Projection rows: the Book as table rows, so SQL tables and a rebuild can be compared."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from bastion.domain.book import Book
from bastion.domain.orders import BrokerOrder, ContractOrder, InstrumentOrder
from bastion.domain.records import (
    AlgoStateRecorded,
    Allocation,
    BrokerOrderCreated,
    BrokerOrderSubmitted,
    ContractOrderCreated,
    FamilyCompleted,
    FillRecorded,
    InstrumentOrderCreated,
    JournalRecord,
    OrderStopped,
    OrderTransition,
)

__all__ = ["OrderKey", "Rows", "affected_orders", "order_key", "order_row", "rows_of"]

OrderKey = tuple[str, str]  # (level, order id)
_encoder = msgspec.json.Encoder(order="deterministic")


class Rows(msgspec.Struct, frozen=True):
    live: dict[OrderKey, bytes]
    history: dict[OrderKey, bytes]
    strategy: dict[tuple[str, str], int]
    contract: dict[tuple[str, str], int]


def _level(order: InstrumentOrder | ContractOrder | BrokerOrder) -> str:
    if isinstance(order, BrokerOrder):
        return "broker"
    if isinstance(order, ContractOrder):
        return "contract"
    return "instrument"


def _id(order: InstrumentOrder | ContractOrder | BrokerOrder) -> str:
    return order.client_order_id if isinstance(order, BrokerOrder) else order.order_id


def order_key(order: InstrumentOrder | ContractOrder | BrokerOrder) -> OrderKey:
    return _level(order), _id(order)


def order_row(order: InstrumentOrder | ContractOrder | BrokerOrder) -> tuple[OrderKey, bytes]:
    return order_key(order), _encoder.encode(order)


def rows_of(book: Book) -> Rows:
    live_orders: list[InstrumentOrder | ContractOrder | BrokerOrder] = [
        *book.instrument_orders.values(),
        *book.contract_orders.values(),
        *book.broker_orders.values(),
    ]
    return Rows(
        live=dict(order_row(o) for o in live_orders),
        history=dict(order_row(o) for o in book.history.values()),
        strategy={(str(s), str(i)): q for (s, i), q in book.positions.strategy.items()},
        contract={(str(i), str(c)): q for (i, c), q in book.positions.contract.items()},
    )


def _family(book: Book, order_id: str) -> Iterator[InstrumentOrder | ContractOrder | BrokerOrder]:
    """An order and all its descendants, wherever they are filed."""
    for lookup in (book.instrument_order, book.contract_order):
        order = lookup(order_id)  # type: ignore[arg-type]
        if order is not None:
            yield order
            for child in order.children:
                yield from _family(book, child)
            return
    broker = book.broker_order(order_id)  # type: ignore[arg-type]
    if broker is not None:
        yield broker


def _ancestors(book: Book, broker: BrokerOrder) -> Iterator[InstrumentOrder | ContractOrder]:
    if broker.parent_id is None:
        return
    contract = book.contract_order(broker.parent_id)
    if contract is None:
        return
    yield contract
    if contract.parent_id is not None:
        parent = book.instrument_order(contract.parent_id)
        if parent is not None:
            yield parent


def affected_orders(
    book: Book, records: Iterable[JournalRecord]
) -> Iterator[InstrumentOrder | ContractOrder | BrokerOrder]:
    """The orders whose rows may have changed after ``records`` were applied to ``book``."""
    for record in records:
        if isinstance(
            record, InstrumentOrderCreated | FamilyCompleted | OrderStopped | AlgoStateRecorded
        ):
            yield from _family(book, record.order_id)
        elif isinstance(record, ContractOrderCreated):
            yield from _family(book, record.order_id)
            if record.parent_id is not None:
                yield from _family(book, record.parent_id)
        elif isinstance(record, BrokerOrderCreated | BrokerOrderSubmitted | OrderTransition):
            broker = book.broker_order(record.client_order_id)
            if broker is not None:
                yield broker
                yield from _ancestors(book, broker)
        elif isinstance(record, FillRecorded):
            broker = book.broker_order(record.fill.client_order_id)
            if broker is not None:
                yield broker
                yield from _ancestors(book, broker)
        elif isinstance(record, Allocation) and record.instrument_order_id is not None:
            yield from _family(book, record.instrument_order_id)
