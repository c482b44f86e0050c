"""Typed identifiers. They are plain strings at run time and distinct types for mypy."""

from __future__ import annotations

from typing import NewType

__all__ = [
    "UNATTRIBUTED",
    "AccountId",
    "ClientOrderId",
    "ContractId",
    "ExecId",
    "InstrumentId",
    "OrderId",
    "StrategyId",
    "VenueOrderId",
]

InstrumentId = NewType("InstrumentId", str)
"""A tradable market independent of expiry, e.g. ``SP500`` or ``rb`` (SHFE rebar)."""

ContractId = NewType("ContractId", str)
"""One expiry of an instrument, as ``INSTRUMENT/YYYYMM`` (e.g. ``SP500/202412``)."""

StrategyId = NewType("StrategyId", str)
ClientOrderId = NewType("ClientOrderId", str)
"""Bastion's own id for a broker order; deterministic per intent so a replay never resends."""

VenueOrderId = NewType("VenueOrderId", str)
"""The venue's id for an order. It may change after acceptance (CTP OrderRef -> OrderSysID)."""

ExecId = NewType("ExecId", str)
"""The venue's execution id for one fill; fills are idempotent by it."""

AccountId = NewType("AccountId", str)

OrderId = NewType("OrderId", str)
"""Id of an instrument or contract order in the stack (broker orders use ClientOrderId)."""

UNATTRIBUTED = StrategyId("unattributed")
"""The reserved, visible strategy that holds what the venue traded and no strategy can
own: a fill beyond an order's quantity, a fill for an order Bastion did not place, or a
flatten of a position no strategy held. The strategy table then still sums to the
contract table, and the instrument is locked until an operator adopts or restores it."""
