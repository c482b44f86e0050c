"""Restart recovery (R5.4): after the journal rebuilt the book, settle it with the venue.

``recover(oms, venue, clock, cursor)`` runs once at start (and after every reconnect),
before anything may be sent:

1. the book is already rebuilt from the journal (the store folds it on open);
2. it asks the venue for fills since the last fill it had seen (``cursor``), then for
   open orders, then for the status of every order the book still has in flight;
3. it adopts what the venue knows: each fill is applied through the OMS (idempotent by
   execution id, so a fill journaled before the crash changes nothing); an order the
   venue is working is acknowledged; an order the venue finished gets its final event;
   an order the venue has no record of is marked LOST (it was written ahead but never
   reached the venue, or the venue lost it); the stack counts it as working until the
   venue, asked again after a grace, still has no record (``StackHandler.check_lost``);
4. it flags what another client placed: open orders and fills for client order ids
   the journal never wrote (``foreign_orders``, ``foreign_fills``), journaled as notes;
   After a restore from a backup, ``claim`` (``bastion.recon.restored``) is offered
   each fill the journal does not know first: what it takes (fills under Bastion's own
   ids, sent after the backup) is not a surprise (``claimed``);
5. it resubmits nothing itself. The stack resends only what targets still want, and
   only after reconciliation is clean (the caller's job; see ``docs/recovery.md``).

A query that fails makes the result ``complete=False``: nothing that depends on it
changed, and the caller must not trade until a later attempt completes.

Client order ids are deterministic per intent (``{contract_order}.{n}``, derived from
the journal), so an order the venue already has is found by its id and is never sent a
second time: a LOST order's intent is re-sent under the next id only by the stack, and
only once the LOST is confirmed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.clock import Clock
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId
from bastion.domain.order_state import OrderState
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.records import Note
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    Expired,
    FillReport,
    Rejected,
    VenueEvent,
)
from bastion.oms.manager import ApplyOutcome, OrderManager
from bastion.venues.port import (
    FillCursor,
    OpenOrderRecord,
    OrderStatusRecord,
    VenueOrderStatus,
    VenueQueries,
)

__all__ = ["RecoveryResult", "recover", "status_event"]


@dataclass(slots=True)
class RecoveryResult:
    complete: bool = True
    cursor: FillCursor | None = None
    """Pass to the next ``recover`` (persist it): fills before it were all applied."""
    fills_applied: int = 0
    fills_duplicate: int = 0
    foreign_fills: list[Fill] = field(default_factory=list)
    adopted: list[ClientOrderId] = field(default_factory=list)
    """In-flight orders whose state the venue settled (acknowledged or finished)."""
    lost: list[ClientOrderId] = field(default_factory=list)
    foreign_orders: list[OpenOrderRecord] = field(default_factory=list)
    claimed: list[Fill] = field(default_factory=list)
    """Fills the journal did not know that ``claim`` took in (after a restore)."""
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"recovery {'complete' if self.complete else 'INCOMPLETE'}: fills applied"
            f" {self.fills_applied}, duplicates {self.fills_duplicate}, adopted"
            f" {len(self.adopted)}, lost {len(self.lost)}, foreign orders"
            f" {len(self.foreign_orders)}, foreign fills {len(self.foreign_fills)}"
            + (f", taken in after a restore {len(self.claimed)}" if self.claimed else "")
        )


def recover(
    oms: OrderManager,
    venue: VenueQueries,
    clock: Clock,
    cursor: FillCursor | None,
    *,
    claim: Callable[[Fill], bool] | None = None,
) -> RecoveryResult:
    result = RecoveryResult(cursor=cursor)
    _apply_fills(oms, venue, cursor, result, claim)
    if not result.complete:
        return result
    opened = venue.open_orders()
    if opened.value is None:
        result.complete = False
        result.problems.append(f"open orders unknown: {opened.reason}")
        return result
    working = {o.client_order_id: o for o in opened.value}
    now = opened.taken_at or clock.now()
    for order in list(oms.book.broker_orders.values()):
        _settle(oms, venue, order, working.get(order.client_order_id), now=now, result=result)
    for record in opened.value:
        if oms.book.broker_order(record.client_order_id) is None:
            result.foreign_orders.append(record)
    _journal(oms, now, result)
    return result


def _apply_fills(
    oms: OrderManager,
    venue: VenueQueries,
    cursor: FillCursor | None,
    result: RecoveryResult,
    claim: Callable[[Fill], bool] | None,
) -> None:
    page = venue.fills_since(cursor)
    if page.value is None:
        result.complete = False
        result.problems.append(f"fills unknown: {page.reason}")
        return
    for fill in page.value.fills:
        unknown = oms.find(fill.client_order_id, fill.venue_order_id) is None
        if claim is not None and unknown and claim(fill):
            result.claimed.append(fill)
            continue
        applied = oms.apply(FillReport(fill=fill))
        if applied.outcome is ApplyOutcome.DUPLICATE_FILL:
            result.fills_duplicate += 1
        elif applied.outcome is ApplyOutcome.FOREIGN:
            result.foreign_fills.append(fill)
        elif applied.outcome is ApplyOutcome.ANOMALY:
            result.problems.append(applied.message)
        else:
            result.fills_applied += 1
    result.cursor = page.value.next_cursor


def _settle(
    oms: OrderManager,
    venue: VenueQueries,
    order: BrokerOrder,
    open_record: OpenOrderRecord | None,
    *,
    now: dt.datetime,
    result: RecoveryResult,
) -> None:
    coid = order.client_order_id
    if open_record is not None:
        if order.state is OrderState.PENDING_NEW and open_record.venue_order_id is not None:
            oms.apply(
                Acknowledged(
                    client_order_id=coid, venue_order_id=open_record.venue_order_id, timestamp=now
                )
            )
            result.adopted.append(coid)
        return
    snap = venue.order_status(coid)
    if snap.value is None:
        result.complete = False
        result.problems.append(f"status of {coid} unknown: {snap.reason}")
        return
    event = status_event(coid, snap.value, snap.value.timestamp or now)
    if snap.value.status is VenueOrderStatus.NOT_FOUND:
        oms.mark_lost(coid, now, "restart recovery: the venue has no record of it")
        result.lost.append(coid)
    elif event is not None:
        oms.apply(event)
        result.adopted.append(coid)
    if snap.value.filled != order.filled and snap.value.status is not VenueOrderStatus.NOT_FOUND:
        result.problems.append(
            f"{coid}: the venue reports {snap.value.filled} filled, Bastion has {order.filled}"
        )


def status_event(
    coid: ClientOrderId, record: OrderStatusRecord, when: dt.datetime
) -> VenueEvent | None:
    """The event a status query's answer stands for (``None``: FILLED or NOT_FOUND; the
    fills settle a filled order)."""
    status = record.status
    if status is VenueOrderStatus.WORKING and record.venue_order_id is not None:
        return Acknowledged(
            client_order_id=coid, venue_order_id=record.venue_order_id, timestamp=when
        )
    if status is VenueOrderStatus.CANCELED:
        return Canceled(client_order_id=coid, timestamp=when, venue_order_id=record.venue_order_id)
    if status is VenueOrderStatus.EXPIRED:
        return Expired(client_order_id=coid, timestamp=when, venue_order_id=record.venue_order_id)
    if status is VenueOrderStatus.REJECTED:
        return Rejected(
            client_order_id=coid,
            reason=Reason.UNKNOWN,
            message="rejected (found by a status query at restart)",
            timestamp=when,
            venue_order_id=record.venue_order_id,
        )
    return None  # FILLED: the fills above already settled it


def _journal(oms: OrderManager, now: dt.datetime, result: RecoveryResult) -> None:
    for record in result.foreign_orders:
        oms.record(
            Note(
                timestamp=now,
                kind="foreign_order",
                text="an order Bastion did not place is working at the venue:"
                f" {record.client_order_id}",
                data={
                    "client_order_id": record.client_order_id,
                    "contract_id": record.contract_id,
                    "side": str(record.side),
                    "quantity": str(record.quantity),
                },
            )
        )
    for fill in result.foreign_fills:
        oms.record(
            Note(
                timestamp=now,
                kind="foreign_fill",
                text=f"a fill for an order Bastion did not place: {fill.exec_id}",
                data={"exec_id": fill.exec_id, "client_order_id": fill.client_order_id},
            )
        )
    oms.record(Note(timestamp=now, kind="recovery", text=result.summary()))
