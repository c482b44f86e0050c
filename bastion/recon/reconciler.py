"""The reconciler: runs the pure comparison, keeps the locks true to it, and records.

Used at startup (after restart recovery), every ``interval`` seconds while trading,
and on demand (``bastion reconcile``). Each run:

1. takes the three views (``take_views``); an unknown broker view makes the report
   incomplete, and an incomplete report never clears a lock;
2. locks instruments with locking breaks, clears reconciliation locks whose breaks are
   gone (``LockBook.sync_from_report``);
3. journals a ``Note`` (kind ``reconcile``) on its first run (data ``first``: so the
   journal always says what the latest reconciliation found, clean included, which the
   daily all-clear reads) and whenever the result or the locks changed, and calls
   ``alert`` with one line per new break or lock change (R7.3, R9.5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

from bastion.clock import Clock
from bastion.domain.ids import ExecId, InstrumentId, StrategyId
from bastion.domain.records import JournalRecord, Note
from bastion.oms.manager import OrderManager
from bastion.recon.breaks import FillFact, ReconReport, reconcile
from bastion.recon.locks import LockBook, LockChange
from bastion.recon.views import FillIndex, take_views
from bastion.venues.port import FillCursor, VenueQueries

__all__ = ["Reconciler"]

Alert = Callable[[str], None]


class _Entry(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def record(self) -> JournalRecord: ...


class JournalReader(Protocol):
    def entries(self, after_seq: int = 0) -> Iterator[_Entry]: ...


def _no_alert(_line: str) -> None:
    return None


class Reconciler:
    def __init__(
        self,
        oms: OrderManager,
        locks: LockBook,
        clock: Clock,
        *,
        interval: dt.timedelta = dt.timedelta(seconds=10),
        target_buffer: int = 0,
        alert: Alert = _no_alert,
        journal: JournalReader | None = None,
    ) -> None:
        self.oms = oms
        self.locks = locks
        self.clock = clock
        self.interval = interval
        self.target_buffer = target_buffer
        self.alert = alert
        self.fills = FillIndex()
        self._cursor: FillCursor | None = None
        self._broker_unmatched: dict[ExecId, FillFact] = {}
        self._matched: set[ExecId] = set()
        self.last_run: dt.datetime | None = None
        self.last_report: ReconReport | None = None
        self.runs = 0
        self._seen_seq = 0
        self.journal = journal
        """When set, every run first reads the journal entries written since the last."""

    def feed(self, records: Iterable[JournalRecord]) -> None:
        """Give the fill index journal records it has not seen (in journal order)."""
        self.fills.extend(records)

    def catch_up(self, journal: JournalReader) -> None:
        """Read the journal entries written since the last call (never rescans history)."""
        for entry in journal.entries(self._seen_seq):
            self.fills.add(entry.record)
            self._seen_seq = entry.seq

    def due(self) -> bool:
        return self.last_run is None or self.clock.now() - self.last_run >= self.interval

    def run(
        self,
        venue: VenueQueries | None,
        targets: Mapping[tuple[StrategyId, InstrumentId], tuple[int, int]] | None = None,
    ) -> tuple[ReconReport, list[LockChange]]:
        if self.journal is not None:
            self.catch_up(self.journal)
        views = take_views(
            self.oms.book,
            self.fills,
            venue,
            targets,
            target_buffer=self.target_buffer,
            fill_views=self._fill_views(venue),
        )
        report = reconcile(views)
        changes = self.locks.sync_from_report(report)
        previous = self.last_report
        self.last_report, self.last_run = report, self.clock.now()
        self.runs += 1
        old = set(previous.breaks) if previous is not None else set()
        new_breaks = [b for b in report.breaks if b not in old]
        if previous is None or changes or new_breaks or previous.clean != report.clean:
            self._record(report, changes, first=previous is None)
        for brk in new_breaks:
            self.alert(f"reconciliation break: {brk.line()}")
        for change in changes:
            verb = "locked" if change.locked else "unlocked"
            self.alert(f"{change.instrument_id} {verb} ({change.source}): {change.why}")
        return report, changes

    def _fill_views(
        self, venue: VenueQueries | None
    ) -> tuple[dict[ExecId, FillFact], dict[ExecId, FillFact] | None]:
        """Bastion's and the broker's fills not yet matched by execution id. The broker's
        are fetched since the last cursor; a fill seen on both sides is matched once
        and leaves both, so the work per run is what is new, not the whole day."""
        ours = self.fills.venue_fills
        if venue is None:
            return {k: v for k, v in ours.items() if k not in self._matched}, None
        page = venue.fills_since(self._cursor)
        if page.value is None and self._cursor is not None:
            self._cursor = None  # the venue no longer knows the cursor: start over
            self._broker_unmatched.clear()
            page = venue.fills_since(None)
        if page.value is None:
            return {k: v for k, v in ours.items() if k not in self._matched}, None
        for fill in page.value.fills:
            if fill.exec_id not in self._matched:
                self._broker_unmatched[fill.exec_id] = FillFact.of(fill)
        self._cursor = page.value.next_cursor
        for exec_id in [e for e in self._broker_unmatched if e in ours or e in self.fills.adopted]:
            if exec_id in ours:
                self._matched.add(exec_id)
            del self._broker_unmatched[exec_id]
        for exec_id in [e for e in ours if e in self._matched]:
            del ours[exec_id]
        return dict(ours), dict(self._broker_unmatched)

    def _record(self, report: ReconReport, changes: list[LockChange], *, first: bool) -> None:
        self.oms.record(
            Note(
                timestamp=self.clock.now(),
                kind="reconcile",
                text="clean" if report.clean else f"{len(report.breaks)} break(s)",
                data={
                    "breaks": "\n".join(b.line() for b in report.breaks),
                    "unknown": ", ".join(report.unknown),
                    "locks": ", ".join(
                        f"{'+' if c.locked else '-'}{c.instrument_id}" for c in changes
                    ),
                }
                | ({"first": "true"} if first else {}),
            )
        )
