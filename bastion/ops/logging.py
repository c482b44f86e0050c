"""Structured JSON logs (R9.3) with a correlation id from a target to its fills.

``configure_logging(path, redactor)`` sets structlog to write one JSON object a line
(ISO UTC timestamp, level, event, fields) to ``path``; every line passes the
``Redactor`` first, so a secret value or an account id never lands in a log.

Correlation ids follow the order family. A target causes an instrument order; the
stack splits it into contract orders and those into broker orders; the venue answers
with transitions and fills. ``CorrelationIndex`` walks the parent links in journal
order and gives every record the id of the target that caused it:
``<strategy>/<instrument>@<target reference time>#<instrument order id>``. Orders with
no target (a roll, the kill switch, a smoke order) get ``<kind>#<order id>``.
``log_journal`` emits the whole journal through the logger with those ids, so one
``grep`` of the id shows a target's whole story.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any, Protocol, TextIO

import structlog

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
from bastion.secrets import Redactor

__all__ = ["CorrelationIndex", "configure_logging", "get_logger", "log_journal"]


class _Entry(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def record(self) -> JournalRecord: ...


def configure_logging(
    sink: Path | TextIO, redactor: Redactor, *, level: int = logging.INFO
) -> TextIO:
    """Route structlog to ``sink`` as JSON lines, redacted. Returns the open stream."""
    if isinstance(sink, Path):
        sink.parent.mkdir(parents=True, exist_ok=True)
        stream: TextIO = sink.open("a", encoding="utf-8")
    else:
        stream = sink

    def redact(_logger: object, _name: str, event: MutableMapping[str, Any]) -> str:
        rendered = structlog.processors.JSONRenderer(default=str)(_logger, _name, event)
        return redactor(rendered if isinstance(rendered, str) else rendered.decode())

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    return stream


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


class CorrelationIndex:
    """Maps every order of a family to the correlation id of the target that caused it."""

    def __init__(self) -> None:
        self._by_order: dict[str, str] = {}

    def of(self, record: JournalRecord) -> str:
        created = self._created(record)
        if created is not None:
            return created
        if isinstance(record, BrokerOrderSubmitted | OrderTransition):
            return self._by_order.get(record.client_order_id, f"unknown#{record.client_order_id}")
        if isinstance(record, FillRecorded):
            coid = record.fill.client_order_id
            return self._by_order.get(coid, f"unknown#{coid}")
        order = _family_order(record)
        return self._by_order.get(order, "") if order is not None else ""

    def _created(self, record: JournalRecord) -> str | None:
        """A new order's id (noted for its children), or ``None`` for other records."""
        if isinstance(record, InstrumentOrderCreated):
            when = record.timestamp.astimezone(dt.UTC).isoformat()
            cid = f"{record.strategy_id}/{record.instrument_id}@{when}#{record.order_id}"
            if record.manual:
                cid = f"manual#{record.order_id}"
            self._by_order[record.order_id] = cid
            return cid
        if isinstance(record, ContractOrderCreated):
            parent = self._by_order.get(record.parent_id or "")
            cid = parent or f"{'roll' if record.roll else 'contract'}#{record.order_id}"
            self._by_order[record.order_id] = cid
            return cid
        if isinstance(record, BrokerOrderCreated):
            parent = self._by_order.get(record.parent_id or "")
            cid = parent or f"{record.venue or 'broker'}#{record.client_order_id}"
            self._by_order[record.client_order_id] = cid
            return cid
        return None


def _family_order(record: JournalRecord) -> str | None:
    """The order a completion, stop or allocation belongs to, if it names one."""
    if isinstance(record, FamilyCompleted | OrderStopped | AlgoStateRecorded):
        return str(record.order_id)
    if isinstance(record, Allocation) and record.instrument_order_id is not None:
        return str(record.instrument_order_id)
    return None


def _fields(record: JournalRecord) -> dict[str, Any]:
    import msgspec

    data: dict[str, Any] = msgspec.to_builtins(record)
    data.pop("timestamp", None)
    if "event" in data:  # structlog's own key: an order transition's event is renamed
        data["order_event"] = data.pop("event")
    return data


def log_journal(
    entries: Iterable[_Entry], logger: Any | None = None, index: CorrelationIndex | None = None
) -> int:
    """Log each journal entry with its correlation id; returns how many were logged.

    Pass the same ``index`` to log a journal a piece at a time (a running session)."""
    log = logger if logger is not None else get_logger("bastion.journal")
    index = index if index is not None else CorrelationIndex()
    count = 0
    for entry in entries:
        record = entry.record
        data = _fields(record)
        kind = str(data.pop("type", type(record).__name__))
        log.info(
            kind,
            correlation_id=index.of(record),
            seq=entry.seq,
            at=record.timestamp.isoformat(),
            **data,
        )
        count += 1
    return count
