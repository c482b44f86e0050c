"""What each fault of a schedule does to a simulated world.

Venue faults use the sim venue's own machinery (``SimVenue.faults``: disconnects, drops,
duplicates, reorders, latency, fills after a cancel, rejects, halts, cash moves); the
market's faults (a thin book, a price limit) change the quotes the world feeds; crashes
arm the world's commit hook; operators act through their own store connection, as the
CLI does from another process (``bastion kill``, ``bastion risk halt|resume``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from bastion.risk.board import StateBoard
from bastion.risk.kill_request import pending_kill, request_kill
from bastion.risk.states import IllegalStateTransition, Scope, StateEvent
from bastion.testing.dst.schedule import (
    CRASH_RECORDS,
    REJECT_REASONS,
    STRATEGIES,
    Fault,
    FaultKind,
)

if TYPE_CHECKING:
    from bastion.testing.dst.runner import World

__all__ = ["apply_fault"]


def apply_fault(world: World, fault: Fault) -> bool:
    """Apply ``fault`` now; False when it found nothing to act on (counted apart)."""
    return _ACTIONS[fault.kind](world, fault)


def _crash(world: World, fault: Fault) -> bool:
    world.arm_crash(commits=fault.arg(0), record=None, lose=bool(fault.arg(1)))
    return True


def _crash_at(world: World, fault: Fault) -> bool:
    record = CRASH_RECORDS[fault.arg(0) % len(CRASH_RECORDS)]
    world.arm_crash(commits=None, record=record, lose=bool(fault.arg(1)))
    return True


def _disconnect(world: World, fault: Fault) -> bool:
    world.venue.faults.disconnect(fault.arg(0) / 10, lose_reports=bool(fault.arg(1)))
    return True


def _drop(world: World, fault: Fault) -> bool:
    world.venue.faults.drop_next(max(1, fault.arg(0)))
    return True


def _duplicate(world: World, fault: Fault) -> bool:
    world.venue.faults.duplicate_next(max(1, fault.arg(0)))
    return True


def _reorder(world: World, fault: Fault) -> bool:
    world.venue.faults.reorder_next(max(1, fault.arg(0)))
    return True


def _latency(world: World, fault: Fault) -> bool:
    faults = world.venue.faults
    faults.latency(fault.arg(0) / 1000, fault.arg(1) / 1000)
    world.later(max(1, fault.arg(2)), lambda: faults.latency(0.0, 0.0))
    return True


def _fill_after_cancel(world: World, fault: Fault) -> bool:
    world.venue.faults.fill_after_cancel_next(fault.arg(0) or None)
    return True


def _thin_book(world: World, fault: Fault) -> bool:
    world.market.thin_until = world.step + max(1, fault.arg(0))
    return True


def _reject(world: World, fault: Fault) -> bool:
    reason = REJECT_REASONS[fault.arg(0) % len(REJECT_REASONS)]
    world.venue.faults.reject_next(reason, f"injected {reason}")
    return True


def _halt(world: World, fault: Fault) -> bool:
    world.venue.faults.halt(world.contract, max(1, fault.arg(0)) / 10)
    return True


def _price_limit(world: World, fault: Fault) -> bool:
    world.market.limit = (1 if fault.arg(0) > 0 else -1, world.step + max(1, fault.arg(1)))
    return True


def _margin_call(world: World, fault: Fault) -> bool:
    """Cash leaves the account until margin in use is 95% of equity (above the engine's
    90% high mark); it comes back ``steps`` later."""
    venue = world.venue
    snap = venue.account_book.snapshot(venue.markets)
    if snap.margin_used is None or snap.margin_used <= 0:
        return False
    amount = snap.equity - snap.margin_used / Decimal("0.95")
    if amount <= 0:
        return False
    venue.faults.move_cash(-amount)
    world.later(max(1, fault.arg(0)), lambda: venue.faults.move_cash(amount))
    return True


def _target(world: World, fault: Fault) -> bool:
    lots = fault.arg(1)
    world.targets[STRATEGIES[fault.arg(0) % len(STRATEGIES)]] = (lots, lots, world.clock.now())
    return True


def _kill(world: World, _fault: Fault) -> bool:
    store = world.operator_store()
    board = StateBoard(store, world.clock)
    request_kill(store, board, world.clock, "simulation: operator kill", "operator (sim)")
    return True


def _operator(event: StateEvent) -> Callable[[World, Fault], bool]:
    def act(world: World, _fault: Fault) -> bool:
        store = world.operator_store()
        if event is StateEvent.OPERATOR_RESUME and pending_kill(store) is not None:
            return False  # as the CLI: no resume while a kill is pending
        try:
            change = StateBoard(store, world.clock).apply(
                Scope.account(), event, "simulation", actor="operator (sim)"
            )
        except IllegalStateTransition:
            return False
        return change.changed

    return act


_ACTIONS: dict[FaultKind, Callable[[World, Fault], bool]] = {
    FaultKind.CRASH: _crash,
    FaultKind.CRASH_AT: _crash_at,
    FaultKind.DISCONNECT: _disconnect,
    FaultKind.DROP: _drop,
    FaultKind.DUPLICATE: _duplicate,
    FaultKind.REORDER: _reorder,
    FaultKind.LATENCY: _latency,
    FaultKind.FILL_AFTER_CANCEL: _fill_after_cancel,
    FaultKind.THIN_BOOK: _thin_book,
    FaultKind.REJECT: _reject,
    FaultKind.HALT: _halt,
    FaultKind.PRICE_LIMIT: _price_limit,
    FaultKind.MARGIN_CALL: _margin_call,
    FaultKind.TARGET: _target,
    FaultKind.KILL: _kill,
    FaultKind.OPERATOR_HALT: _operator(StateEvent.OPERATOR_HALT),
    FaultKind.OPERATOR_RESUME: _operator(StateEvent.OPERATOR_RESUME),
}
