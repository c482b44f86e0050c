"""Where the OMS writes: a ledger journals records and folds them into one ``Book``.

The SQLite and PostgreSQL stores are ledgers (durable); ``MemoryLedger`` is the
in-memory one for pure tests and what-if runs. The OMS never changes the book directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bastion.domain.book import Book
from bastion.domain.records import JournalRecord

__all__ = ["Ledger", "MemoryLedger"]


class Ledger(Protocol):
    @property
    def book(self) -> Book: ...

    def record(self, records: Sequence[JournalRecord]) -> None:
        """Write ``records`` (durably, as the mode requires), then fold them into the book.

        Raises without changing anything if a record cannot be written or applied.
        """
        ...


class MemoryLedger:
    def __init__(self) -> None:
        self._book = Book()
        self.records: list[JournalRecord] = []

    @property
    def book(self) -> Book:
        return self._book

    def record(self, records: Sequence[JournalRecord]) -> None:
        for record in records:
            self._book.apply(record)
        self.records.extend(records)
