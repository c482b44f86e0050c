"""Gathering the gate's inputs from disk and the venue; running the dry-run gate (R8.3).

``gather_inputs`` reads the signal plan, the broker snapshot (the probe's file, or a
fresh one), the profile's store (trading states, kill request, locks, Bastion's book
and fills) and the data verdicts, and reconciles the book with the snapshot. Nothing
here sends or cancels an order: the venue, when one is opened, is wrapped dry-run, and
its counters go into the result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bastion.clock import WallClock
from bastion.domain.enums import Side
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, InstrumentId, StrategyId
from bastion.gates.broker import BrokerState
from bastion.gates.checks import GateInputs
from bastion.gates.profiles import ResolvedProfile
from bastion.marketdata.checks import is_usable
from bastion.recon.breaks import FillFact, ReconReport, Views, reconcile
from bastion.recon.locks import LockBook
from bastion.recon.views import FillIndex
from bastion.risk.board import StateBoard
from bastion.risk.kill_request import pending_kill
from bastion.risk.states import Scope, TradingState
from bastion.strategy.plan import SignalPlan

__all__ = ["StoreFacts", "gather_inputs", "read_store"]


@dataclass(slots=True)
class StoreFacts:
    account_state: TradingState
    account_reason: str
    instrument_states: dict[str, TradingState]
    kill_pending: bool
    locks: dict[str, dict[str, str]]
    recon: ReconReport | None
    recon_note: str
    positions: dict[str, int]
    """Bastion's contract positions (non-zero)."""


def _broker_fills(state: BrokerState) -> dict[ExecId, FillFact] | None:
    if state.fills is None:
        return None
    return {
        ExecId(f["exec_id"]): FillFact(
            ContractId(f["contract"]),
            Side(f["side"]),
            int(f["quantity"]),
            ClientOrderId(f["client_order_id"]),
        )
        for f in state.fills
    }


def read_store(resolved: ResolvedProfile, broker: BrokerState | None) -> StoreFacts:
    """Trading states, locks and the reconciliation of the store's book with ``broker``."""
    profile = resolved.profile
    path = Path(profile.store.path)
    if not path.exists():
        views = Views(
            targets={},
            strategy_positions={},
            contract_positions={},
            broker_positions=None
            if broker is None or broker.positions is None
            else {ContractId(c): q for c, q in broker.positions.items()},
            broker_fills=None if broker is None else _broker_fills(broker),
        )
        return StoreFacts(
            account_state=TradingState.ACTIVE,
            account_reason="",
            instrument_states={},
            kill_pending=False,
            locks={},
            recon=reconcile(views),
            recon_note="no journal yet",
            positions={},
        )
    from bastion.store import SqliteStore

    store = SqliteStore(path, clock=WallClock())
    try:
        board = StateBoard(store, WallClock())
        account = board.status(Scope.account())
        instruments = {
            iid: board.state(Scope.instrument(InstrumentId(iid))) for iid in profile.instruments
        }
        kill = pending_kill(store) is not None
        locks = {str(k): dict(v) for k, v in LockBook(store).locks().items()}
        book = store.book
        fills = FillIndex()
        fills.extend(entry.record for entry in store.entries())
        working: dict[tuple[StrategyId, InstrumentId], int] = {}
        for order in book.instrument_orders.values():
            key = (order.strategy_id, order.instrument_id)
            working[key] = working.get(key, 0) + order.remaining * order.side.sign
        contract_positions = {cid: q for (_, cid), q in book.positions.contract.items()}
        views = Views(
            targets={},
            strategy_positions=dict(book.positions.strategy),
            contract_positions=contract_positions,
            working=working,
            broker_positions=None
            if broker is None or broker.positions is None
            else {ContractId(c): q for c, q in broker.positions.items()},
            bastion_fills=dict(fills.venue_fills),
            broker_fills=None if broker is None else _broker_fills(broker),
            adopted_exec_ids=frozenset(fills.adopted),
        )
        return StoreFacts(
            account.state,
            account.reason,
            instruments,
            kill,
            locks,
            reconcile(views),
            "",
            {str(c): q for c, q in contract_positions.items() if q},
        )
    finally:
        store.close()


def gather_inputs(
    resolved: ResolvedProfile,
    plan: SignalPlan | None,
    broker: BrokerState | None,
    now: dt.datetime,
) -> tuple[GateInputs, StoreFacts]:
    profile = resolved.profile
    facts = read_store(resolved, broker)
    usable = {}
    if plan is not None and plan.data_complete is not None:  # a flatten plan reads no bars
        usable = {
            s.contract: is_usable(Path(profile.data.dir), ContractId(s.contract), "1m")
            for s in plan.signals
        }
    official = resolved.official
    inputs = GateInputs(
        profile=profile.name,
        role=resolved.role.value,
        named=resolved.named,
        official_strategy_line=(
            profile.strategy_line
            if resolved.is_comparison
            else (official.strategy_line if official else None)
        ),
        official_capital=(
            str(profile.capital)
            if resolved.is_comparison
            else (str(official.capital) if official else None)
        ),
        plan=plan,
        broker=broker,
        now=now,
        max_age=dt.timedelta(seconds=profile.snapshot_max_age_seconds),
        account_state=facts.account_state,
        account_state_reason=facts.account_reason,
        instrument_states=facts.instrument_states,
        kill_pending=facts.kill_pending,
        locks=facts.locks,
        recon=facts.recon,
        recon_note=facts.recon_note,
        data_usable=usable,
    )
    return inputs, facts
