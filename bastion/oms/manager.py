"""The OMS: applies venue reports to broker orders, journal first (R5.1-R5.3).

Every change is a journal record. ``OrderManager`` hands each batch of records to its
ledger, which journals them (durably before it returns, in live mode) and folds them
into the one ``Book``; if the write fails, memory does not move either.

What it guarantees:
- a fill is applied at most once, by execution id, and no fill is dropped: the venue
  traded, so every new fill moves the contract position;
- surprises halt the instrument, never the engine: a fill the state table cannot
  explain (on a REJECTED order), a fill beyond an order's quantity, a fill that does
  not match its order, or a fill for an order Bastion did not place is journaled as it
  came, applied (what no order can own goes to the ``UNATTRIBUTED`` strategy), marked
  with an ``anomaly`` note, and reported to ``on_surprise`` so the engine locks the
  instrument and alerts;
- reports that arrive late, twice or out of order go through the state table; a pair it
  forbids is recorded as an anomaly and changes nothing;
- a cancel or expiry that counts more fills than Bastion has heard of leaves the order in
  flight until those fills arrive, so nothing is sent again for what it may still fill
  (the cancel reported, the fill arriving after it, the system resubmitting: the
  overfill of issue 13);
- a report for an order Bastion does not know is returned as FOREIGN, never guessed at;
- a venue anomaly (a report the adapter could not read or place) is journaled as a note
  and returned as ANOMALY; it changes no order. One about a known order is a surprise
  (its instrument is locked); one that names no known order asks for a reconciliation
  now (``on_unplaced``), whose breaks lock what does not agree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bastion.domain.book import Book
from bastion.domain.contracts import parse_contract_id
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId, VenueOrderId
from bastion.domain.order_state import CANCELLABLE, OrderEvent, OrderState, next_state
from bastion.domain.orders import BrokerOrder
from bastion.domain.records import (
    BrokerOrderCreated,
    BrokerOrderSubmitted,
    FillRecorded,
    ForeignFillRecorded,
    JournalRecord,
    Note,
    OrderTransition,
    TradeCorrected,
)
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    FillReport,
    Rejected,
    TradeCorrection,
    VenueAnomaly,
    VenueEvent,
)
from bastion.errors import IllegalTransition, InvariantError
from bastion.oms.ledger import Ledger, MemoryLedger

__all__ = ["Applied", "ApplyOutcome", "OrderManager", "Surprise"]

_FINISHED = frozenset({OrderState.CANCELED, OrderState.EXPIRED, OrderState.LOST})
"""States an order is in when a fill for it is late: the venue (or a query) ended it."""


class ApplyOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE_FILL = "duplicate_fill"  # the exec id was seen before: nothing changed
    FOREIGN = "foreign"  # no such order in Bastion: another client's, or unknown
    ANOMALY = "anomaly"  # recorded, not applied to the order's state


@dataclass(frozen=True, slots=True)
class Surprise:
    """A venue fact that does not fit the book: the engine locks the instrument."""

    instrument_id: InstrumentId
    contract_id: ContractId
    kind: str
    """``overfill``, ``mismatch``, ``outside_table``, ``foreign_fill``, ``trade_bust`` or
    ``trade_correction``."""
    message: str


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: ApplyOutcome
    order: BrokerOrder | None = None
    message: str = ""


class OrderManager:
    def __init__(
        self,
        ledger: Ledger | None = None,
        on_surprise: Callable[[Surprise], None] | None = None,
    ) -> None:
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger()
        self.on_surprise = on_surprise
        self._awaiting: dict[ClientOrderId, Canceled | Expired] = {}
        """Ends the venue reported before the fills it counted (``_await_fills``)."""
        """Called for every surprise after it was journaled (lock and alert)."""
        self.record_listeners: list[Callable[[Sequence[JournalRecord]], None]] = []
        """Called with what this OMS journaled, after it was journaled (a backtest's
        reconciler indexes fills this way instead of reading the journal back)."""
        self.on_unplaced: Callable[[str], None] | None = None
        """Called for a venue anomaly that names no known order, after it was journaled
        (the engine reconciles at once: a report it could not read may have been a fill)."""

    @property
    def book(self) -> Book:
        return self.ledger.book

    # -- writing ---------------------------------------------------------------------
    def record(self, *records: JournalRecord) -> None:
        """Journal, then fold. The only way state changes."""
        self.ledger.record(records)
        for listener in self.record_listeners:
            listener(records)

    def write_ahead(self, created: BrokerOrderCreated) -> BrokerOrder:
        """Record an order before any venue may see it (R5.1). Returns the live order."""
        if self.book.broker_order(created.client_order_id) is not None:
            raise InvariantError(f"order {created.client_order_id} was already written")
        self.record(created)
        return self.book.broker_orders[created.client_order_id]

    def mark_submitted(self, client_order_id: ClientOrderId, when: dt.datetime) -> None:
        self.record(BrokerOrderSubmitted(timestamp=when, client_order_id=client_order_id))

    def request_cancel(self, client_order_id: ClientOrderId, when: dt.datetime) -> BrokerOrder:
        """Move an order to CANCEL_PENDING before the cancel is sent."""
        order = self._require(client_order_id)
        if order.state not in CANCELLABLE:
            raise IllegalTransition(order.state, OrderEvent.CANCEL_REQUESTED)
        self._transition(order, OrderEvent.CANCEL_REQUESTED, when)
        return order

    def mark_lost(self, client_order_id: ClientOrderId, when: dt.datetime, why: str) -> BrokerOrder:
        """A venue query found no record of the order (R5.4)."""
        order = self._require(client_order_id)
        self._transition(order, OrderEvent.LOST, when, reason=why)
        return order

    def confirm_lost(self, client_order_id: ClientOrderId, when: dt.datetime, why: str) -> None:
        """A LOST order that the venue, asked again, still has no record of: journaled as
        a second LOST (the book marks it confirmed gone; only then may its intent be
        sent again)."""
        order = self._require(client_order_id)
        if order.state is not OrderState.LOST or order.lost_confirmed:
            return
        self.record(
            OrderTransition(
                timestamp=when,
                client_order_id=client_order_id,
                event=OrderEvent.LOST,
                state=OrderState.LOST,
                reason=why,
            )
        )

    # -- reading venue reports ----------------------------------------------------------
    def find(
        self, client_order_id: ClientOrderId | None, venue_order_id: VenueOrderId | None = None
    ) -> BrokerOrder | None:
        order = self.book.broker_order(client_order_id) if client_order_id else None
        if order is None and venue_order_id is not None:
            coid = self.book.by_venue_id.get(venue_order_id)
            order = self.book.broker_order(coid) if coid is not None else None
        return order

    def apply(self, event: VenueEvent) -> Applied:  # noqa: PLR0911 - one return per report kind
        if isinstance(event, VenueAnomaly | TradeCorrection):
            return self._no_order_event(event)
        venue_id = getattr(event, "venue_order_id", None)
        if isinstance(event, FillReport):
            venue_id = event.fill.venue_order_id
        order = self.find(event.client_order_id, venue_id)
        if order is None and isinstance(event, FillReport):
            return self._foreign_fill(event.fill)
        if order is None:
            return Applied(
                ApplyOutcome.FOREIGN,
                message=f"report for unknown order {event.client_order_id} (venue id {venue_id})",
            )
        ts = event.timestamp
        if isinstance(event, FillReport):
            return self._apply_fill(order, event)
        if isinstance(event, Acknowledged):
            return self._transition(
                order, OrderEvent.ACKNOWLEDGED, ts, venue_id=event.venue_order_id
            )
        if isinstance(event, Rejected):
            reason = f"{event.reason}: {event.message}"
            return self._transition(
                order, OrderEvent.REJECTED, ts, venue_id=venue_id, reason=reason
            )
        if isinstance(event, Canceled | Expired) and (event.filled or 0) > order.filled:
            return self._await_fills(order, event)
        if isinstance(event, Canceled):
            return self._transition(order, OrderEvent.CANCEL_CONFIRMED, ts, venue_id=venue_id)
        if isinstance(event, Expired):
            return self._transition(order, OrderEvent.EXPIRED, ts, venue_id=venue_id)
        if isinstance(event, CancelRejected):
            reason = f"cancel rejected, {event.reason}: {event.message}"
            return self._transition(order, OrderEvent.CANCEL_REJECTED, ts, reason=reason)
        raise InvariantError(f"unhandled venue event {event!r}")  # pragma: no cover

    def _apply_fill(self, order: BrokerOrder, event: FillReport) -> Applied:
        fill = event.fill
        if fill.exec_id in self.book.exec_ids:
            return Applied(
                ApplyOutcome.DUPLICATE_FILL, order, f"duplicate execution {fill.exec_id}"
            )
        if fill.contract_id != order.contract_id or fill.side is not order.side:
            return self._surprise_fill(
                order,
                fill,
                "mismatch",
                f"fill {fill.exec_id} ({fill.side} {fill.quantity} {fill.contract_id}) does not"
                f" match order {order.client_order_id} ({order.side} {order.contract_id});"
                " applied as unattributed",
                [],
            )
        fits = max(0, min(fill.quantity, order.quantity - order.filled))
        records: list[JournalRecord] = []
        if fits < fill.quantity:
            if fits:
                with contextlib.suppress(IllegalTransition):  # the state stays, flagged
                    records.extend(self._fill_transition(order, fill, OrderEvent.FINAL_FILL))
            return self._surprise_fill(
                order,
                fill,
                "overfill",
                f"fill {fill.exec_id} of {fill.quantity} overfills order {order.client_order_id}"
                f" ({order.filled}/{order.quantity} filled before it); {fill.quantity - fits}"
                " lot(s) applied as unattributed",
                records,
            )
        event_kind = (
            OrderEvent.FINAL_FILL
            if order.filled + fill.quantity == order.quantity
            else OrderEvent.PARTIAL_FILL
        )
        try:
            records = self._fill_transition(order, fill, event_kind)
        except IllegalTransition as exc:
            # The venue traded: the fill moves positions; the state stays, flagged.
            return self._surprise_fill(
                order, fill, "outside_table", f"fill outside the state table: {exc}", []
            )
        finished = order.state in _FINISHED
        beyond, family = self._family_excess(order, fill.quantity)
        outcome = Applied(ApplyOutcome.APPLIED, order)
        if beyond:
            # The order took it, but its family had already been done: one intent has
            # executed beyond its quantity (a cancel confirmed, a re-send, then the first
            # order's fill). The lots go to UNATTRIBUTED in the fold; the instrument locks.
            outcome = self._surprise_fill(
                order,
                fill,
                "overfill",
                f"fill {fill.exec_id} of {fill.quantity} on {order.client_order_id}"
                f" ({order.state} before it) takes {family} beyond its quantity by {beyond}"
                " lot(s); applied as unattributed",
                records,
            )
        elif finished:
            self.record(
                FillRecorded(timestamp=fill.timestamp, fill=fill),
                *records,
                self._note(
                    order,
                    fill.timestamp,
                    f"late fill {fill.exec_id} of {fill.quantity} on {order.client_order_id},"
                    f" which was {order.state}; within its quantity and its family's",
                    kind="late_fill",
                ),
            )
        else:
            self.record(FillRecorded(timestamp=fill.timestamp, fill=fill), *records)
        waiting = self._awaiting.get(order.client_order_id)
        if waiting is not None and order.filled >= (waiting.filled or 0):
            del self._awaiting[order.client_order_id]
            if not order.is_terminal:
                self.apply(waiting)  # every fill it was waiting for is in: now it ended
        return outcome

    def _family_excess(self, order: BrokerOrder, quantity: int) -> tuple[int, str]:
        """Lots of a fill that fits ``order`` but not its contract or instrument order
        (what the fold will hold as unattributed), and the order it overfills."""
        if order.parent_id is None:
            return 0, ""
        parent = self.book.contract_order(order.parent_id)
        if parent is None or parent.spread_leg is not None:
            return 0, ""  # a spread counts pairs of legs, checked by the fold
        fits = min(quantity, max(0, parent.quantity - parent.filled))
        if fits < quantity:
            return quantity - fits, str(parent.order_id)
        if parent.parent_id is None:
            return 0, ""
        grand = self.book.instrument_order(parent.parent_id)
        if grand is None:
            return 0, ""
        room = max(0, grand.quantity - grand.filled)
        return (fits - room, str(grand.order_id)) if fits > room else (0, "")

    def _await_fills(self, order: BrokerOrder, event: Canceled | Expired) -> Applied:
        """The venue ended the order after filling more of it than Bastion has heard:
        those fills are on their way (a slow fill channel). Until they arrive the order
        stays in flight, so nothing is sent again for what it may still fill; the end is
        applied with the last of them (a restart's recovery settles it otherwise)."""
        coid = order.client_order_id
        if coid not in self._awaiting:
            self.record(
                Note(
                    timestamp=event.timestamp,
                    kind="order.awaiting_fills",
                    text=f"{coid}: the venue ended it with {event.filled} filled, {order.filled}"
                    " reported so far; it stays in flight until the rest arrive",
                    data={"client_order_id": coid, "venue_filled": str(event.filled)},
                )
            )
        self._awaiting[coid] = event
        return Applied(ApplyOutcome.APPLIED, order, "awaiting fills")

    def _fill_transition(
        self, order: BrokerOrder, fill: Fill, event_kind: OrderEvent
    ) -> list[JournalRecord]:
        state = next_state(order.state, event_kind, filled=order.filled + fill.quantity)
        venue_id = fill.venue_order_id if fill.venue_order_id != order.venue_order_id else None
        return [
            OrderTransition(
                timestamp=fill.timestamp,
                client_order_id=order.client_order_id,
                event=event_kind,
                state=state,
                venue_order_id=venue_id,
            )
        ]

    def _surprise_fill(
        self,
        order: BrokerOrder,
        fill: Fill,
        kind: str,
        text: str,
        after: list[JournalRecord],
    ) -> Applied:
        note = self._note(order, fill.timestamp, text)
        # The lock first: a crash between the two leaves a locked instrument and a fill
        # the next recovery applies again (and finds surprising again), never the fill
        # journaled with no lock (a restart would take it as a known duplicate).
        self._tell(fill.contract_id, kind, text)
        self.record(FillRecorded(timestamp=fill.timestamp, fill=fill), *after, note)
        return Applied(ApplyOutcome.ANOMALY, order, text)

    def _foreign_fill(self, fill: Fill) -> Applied:
        if fill.exec_id in self.book.exec_ids:
            return Applied(ApplyOutcome.DUPLICATE_FILL, None, f"duplicate execution {fill.exec_id}")
        text = (
            f"fill {fill.exec_id} ({fill.side} {fill.quantity} {fill.contract_id}) for order"
            f" {fill.client_order_id}, which Bastion did not place; held as unattributed"
        )
        self._tell(fill.contract_id, "foreign_fill", text)  # the lock first, as above
        self.record(
            ForeignFillRecorded(timestamp=fill.timestamp, fill=fill, why=text),
            Note(
                timestamp=fill.timestamp,
                kind="anomaly",
                text=text,
                data={
                    "client_order_id": fill.client_order_id,
                    "contract_id": fill.contract_id,
                    "exec_id": fill.exec_id,
                },
            ),
        )
        return Applied(ApplyOutcome.FOREIGN, None, text)

    def _tell(self, contract_id: ContractId, kind: str, text: str) -> None:
        if self.on_surprise is not None:
            instrument, _ = parse_contract_id(contract_id)
            self.on_surprise(Surprise(instrument, contract_id, kind, text))

    def _transition(
        self,
        order: BrokerOrder,
        event: OrderEvent,
        when: dt.datetime,
        *,
        venue_id: VenueOrderId | None = None,
        reason: str | None = None,
    ) -> Applied:
        try:
            state = next_state(order.state, event, filled=order.filled)
        except IllegalTransition as exc:
            return self._anomaly(order, when, str(exc))
        if state is order.state and venue_id in (None, order.venue_order_id):
            return Applied(ApplyOutcome.APPLIED, order, "no change")
        self.record(
            OrderTransition(
                timestamp=when,
                client_order_id=order.client_order_id,
                event=event,
                state=state,
                venue_order_id=venue_id,
                reason=reason,
            )
        )
        return Applied(ApplyOutcome.APPLIED, order)

    def _note(
        self, order: BrokerOrder, when: dt.datetime, text: str, *, kind: str = "anomaly"
    ) -> Note:
        return Note(
            timestamp=when,
            kind=kind,
            text=text,
            data={"client_order_id": order.client_order_id, "contract_id": order.contract_id},
        )

    def _venue_anomaly(self, event: VenueAnomaly) -> Applied:
        text = f"venue anomaly ({event.kind}): {event.message}"
        ids = {
            "client_order_id": event.client_order_id,
            "venue_order_id": event.venue_order_id,
            "exec_id": event.exec_id,
        }
        data = {"kind": event.kind} | {k: v for k, v in ids.items() if v is not None}
        order = self.find(event.client_order_id, event.venue_order_id)
        if order is not None:
            data["contract_id"] = order.contract_id
        if order is not None:
            self._tell(order.contract_id, "venue_anomaly", text)  # its instrument is locked
        self.record(Note(timestamp=event.timestamp, kind="anomaly", text=text, data=data))
        if order is None and self.on_unplaced is not None:
            self.on_unplaced(text)  # no order to place it on: reconcile against the venue now
        return Applied(ApplyOutcome.ANOMALY, order, text)

    def _no_order_event(self, event: VenueAnomaly | TradeCorrection) -> Applied:
        """A venue fact about no order's state: an anomaly, a bust or a correction."""
        if isinstance(event, VenueAnomaly):
            return self._venue_anomaly(event)
        return self._trade_correction(event)

    def _trade_correction(self, event: TradeCorrection) -> Applied:
        """A bust or correction: journaled as it came, applied to the contract table and
        ``UNATTRIBUTED`` by the fold, marked an anomaly; the instrument locks (first, as
        for a surprising fill) and the engine alerts. A correction of an execution the
        journal does not hold moves nothing and makes the engine reconcile now."""
        if event.exec_id in self.book.exec_ids:
            return Applied(
                ApplyOutcome.DUPLICATE_FILL, None, f"duplicate correction {event.exec_id}"
            )
        known = self.book.executions.get(event.exec_ref_id)
        order = self.find(event.client_order_id, event.venue_order_id)
        what = "busted" if event.bust else f"corrected to {event.quantity} lot(s)"
        if event.price_ticks is not None and not event.bust:
            what += f" at {event.price_ticks} ticks"
        kind = "trade_bust" if event.bust else "trade_correction"
        data = {"kind": kind, "exec_id": event.exec_id, "exec_ref_id": event.exec_ref_id}
        if order is not None:
            data["client_order_id"] = order.client_order_id
        if known is None:
            text = (
                f"the venue {what} execution {event.exec_ref_id}, which Bastion never"
                " applied: nothing moved; reconciling against the venue"
            )
        else:
            contract_id, sign, lots = known
            moved = (event.quantity - lots) * sign
            data["contract_id"] = contract_id
            text = (
                f"the venue {what} execution {event.exec_ref_id} ({lots} lot(s) of"
                f" {contract_id}): the position moves by {moved:+d}, held as unattributed"
            )
            self._tell(contract_id, kind, text)  # the lock first, as for a surprising fill
        self.record(
            TradeCorrected(
                timestamp=event.timestamp,
                exec_id=event.exec_id,
                exec_ref_id=event.exec_ref_id,
                bust=event.bust,
                quantity=event.quantity,
                price_ticks=event.price_ticks,
                client_order_id=event.client_order_id,
                venue_order_id=event.venue_order_id,
            ),
            Note(timestamp=event.timestamp, kind="anomaly", text=text, data=data),
        )
        if known is None and self.on_unplaced is not None:
            self.on_unplaced(text)
        return Applied(ApplyOutcome.ANOMALY, order, text)

    def _anomaly(self, order: BrokerOrder, when: dt.datetime, text: str) -> Applied:
        self.record(self._note(order, when, text))
        return Applied(ApplyOutcome.ANOMALY, order, text)

    def _require(self, client_order_id: ClientOrderId) -> BrokerOrder:
        order = self.book.broker_order(client_order_id)
        if order is None:
            raise InvariantError(f"no order {client_order_id}")
        return order

    @property
    def working_orders(self) -> list[BrokerOrder]:
        """Orders that are not terminal (they could still trade)."""
        return list(self.book.broker_orders.values())
