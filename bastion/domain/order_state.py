"""The order state machine as a table (R5.2), one for every venue.

``TRANSITIONS[(state, event)]`` gives the next state. A pair missing from the table is
illegal and ``next_state`` raises ``IllegalTransition`` naming both. The OMS first
de-duplicates fills by execution id and classifies each new fill as PARTIAL_FILL or
FINAL_FILL (the one that makes filled == quantity), so the table never sees a duplicate
fill, and never has to know quantities - except for ``WORKING``, a marker meaning
"ACCEPTED if nothing has filled yet, else PARTIALLY_FILLED" (after a cancel is refused).

Real venues report late, twice and out of order. Each such oddity the table allows has
a comment saying where it comes from. ``docs/order-states.md`` is generated from this
table and a test keeps the two equal.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from bastion.errors import IllegalTransition

__all__ = [
    "CANCELLABLE",
    "IN_FLIGHT",
    "TERMINAL",
    "TRANSITIONS",
    "WORKING",
    "OrderEvent",
    "OrderState",
    "next_state",
]


class OrderState(StrEnum):
    PENDING_NEW = "pending_new"  # written ahead and sent; no answer yet
    ACCEPTED = "accepted"  # the venue acknowledged it; working, nothing filled
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCEL_PENDING = "cancel_pending"  # we asked to cancel; no answer yet
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    LOST = "lost"  # the venue has no record of it (found by a query or reconciliation)


class OrderEvent(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    PARTIAL_FILL = "partial_fill"  # a new fill that leaves some quantity open
    FINAL_FILL = "final_fill"  # a new fill that completes the quantity
    CANCEL_REQUESTED = "cancel_requested"
    CANCEL_CONFIRMED = "cancel_confirmed"  # the venue says canceled (asked or not)
    CANCEL_REJECTED = "cancel_rejected"
    REJECTED = "rejected"
    EXPIRED = "expired"
    LOST = "lost"  # a query found no record of it at the venue


WORKING: Final = "working"
"""Marker target: ACCEPTED if nothing has filled, else PARTIALLY_FILLED."""

S = OrderState
E = OrderEvent

TRANSITIONS: Final[dict[tuple[OrderState, OrderEvent], OrderState | str]] = {
    # --- PENDING_NEW: sent, unanswered -------------------------------------------------
    (S.PENDING_NEW, E.ACKNOWLEDGED): S.ACCEPTED,
    # Oddity: a fill before its acknowledgement. IB and FIX venues may deliver the
    # execution report before (or instead of) the "new" report; the fill is the truth.
    (S.PENDING_NEW, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PENDING_NEW, E.FINAL_FILL): S.FILLED,
    (S.PENDING_NEW, E.CANCEL_REQUESTED): S.CANCEL_PENDING,
    # Oddity: an unsolicited cancel before the ack (an IOC that found nothing, or a
    # venue that cancels an order it will not work).
    (S.PENDING_NEW, E.CANCEL_CONFIRMED): S.CANCELED,
    (S.PENDING_NEW, E.REJECTED): S.REJECTED,
    (S.PENDING_NEW, E.EXPIRED): S.EXPIRED,
    (S.PENDING_NEW, E.LOST): S.LOST,
    # --- ACCEPTED ------------------------------------------------------------------------
    # Oddity: a duplicate acknowledgement (FIX resend with PossDup, CTP RESTART replay).
    (S.ACCEPTED, E.ACKNOWLEDGED): S.ACCEPTED,
    (S.ACCEPTED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.ACCEPTED, E.FINAL_FILL): S.FILLED,
    (S.ACCEPTED, E.CANCEL_REQUESTED): S.CANCEL_PENDING,
    # Unsolicited cancel: the venue canceled a working order (end of session, risk).
    (S.ACCEPTED, E.CANCEL_CONFIRMED): S.CANCELED,
    # A duplicate cancel reject, after the first one already restored the order.
    (S.ACCEPTED, E.CANCEL_REJECTED): S.ACCEPTED,
    # Oddity: a late reject. CTP accepts an order before the exchange rejects it.
    (S.ACCEPTED, E.REJECTED): S.REJECTED,
    (S.ACCEPTED, E.EXPIRED): S.EXPIRED,
    (S.ACCEPTED, E.LOST): S.LOST,
    # --- PARTIALLY_FILLED ------------------------------------------------------------------
    # Oddity: the ack arrives after the first fill (fill before ack); nothing changes.
    (S.PARTIALLY_FILLED, E.ACKNOWLEDGED): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.FINAL_FILL): S.FILLED,
    (S.PARTIALLY_FILLED, E.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.PARTIALLY_FILLED, E.CANCEL_CONFIRMED): S.CANCELED,
    (S.PARTIALLY_FILLED, E.CANCEL_REJECTED): S.PARTIALLY_FILLED,  # duplicate cancel reject
    # Oddity: a late reject of the remainder; the filled part stays filled.
    (S.PARTIALLY_FILLED, E.REJECTED): S.REJECTED,
    (S.PARTIALLY_FILLED, E.EXPIRED): S.EXPIRED,
    (S.PARTIALLY_FILLED, E.LOST): S.LOST,
    # --- CANCEL_PENDING: we asked to cancel ---------------------------------------------
    # Oddity: a late or duplicate ack while our cancel is pending.
    (S.CANCEL_PENDING, E.ACKNOWLEDGED): S.CANCEL_PENDING,
    # Oddity: fills keep coming while the cancel is in flight; still pending.
    (S.CANCEL_PENDING, E.PARTIAL_FILL): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, E.FINAL_FILL): S.FILLED,
    # A repeated cancel request (a retry after a timeout) changes nothing.
    (S.CANCEL_PENDING, E.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, E.CANCEL_CONFIRMED): S.CANCELED,
    # The cancel was refused (too late, unknown at the venue): the order works again.
    (S.CANCEL_PENDING, E.CANCEL_REJECTED): WORKING,
    # Oddity: a late reject while the cancel is pending.
    (S.CANCEL_PENDING, E.REJECTED): S.REJECTED,
    (S.CANCEL_PENDING, E.EXPIRED): S.EXPIRED,
    (S.CANCEL_PENDING, E.LOST): S.LOST,
    # --- FILLED: terminal ----------------------------------------------------------------
    # Oddity: a late ack after the fill; nothing changes.
    (S.FILLED, E.ACKNOWLEDGED): S.FILLED,
    # Oddity: "too late to cancel" arrives after the final fill.
    (S.FILLED, E.CANCEL_REJECTED): S.FILLED,
    # --- CANCELED: terminal for new instructions, not for the truth of fills ------------
    (S.CANCELED, E.ACKNOWLEDGED): S.CANCELED,  # late ack
    (S.CANCELED, E.CANCEL_CONFIRMED): S.CANCELED,  # duplicate cancel report
    (S.CANCELED, E.CANCEL_REJECTED): S.CANCELED,  # stale reply to a repeated cancel
    # Oddity: a fill after the cancel acknowledgement (IB "Cancelled" then a late
    # execution). The fill happened: its quantity is applied, the order stays CANCELED.
    (S.CANCELED, E.PARTIAL_FILL): S.CANCELED,
    # ... and if the late fills complete the whole quantity, the order was filled.
    (S.CANCELED, E.FINAL_FILL): S.FILLED,
    (S.CANCELED, E.EXPIRED): S.CANCELED,  # an expiry report for an order already gone
    # --- REJECTED: terminal ----------------------------------------------------------------
    (S.REJECTED, E.ACKNOWLEDGED): S.REJECTED,  # late ack overtaken by the reject
    (S.REJECTED, E.REJECTED): S.REJECTED,  # duplicate reject
    (S.REJECTED, E.CANCEL_CONFIRMED): S.REJECTED,  # CTP reports a reject as Canceled too
    (S.REJECTED, E.CANCEL_REJECTED): S.REJECTED,  # reply to a cancel sent before the reject
    # --- EXPIRED: terminal ------------------------------------------------------------------
    (S.EXPIRED, E.ACKNOWLEDGED): S.EXPIRED,
    (S.EXPIRED, E.EXPIRED): S.EXPIRED,  # duplicate
    (S.EXPIRED, E.CANCEL_CONFIRMED): S.EXPIRED,
    (S.EXPIRED, E.CANCEL_REJECTED): S.EXPIRED,
    # Oddity: a fill reported after the expiry, like a fill after a cancel.
    (S.EXPIRED, E.PARTIAL_FILL): S.EXPIRED,
    (S.EXPIRED, E.FINAL_FILL): S.FILLED,
    # --- LOST: the venue had no record when asked -----------------------------------------
    # A later report proves the order exists after all: the report is the truth.
    (S.LOST, E.ACKNOWLEDGED): S.ACCEPTED,
    (S.LOST, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.LOST, E.FINAL_FILL): S.FILLED,
    (S.LOST, E.CANCEL_CONFIRMED): S.CANCELED,
    (S.LOST, E.REJECTED): S.REJECTED,
    (S.LOST, E.EXPIRED): S.EXPIRED,
    (S.LOST, E.LOST): S.LOST,  # a repeated query still finds nothing
}
# Deliberately illegal (absent) pairs, among others: any fill on a REJECTED order (the
# venue said no and then traded: a break to investigate, not to paper over); cancel
# requests on terminal orders; a fill on a FILLED order (an overfill).

TERMINAL: Final = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.LOST})
"""No further instruction can be sent. (Late fills may still be applied, as above.)"""

IN_FLIGHT: Final = frozenset({S.PENDING_NEW, S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCEL_PENDING})
"""Could still trade: its unfilled quantity counts as working (R4.2)."""

CANCELLABLE: Final = frozenset({S.PENDING_NEW, S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCEL_PENDING})
"""A cancel may be sent (again, for CANCEL_PENDING, after a timeout)."""


def next_state(state: OrderState, event: OrderEvent, *, filled: int = 0) -> OrderState:
    """The state after ``event``; ``filled`` resolves the WORKING marker.

    Raises ``IllegalTransition`` naming the state and the event for a pair the table
    does not define.
    """
    try:
        target = TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None
    if target == WORKING:
        return S.PARTIALLY_FILLED if filled > 0 else S.ACCEPTED
    return OrderState(target)
