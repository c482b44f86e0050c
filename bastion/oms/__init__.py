"""Applying venue events to orders: the state machine, idempotent fills, recovery."""

from bastion.oms.ledger import Ledger, MemoryLedger
from bastion.oms.manager import Applied, ApplyOutcome, OrderManager

__all__ = ["Applied", "ApplyOutcome", "Ledger", "MemoryLedger", "OrderManager"]
