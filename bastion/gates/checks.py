"""The gate's decision as a pure function (R8.3, R8.4): inputs in, one result out.

``evaluate(inputs)`` runs every check and returns exactly one of:

- ``executable``: every check passed and there are orders to act on (or nothing to do);
- ``skip_broker_flat_for_close``: the plan only closes or reduces, and the broker holds
  nothing to close: nothing is sent (R7.4: a close with no matching broker position is
  never sent);
- ``blocked: <reason>``: at least one check failed; the first failure is the reason and
  every failure is listed.

The checks, in the order they are reported:

1. ``route``: the plan was made by this profile; a comparison profile's plan never
   reaches an executable route unless that profile was named; the plan's strategy line
   and capital equal the official profile's (R1.1);
2. ``broker_snapshot``: the broker's positions are known and fresh (R8.1);
3. ``risk_level``: ``base``; ``review`` only when no order opens; unknown never (R3.4);
4. ``pool``: the pool is the current period's (R3.3);
5. ``data``: the data behind every signal is complete (R2.5);
6. ``trading_state``: not halted, no kill pending, reduce-only only when nothing opens,
   no instrument locked by a reconciliation break (R6, R7.3);
7. ``reconciliation``: Bastion's book and the broker agree (R7.1);
8. ``close_matches_broker``: a close or reduce has a broker position on the same side.

Nothing here does I/O; ``bastion.gates.dryrun`` gathers the inputs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bastion.gates.broker import DEFAULT_MAX_AGE, BrokerState, PositionState
from bastion.recon.breaks import ReconReport
from bastion.risk.level import RiskLevel, parse_risk_level
from bastion.risk.states import TradingState
from bastion.strategy.plan import CLOSING, SignalPlan, opens

__all__ = [
    "GateCheck",
    "GateInputs",
    "GateResult",
    "GateStatus",
    "ProposedOrder",
    "broker_check",
    "evaluate",
    "recon_check",
    "route_check",
]


class GateStatus(StrEnum):
    EXECUTABLE = "executable"
    SKIP_BROKER_FLAT_FOR_CLOSE = "skip_broker_flat_for_close"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class GateCheck:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ProposedOrder:
    instrument: str
    contract: str
    side: str
    quantity: int
    broker_held: int
    target: int
    opens: bool

    def line(self) -> str:
        kind = "opens" if self.opens else "reduces"
        return (
            f"{self.side} {self.quantity} {self.contract} (broker {self.broker_held:+d} ->"
            f" target {self.target:+d}, {kind})"
        )


@dataclass(frozen=True, slots=True)
class GateInputs:
    profile: str
    role: str
    named: bool
    official_strategy_line: str | None
    official_capital: str | None
    plan: SignalPlan | None
    broker: BrokerState | None
    now: dt.datetime
    max_age: dt.timedelta = DEFAULT_MAX_AGE
    account_state: TradingState = TradingState.ACTIVE
    account_state_reason: str = ""
    instrument_states: Mapping[str, TradingState] = field(default_factory=dict)
    kill_pending: bool = False
    locks: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    recon: ReconReport | None = None
    recon_note: str = ""
    data_usable: Mapping[str, bool] = field(default_factory=dict)
    """Per contract: whether its checked data may drive executable orders."""


@dataclass(slots=True)
class GateResult:
    status: GateStatus
    reason: str
    checks: list[GateCheck]
    orders: list[ProposedOrder]
    skipped_closes: list[str]
    role: str
    counters: dict[str, int] = field(
        default_factory=lambda: {"send_order_calls": 0, "cancel_order_calls": 0}
    )

    def line(self) -> str:
        if self.status is GateStatus.BLOCKED:
            return f"blocked: {self.reason}"
        return self.status.value

    def next_step(self) -> str:
        if self.status is GateStatus.EXECUTABLE:
            if self.orders:
                return "orders may go: start the session before the market opens"
            return "nothing to trade tonight: the broker is at target"
        if self.status is GateStatus.SKIP_BROKER_FLAT_FOR_CLOSE:
            return "nothing to send: the plan closes positions the broker does not hold"
        return "do not trade: fix the first failed check (docs/operator-day.md), then re-run"

    @property
    def has_orders(self) -> bool:
        return self.status is GateStatus.EXECUTABLE and bool(self.orders)

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.line(),
            "status": self.status.value,
            "reason": self.reason,
            "role": self.role,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "orders": [o.line() for o in self.orders],
            "skipped_closes": list(self.skipped_closes),
            **self.counters,
        }


def _ok(name: str, detail: str) -> GateCheck:
    return GateCheck(name, ok=True, detail=detail)


def _fail(name: str, detail: str) -> GateCheck:
    return GateCheck(name, ok=False, detail=detail)


def route_check(i: GateInputs, plan: SignalPlan) -> GateCheck:
    if plan.profile != i.profile:
        return _fail(
            "route",
            f"the plan was made by profile {plan.profile!r} ({plan.role}), not {i.profile!r};"
            " a comparison profile's plan never drives an executable route unless named",
        )
    if plan.role == "comparison" and not i.named:
        return _fail("route", f"profile {plan.profile!r} is a comparison profile and was not named")
    if i.official_strategy_line is None:
        return _fail("route", "no official profile is marked official: true")
    if plan.strategy_line != i.official_strategy_line or plan.capital != i.official_capital:
        return _fail(
            "route",
            f"the plan's strategy line {plan.strategy_line!r} and capital {plan.capital} do not"
            f" match the official profile's ({i.official_strategy_line!r},"
            f" {i.official_capital})",
        )
    return _ok("route", f"{i.role} profile {i.profile}, plan matches")


def broker_check(i: GateInputs) -> GateCheck:
    b = i.broker
    if b is None:
        return _fail("broker_snapshot", "broker state missing: no snapshot; run 'bastion probe'")
    state = b.position_state(i.now, i.max_age)
    if state is PositionState.MISSING:
        age = b.age(i.now)
        if b.positions is None or age is None:
            why = f"broker positions unknown ({b.positions_reason or 'no answer'})"
        else:
            why = (
                f"broker state stale: snapshot is {age.total_seconds():.0f} s old"
                f" (limit {i.max_age.total_seconds():.0f} s)"
            )
        return _fail("broker_snapshot", f"{why}; run 'bastion probe' again")
    return _ok("broker_snapshot", f"{state.value}, taken {b.positions_at}")


def _orders(
    plan: SignalPlan, held_by: Mapping[str, int]
) -> tuple[list[ProposedOrder], list[str], list[str]]:
    orders: list[ProposedOrder] = []
    skipped: list[str] = []
    mismatched: list[str] = []
    for s in plan.signals:
        held = held_by.get(s.instrument, 0)
        if s.action in CLOSING:
            if held == 0:
                skipped.append(
                    f"{s.instrument}: the plan {s.action}s {s.previous:+d} -> {s.target:+d},"
                    " but the broker is flat; nothing to close"
                )
                continue
            if (held > 0) != (s.previous > 0):
                mismatched.append(
                    f"{s.instrument}: the plan {s.action}s a {s.previous:+d} position but the"
                    f" broker holds {held:+d}"
                )
                continue
        delta = s.target - held
        if delta:
            orders.append(
                ProposedOrder(
                    s.instrument,
                    s.contract,
                    "buy" if delta > 0 else "sell",
                    abs(delta),
                    held,
                    s.target,
                    opens(held, s.target),
                )
            )
    return orders, skipped, mismatched


def _trading(i: GateInputs, plan: SignalPlan, any_open: bool) -> GateCheck:
    if i.kill_pending:
        return _fail("trading_state", "a kill request is pending; nothing may trade")
    if i.account_state is TradingState.HALTED:
        return _fail("trading_state", f"the account is HALTED ({i.account_state_reason})")
    if i.account_state is TradingState.REDUCE_ONLY and any_open:
        return _fail("trading_state", "the account is REDUCE_ONLY and the plan would open")
    for s in plan.signals:
        state = i.instrument_states.get(s.instrument, TradingState.ACTIVE)
        if state is not TradingState.ACTIVE:
            return _fail("trading_state", f"{s.instrument} is {state.upper()}")
        if i.locks.get(s.instrument):
            why = "; ".join(i.locks[s.instrument].values())
            return _fail("trading_state", f"{s.instrument} is locked ({why})")
    return _ok("trading_state", f"account {i.account_state.value}")


def recon_check(i: GateInputs) -> GateCheck:
    if i.recon is None:
        return _fail(
            "reconciliation", f"reconciliation could not run ({i.recon_note or 'unknown'})"
        )
    if not i.recon.clean:
        parts = [b.line().split("  ")[0].strip() for b in i.recon.breaks[:3]]
        parts += [f"unknown {u}" for u in i.recon.unknown]
        return _fail("reconciliation", "not clean: " + "; ".join(parts))
    return _ok("reconciliation", "clean")


def evaluate(i: GateInputs) -> GateResult:
    checks: list[GateCheck] = []
    plan = i.plan
    if plan is None:
        checks.append(_fail("plan", "no signal plan; run 'bastion shadow' first"))
        return _finish(i, checks, [], [])
    checks.append(route_check(i, plan))
    checks.append(broker_check(i))
    broker_ok = checks[-1].ok and i.broker is not None
    held_by = i.broker.by_instrument() if broker_ok and i.broker is not None else {}
    orders, skipped, mismatched = _orders(plan, held_by) if broker_ok else ([], [], [])
    any_open = any(o.opens for o in orders)
    level = parse_risk_level(plan.risk_level)
    if level is RiskLevel.UNKNOWN:
        checks.append(_fail("risk_level", f"risk level {plan.risk_level!r} is missing or unknown"))
    elif level is RiskLevel.REVIEW and any_open:
        opening = "; ".join(o.line() for o in orders if o.opens)
        checks.append(
            _fail("risk_level", f"review allows no new opens, but the plan would: {opening}")
        )
    else:
        checks.append(_ok("risk_level", f"{level.value} ({plan.risk_level_source})"))
    if plan.pool.stale:
        checks.append(_fail("pool", f"stale pool: {plan.pool.why}"))
    else:
        checks.append(_ok("pool", f"{plan.pool.period} ({plan.pool.start}..{plan.pool.end})"))
    bad_data = [c for c, ok in i.data_usable.items() if not ok]
    if plan.data_complete is None:
        checks.append(_ok("data", f"not used: a {plan.kind} plan reads no bars (targets 0)"))
    elif not plan.data_complete or bad_data:
        problems = list(plan.data_problems) + [
            f"{c} not usable (failed or never checked)" for c in bad_data
        ]
        checks.append(_fail("data", "incomplete data: " + "; ".join(problems[:3])))
    else:
        dates = ", ".join(plan.data_dates) or "-"
        checks.append(_ok("data", f"complete to {plan.target_date} (last bars {dates})"))
    checks.append(_trading(i, plan, any_open))
    checks.append(recon_check(i))
    if mismatched:
        checks.append(_fail("close_matches_broker", "; ".join(mismatched)))
    else:
        checks.append(_ok("close_matches_broker", f"{len(skipped)} close(s) skipped"))
    return _finish(i, checks, orders, skipped)


def _finish(
    i: GateInputs, checks: list[GateCheck], orders: list[ProposedOrder], skipped: list[str]
) -> GateResult:
    failed = [c for c in checks if not c.ok]
    if failed:
        return GateResult(GateStatus.BLOCKED, failed[0].detail, checks, orders, skipped, i.role)
    if not orders and skipped:
        return GateResult(
            GateStatus.SKIP_BROKER_FLAT_FOR_CLOSE, skipped[0], checks, orders, skipped, i.role
        )
    why = f"{len(orders)} order(s) to act on" if orders else "nothing to trade: at target"
    return GateResult(GateStatus.EXECUTABLE, why, checks, orders, skipped, i.role)
