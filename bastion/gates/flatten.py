"""Flatten (R8.9): graceful or immediate, both through the risk engine's kill path.

- **immediate**: the kill switch now (``KillSwitch.run``): HALTED persisted and
  journaled, every working order cancelled, every venue position closed with
  marketable limit orders a few ticks through the touch (the risk engine's reduced
  checks, never none), and flat confirmed by a fresh venue snapshot.
- **graceful**: the account goes REDUCE_ONLY (journaled with the reason) and a flatten
  plan is written: every instrument the broker holds gets a target of 0 at risk level
  ``review``, so the next session closes through the normal stack, inside every limit
  (order size, price distance, rate) and with its passive algos.

A flatten plan reads no bars, so it claims nothing about data: its signals have no
data date and no reference price, and its ``data_complete`` is ``None`` (not
applicable). Its target date is the day it was made; the gate's data check says the
plan reads no data instead of "complete to" a day no bar was checked for.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bastion.config import Profile
from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId
from bastion.gates.broker import BrokerState
from bastion.strategy.plan import Action, PlanSignal, PoolInfo, SignalPlan, save_plan

__all__ = ["flatten_plan"]


def flatten_plan(
    profile: Profile,
    *,
    role: str,
    broker: BrokerState,
    now: dt.datetime,
    reason: str,
    folder: Path,
) -> tuple[SignalPlan, Path]:
    """A plan that closes every position the broker holds, at risk level review."""
    signals = []
    for cid, held in sorted((broker.positions or {}).items()):
        if not held:
            continue
        instrument = parse_contract_id(ContractId(cid))[0]
        signals.append(
            PlanSignal(
                instrument=instrument,
                contract=cid,
                previous=held,
                target=0,
                action=Action.CLOSE,
                forecast=0.0,
                reference_price=None,
                reference_ticks=None,
                data_date=None,
                notes=(f"graceful flatten: {reason}",),
            )
        )
    plan = SignalPlan(
        kind="flatten",
        profile=profile.name,
        role=role,
        strategy_line=profile.strategy_line,
        capital=str(profile.capital),
        target_date=now.date().isoformat(),
        generated_at=now.isoformat(),
        risk_level="review",
        risk_level_source=f"operator flatten --graceful ({reason})",
        pool=PoolInfo(
            period="flatten",
            cadence="none",
            start=now.date().isoformat(),
            end=now.date().isoformat(),
            source=f"graceful flatten: {reason}",
            file="-",
            sha256="-",
            stale=False,
        ),
        data_complete=None,
        signals=tuple(signals),
    )
    return plan, save_plan(plan, folder)
