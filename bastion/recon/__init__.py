"""Three-view reconciliation, breaks, locks and the recovery procedure (R7)."""

from bastion.recon.balance import MANUAL_STRATEGY, balance_trade
from bastion.recon.breaks import Break, BreakKind, FillFact, ReconReport, Views, reconcile
from bastion.recon.locks import LockBook, LockChange, LockingGate, LockSource
from bastion.recon.reconciler import Reconciler
from bastion.recon.views import BALANCE_VENUE, FillIndex, take_views, target_ranges

__all__ = [
    "BALANCE_VENUE",
    "MANUAL_STRATEGY",
    "Break",
    "BreakKind",
    "FillFact",
    "FillIndex",
    "LockBook",
    "LockChange",
    "LockSource",
    "LockingGate",
    "ReconReport",
    "Reconciler",
    "Views",
    "balance_trade",
    "reconcile",
    "take_views",
    "target_ranges",
]
