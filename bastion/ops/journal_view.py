"""Reading the journal as an operator does (``bastion journal``): filtered rows.

Every entry gets the correlation id of the target that caused it (the same ids as the
JSON logs, ``bastion.ops.logging.CorrelationIndex``), so one filter follows a target
through its contract and broker orders to its fills. A row matches when it passes
every filter given:

- ``since`` / ``until``: the record's own time (``since <= at < until``);
- ``order``: an order id the record names (instrument, contract or broker order, a
  parent, a fill's order), or the instrument order that roots its correlation id;
- ``correlation``: the correlation id, exactly or as a prefix (``ema_trend/SP500@``);
- ``kinds``: the record type (``fill``, ``broker_order.transition``, or a prefix such
  as ``broker_order``) or, for notes, the note's kind (``recovery``, ``risk.kill``, or
  a prefix such as ``risk``).

Reading never writes; the journal is checked when it is opened (``SqliteStore``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from bastion.domain.records import Note
from bastion.ops.logging import CorrelationIndex
from bastion.store.sqlite import JournalEntry

__all__ = ["JournalFilter", "JournalRow", "journal_rows"]

_ORDER_FIELDS = ("order_id", "parent_id", "client_order_id", "instrument_order_id")


@dataclass(frozen=True, slots=True)
class JournalFilter:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    order: str | None = None
    correlation: str | None = None
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JournalRow:
    seq: int
    at: dt.datetime
    kind: str
    """The record type; for a note, ``note:<its kind>``."""
    correlation_id: str
    orders: tuple[str, ...]
    fields: dict[str, Any]

    def summary(self, width: int = 90) -> str:
        if "text" in self.fields:
            text = str(self.fields["text"])
        else:
            shown = {k: v for k, v in self.fields.items() if v not in (None, "", False, {}, [])}
            text = " ".join(f"{k}={_flat(v)}" for k, v in shown.items())
        return text if len(text) <= width else text[: width - 3] + "..."

    def as_json(self) -> dict[str, Any]:
        return {
            **self.fields,
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "correlation_id": self.correlation_id,
            "orders": list(self.orders),
        }


def _flat(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_flat(v)}" for k, v in value.items()) + "}"
    return str(value)


def _orders(fields: dict[str, Any]) -> tuple[str, ...]:
    found = [str(fields[k]) for k in _ORDER_FIELDS if fields.get(k)]
    fill = fields.get("fill")
    if isinstance(fill, dict) and fill.get("client_order_id"):
        found.append(str(fill["client_order_id"]))
    if fields.get("venue_order_id"):
        found.append(str(fields["venue_order_id"]))
    return tuple(dict.fromkeys(found))


def _kind_matches(row: JournalRow, record_kind: str, wanted: Sequence[str]) -> bool:
    note_kind = row.kind.removeprefix("note:") if row.kind.startswith("note:") else None
    for k in wanted:
        if record_kind == k or record_kind.startswith(k + "."):
            return True
        if note_kind is not None and (note_kind == k or note_kind.startswith(k + ".")):
            return True
    return False


def _matches(row: JournalRow, record_kind: str, f: JournalFilter) -> bool:
    if f.since is not None and row.at < f.since:
        return False
    if f.until is not None and row.at >= f.until:
        return False
    family = row.correlation_id.endswith(f"#{f.order}")
    if f.order is not None and f.order not in row.orders and not family:
        return False
    if f.correlation is not None and not row.correlation_id.startswith(f.correlation):
        return False
    return not f.kinds or _kind_matches(row, record_kind, f.kinds)


def journal_rows(entries: Iterable[JournalEntry], f: JournalFilter) -> Iterator[JournalRow]:
    """The entries passing ``f``, in sequence order, each with its correlation id."""
    index = CorrelationIndex()
    for entry in entries:
        record = entry.record
        correlation = index.of(record) or entry.correlation_id
        fields: dict[str, Any] = msgspec.to_builtins(record)
        fields.pop("timestamp", None)
        record_kind = str(fields.pop("type", entry.event_type))
        kind = f"note:{record.kind}" if isinstance(record, Note) else record_kind
        row = JournalRow(
            seq=entry.seq,
            at=record.timestamp.astimezone(dt.UTC),
            kind=kind,
            correlation_id=correlation,
            orders=_orders(fields),
            fields=fields,
        )
        if _matches(row, record_kind, f):
            yield row
