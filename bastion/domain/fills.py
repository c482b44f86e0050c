"""Fills: one execution at the venue, identified by its execution id (R5.3)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from bastion.domain.enums import Side
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, VenueOrderId

__all__ = ["Fill"]


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """One execution. ``exec_id`` is unique per venue; a repeat is the same fill."""

    exec_id: ExecId
    client_order_id: ClientOrderId
    contract_id: ContractId
    side: Side
    quantity: int
    price_ticks: int
    timestamp: dt.datetime
    venue_order_id: VenueOrderId | None = None
    commission: Decimal = Decimal(0)

    @property
    def signed_quantity(self) -> int:
        return self.quantity * self.side.sign

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"fill {self.exec_id}: quantity must be positive, got {self.quantity}")
        if self.timestamp.tzinfo is None:
            raise ValueError(f"fill {self.exec_id}: timestamp must be timezone-aware")
