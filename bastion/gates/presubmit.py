"""The pre-submit gate (R8.4): the dry-run gate's checks again, just before each submit.

``PreSubmitGate`` is a ``RiskGate`` that wraps another (the risk engine, or a
``LockingGate`` in front of it), so the order stack needs no change: it is handed this
gate instead of the engine. For each broker order it re-reads its inputs (a callable
returning fresh ``GateInputs``: the latest broker snapshot, the plan, trading states,
the last reconciliation) and refuses, with the check's name and a sentence, when:

- the route is wrong (a comparison profile's plan that was not named);
- the broker snapshot is missing or older than the limit;
- the plan's risk level is unknown and the order would open, or ``review`` and the
  order opens (reconciling orders pass under review);
- the pool is stale or the data incomplete and the order would open;
- a kill is pending, or the instrument is locked (except reconciling orders);
- the last reconciliation is not clean (except reconciling orders);
- the order closes or reduces, and the broker does not hold what it closes.

Then the wrapped gate decides. Kill-switch orders (path ``KILL``) go straight to the
wrapped gate: flattening passes the risk engine's reduced checks, never none, and is
never held back by a stale pool. Every refusal is counted by check name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from bastion.domain.reasons import Reason
from bastion.gates.checks import GateInputs, broker_check, recon_check, route_check
from bastion.risk.level import RiskLevel, parse_risk_level
from bastion.risk.port import OrderPath, OrderRequest, RiskDecision, RiskGate

__all__ = ["PreSubmitGate"]


class PreSubmitGate:
    def __init__(self, inner: RiskGate, inputs: Callable[[], GateInputs]) -> None:
        self.inner = inner
        self._inputs = inputs
        self.denials: Counter[str] = Counter()
        self.checked = 0

    def check(self, request: OrderRequest) -> RiskDecision:
        self.checked += 1
        if request.path is OrderPath.KILL:
            return self.inner.check(request)
        refusal = self._refusal(request, self._inputs())
        if refusal is not None:
            self.denials[refusal.check] += 1
            return refusal
        return self.inner.check(request)

    def _refusal(self, request: OrderRequest, i: GateInputs) -> RiskDecision | None:
        order = request.order
        label = f"{order.side} {order.quantity} {order.contract_id}"
        return (
            _plan_refusal(request, i, label)
            or _state_refusal(request, i, label)
            or _broker_truth(request, i, label)
        )


def _plan_refusal(  # noqa: PLR0911 - one return per check, in order
    request: OrderRequest, i: GateInputs, label: str
) -> RiskDecision | None:
    """Route, snapshot, risk level, pool and data: what the plan allows."""
    reducing = request.reduces_position
    plan_driven = request.path in {OrderPath.AUTOMATIC, OrderPath.ALGO, OrderPath.ROLL}
    plan = i.plan
    if plan_driven:
        if plan is None:
            return _deny(Reason.RISK_LIMIT, "plan", f"{label}: no signal plan")
        route = route_check(i, plan)
        if not route.ok:
            return _deny(Reason.RISK_LIMIT, "route", f"{label}: {route.detail}")
    broker = broker_check(i)
    if not broker.ok:
        return _deny(Reason.RISK_LIMIT, "broker_snapshot", f"{label}: {broker.detail}")
    if plan is None or request.path is OrderPath.SMOKE or reducing:
        return None
    level = parse_risk_level(plan.risk_level)
    if level is RiskLevel.UNKNOWN:
        return _deny(Reason.RISK_LIMIT, "risk_level", f"{label}: the risk level is unknown")
    if level is RiskLevel.REVIEW and request.path is not OrderPath.RECONCILE:
        return _deny(Reason.RISK_LIMIT, "risk_level", f"{label}: review allows no new opens")
    if plan_driven and plan.stale_inputs:
        why = "; ".join(plan.stale_inputs)
        return _deny(Reason.RISK_LIMIT, "stale_input", f"{label}: {why}")
    return None


def _state_refusal(request: OrderRequest, i: GateInputs, label: str) -> RiskDecision | None:
    """Kill request, instrument locks and the last reconciliation."""
    if i.kill_pending:
        return _deny(Reason.TRADING_STATE, "trading_state", f"{label}: a kill is pending")
    if request.path is OrderPath.RECONCILE:
        return None
    if i.locks.get(request.instrument_id):
        return _deny(Reason.RECONCILIATION_BREAK, "instrument_lock", f"{label}: instrument locked")
    recon = recon_check(i)
    if not recon.ok:
        return _deny(Reason.RECONCILIATION_BREAK, "reconciliation", f"{label}: {recon.detail}")
    return None


def _broker_truth(request: OrderRequest, i: GateInputs, label: str) -> RiskDecision | None:
    """A close is sent only if the broker holds what it closes (R7.4)."""
    if not request.reduces_position or i.broker is None:
        return None
    order = request.order
    held = (i.broker.positions or {}).get(str(order.contract_id), 0)
    if held * order.side.sign >= 0 or abs(held) < order.quantity:
        return _deny(
            Reason.RECONCILIATION_BREAK,
            "close_matches_broker",
            f"{label}: closes a position the broker does not hold (broker {held:+d})",
        )
    return None


def _deny(reason: Reason, check: str, message: str) -> RiskDecision:
    return RiskDecision.deny(reason, f"presubmit.{check}", message)
