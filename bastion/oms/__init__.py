"""Applying venue events to orders: the state machine, idempotent fills, recovery."""

from bastion.oms.manager import Applied, ApplyOutcome, JournalSink, OrderManager

__all__ = ["Applied", "ApplyOutcome", "JournalSink", "OrderManager"]
