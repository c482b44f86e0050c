"""What venues report, in one vocabulary for every venue (R10.1).

Adapters convert their wire formats into these records once, in their ``parsing``
module; the OMS applies them to orders through the state table. Every report names the
order by Bastion's ``client_order_id`` when the venue echoes it, and always carries the
venue's own order id when it has one (it may change after acceptance: CTP's
(FrontID, SessionID, OrderRef) becomes (ExchangeID, OrderSysID)).
"""

from __future__ import annotations

import datetime as dt

import msgspec

from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ExecId, VenueOrderId
from bastion.domain.reasons import Reason

__all__ = [
    "Acknowledged",
    "CancelRejected",
    "Canceled",
    "Expired",
    "FillReport",
    "Rejected",
    "TradeCorrection",
    "VenueAnomaly",
    "VenueEvent",
]


class Acknowledged(msgspec.Struct, frozen=True, kw_only=True, tag="acknowledged"):
    client_order_id: ClientOrderId
    venue_order_id: VenueOrderId
    timestamp: dt.datetime


class Rejected(msgspec.Struct, frozen=True, kw_only=True, tag="rejected"):
    client_order_id: ClientOrderId
    reason: Reason
    message: str
    timestamp: dt.datetime
    venue_order_id: VenueOrderId | None = None


class FillReport(msgspec.Struct, frozen=True, kw_only=True, tag="fill"):
    fill: Fill

    @property
    def client_order_id(self) -> ClientOrderId:
        return self.fill.client_order_id

    @property
    def timestamp(self) -> dt.datetime:
        return self.fill.timestamp


class Canceled(msgspec.Struct, frozen=True, kw_only=True, tag="canceled"):
    client_order_id: ClientOrderId
    timestamp: dt.datetime
    venue_order_id: VenueOrderId | None = None
    unsolicited: bool = False
    """The venue canceled it without being asked (end of session, IOC remainder)."""
    filled: int | None = None
    """What the venue had filled of the order when it canceled it (FIX CumQty); ``None``
    when the venue does not say. More than Bastion has heard of: fills are on their way."""


class Expired(msgspec.Struct, frozen=True, kw_only=True, tag="expired"):
    client_order_id: ClientOrderId
    timestamp: dt.datetime
    venue_order_id: VenueOrderId | None = None
    filled: int | None = None
    """As ``Canceled.filled``."""


class CancelRejected(msgspec.Struct, frozen=True, kw_only=True, tag="cancel_rejected"):
    client_order_id: ClientOrderId
    reason: Reason
    message: str
    timestamp: dt.datetime


class TradeCorrection(msgspec.Struct, frozen=True, kw_only=True, tag="trade_correction"):
    """The venue busted (``bust``: it never happened) or corrected an execution it had
    reported: ``exec_ref_id`` names that execution, ``quantity`` is what it now says was
    traded (0 for a bust) and ``price_ticks`` at what price (``None``: unchanged or not
    said). ``exec_id`` is the correction's own execution id (a repeat is the same
    correction). FIX ExecType H (trade cancel) and G (trade correct)."""

    exec_id: ExecId
    exec_ref_id: ExecId
    bust: bool
    quantity: int
    timestamp: dt.datetime
    price_ticks: int | None = None
    client_order_id: ClientOrderId | None = None
    venue_order_id: VenueOrderId | None = None


class VenueAnomaly(msgspec.Struct, frozen=True, kw_only=True, tag="venue_anomaly"):
    """A venue message Bastion cannot place: an execution type it does not know, a
    report it cannot read, a business reject of one of its messages. A surprise, never
    dropped: the OMS records it and reports it, and applies it to no order."""

    kind: str
    """What went wrong, in a word: ``unknown_exec_type``, ``unreadable_report``, ..."""
    message: str
    timestamp: dt.datetime
    client_order_id: ClientOrderId | None = None
    venue_order_id: VenueOrderId | None = None
    exec_id: ExecId | None = None


VenueEvent = (
    Acknowledged
    | Rejected
    | FillReport
    | Canceled
    | Expired
    | CancelRejected
    | TradeCorrection
    | VenueAnomaly
)
