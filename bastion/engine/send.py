"""The one door to the venue (ARCHITECTURE.md, "One engine, one door to the venue").

``OrderGateway`` is the only object in Bastion that holds a venue's order calls. For a
new order it runs, in this order and nowhere else:

1. the risk decision (the engine's gate: locks, broker truth, the risk engine; or a
   decision the risk engine already made on a stricter path, such as the kill
   switch's reduced checks). A denial is journaled (``risk.denied``) and nothing else
   happens: no order record, no venue call;
2. the write-ahead record, durable before the venue can see the order (R5.1);
3. ``submit``; the order is marked submitted only when the venue *took* the call.
   A refusal at the call (disconnected, read-only, over the venue's rate, invalid) is
   applied at once as a reject with its reason, so the book never shows an order in
   flight that never left; a call that failed without an answer leaves the order
   *unresolved* (in flight, journaled as ``send.unresolved``) until restart recovery
   or a status query settles it.

Cancels are recorded first (CANCEL_PENDING, for orders Bastion knows) and then sent;
a cancel the venue does not take is applied as a cancel reject. Every other part of
the engine holds the venue as ``VenueQueries`` (no order calls), so this rule holds by
construction; ``tests/unit/engine/test_one_door.py`` also checks it.
"""

from __future__ import annotations

from bastion.clock import Clock
from bastion.domain.ids import ClientOrderId
from bastion.domain.order_state import OrderState
from bastion.domain.reasons import Reason
from bastion.domain.records import Note
from bastion.domain.venue_events import CancelRejected, Rejected
from bastion.errors import UserError
from bastion.oms.manager import OrderManager
from bastion.oms.sending import SendOutcome, SendResult
from bastion.risk.port import OrderRequest, RiskDecision, RiskGate
from bastion.venues.port import GlobalCancelPort, OrderApiCounters, OrderCallResult, VenuePort

__all__ = ["OrderGateway"]


class OrderGateway:
    __slots__ = ("_venue", "clock", "oms", "risk", "totals")

    def __init__(self, oms: OrderManager, venue: VenuePort, risk: RiskGate, clock: Clock) -> None:
        self.oms = oms
        self.risk = risk
        self.clock = clock
        self._venue = venue
        self.totals: dict[SendOutcome, int] = dict.fromkeys(SendOutcome, 0)

    @property
    def venue_name(self) -> str:
        return self._venue.name

    @property
    def counters(self) -> OrderApiCounters:
        return self._venue.counters

    def _count(self, result: SendResult) -> SendResult:
        self.totals[result.outcome] += 1
        return result

    # -- new orders ------------------------------------------------------------------------
    def send(self, request: OrderRequest, decision: RiskDecision | None = None) -> SendResult:
        created = request.order
        coid = created.client_order_id
        if decision is None:
            decision = self.risk.check(request)
        if not decision.allowed:
            self.oms.record(
                Note(
                    timestamp=self.clock.now(),
                    kind="risk.denied",
                    text=decision.message,
                    data={
                        "client_order_id": coid,
                        "check": decision.check,
                        "reason": str(decision.reason),
                        "path": str(request.path),
                    },
                )
            )
            return self._count(
                SendResult(
                    SendOutcome.DENIED,
                    coid,
                    decision.reason,
                    decision.message,
                    decision.check,
                )
            )
        order = self.oms.write_ahead(created)  # the journal has it before any venue call
        try:
            result = self._venue.submit(order)
        except Exception as exc:  # noqa: BLE001 - the venue's view is unknown: record it, never crash
            return self._count(self._unresolved(coid, f"submit failed: {exc!r}"))
        if result.taken:
            self.oms.mark_submitted(coid, self.clock.now())
            return self._count(SendResult(SendOutcome.SENT, coid))
        return self._count(self._refused(result))

    def _refused(self, result: OrderCallResult) -> SendResult:
        coid = result.client_order_id
        reason = result.reason or Reason.UNKNOWN
        message = result.message or "the venue did not take the order"
        self.oms.apply(
            Rejected(
                client_order_id=coid,
                reason=reason,
                message=f"not sent: {message}",
                timestamp=self.clock.now(),
            )
        )
        return SendResult(SendOutcome.REJECTED, coid, reason, message)

    def _unresolved(self, coid: ClientOrderId, message: str) -> SendResult:
        self.oms.record(
            Note(
                timestamp=self.clock.now(),
                kind="send.unresolved",
                text=f"{coid}: {message}; it stays in flight until a venue query settles it",
                data={"client_order_id": coid},
            )
        )
        return SendResult(SendOutcome.UNRESOLVED, coid, Reason.CONNECTION, message)

    # -- cancels -------------------------------------------------------------------------
    def cancel_everything(self, confirmation: str, why: str) -> SendResult:
        """A venue's global cancel (IB's ``reqGlobalCancel``): every open order in the
        account, placed by any client or by hand. Only where the venue has one, with the
        operator's explicit ``confirmation``; journaled first, and every live order
        Bastion knows is recorded CANCEL_PENDING (the venue's reports settle them)."""
        coid = ClientOrderId("*")
        venue = self._venue
        if not isinstance(venue, GlobalCancelPort):
            message = f"venue {self._venue.name} has no global cancel"
            return self._count(SendResult(SendOutcome.REJECTED, coid, Reason.UNKNOWN, message))
        now = self.clock.now()
        live = [o for o in self.oms.book.broker_orders.values() if not o.is_terminal]
        self.oms.record(
            Note(
                timestamp=now,
                kind="cancel.global",
                text=f"global cancel of every order in the account at {self._venue.name}: {why}",
                data={"live_orders": str(len(live))},
            )
        )
        for order in live:
            if order.state is not OrderState.CANCEL_PENDING:
                self.oms.request_cancel(order.client_order_id, now)
        try:
            sent = bool(venue.global_cancel(confirmation))
        except UserError:
            raise  # the confirmation is wrong, or the venue is read-only: the operator's
        except Exception as exc:  # noqa: BLE001 - the venue's view is unknown: record it
            return self._count(self._unresolved(coid, f"global cancel failed: {exc!r}"))
        if not sent:
            message = "not connected: the global cancel was not sent"
            return self._count(SendResult(SendOutcome.REJECTED, coid, Reason.CONNECTION, message))
        return self._count(SendResult(SendOutcome.SENT, coid))

    def cancel(self, client_order_id: ClientOrderId, why: str = "") -> SendResult:
        """Cancel an order Bastion knows (recorded CANCEL_PENDING first), or one the
        venue lists that Bastion did not place (journaled as such, then sent)."""
        now = self.clock.now()
        order = self.oms.book.broker_order(client_order_id)
        if order is not None and order.is_terminal:
            return self._count(SendResult(SendOutcome.NOTHING_TO_DO, client_order_id))
        if order is None:
            self.oms.record(
                Note(
                    timestamp=now,
                    kind="cancel.foreign",
                    text=f"cancel of {client_order_id}, an order Bastion did not place"
                    + (f" ({why})" if why else ""),
                    data={"client_order_id": client_order_id},
                )
            )
        elif order.state is not OrderState.CANCEL_PENDING:
            self.oms.request_cancel(client_order_id, now)
        try:
            result = self._venue.cancel(client_order_id)
        except Exception as exc:  # noqa: BLE001 - the venue's view is unknown: record it, never crash
            return self._count(self._unresolved(client_order_id, f"cancel failed: {exc!r}"))
        if result.taken:
            return self._count(SendResult(SendOutcome.SENT, client_order_id))
        reason = result.reason or Reason.UNKNOWN
        message = result.message or "the venue did not take the cancel"
        if order is not None:
            self.oms.apply(
                CancelRejected(
                    client_order_id=client_order_id,
                    reason=reason,
                    message=f"not sent: {message}",
                    timestamp=self.clock.now(),
                )
            )
        return self._count(SendResult(SendOutcome.REJECTED, client_order_id, reason, message))
