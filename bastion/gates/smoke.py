"""The smoke order (R8.5): one lot, at a passive price, submitted and then cancelled.

It proves the whole path to a *test* venue works (write-ahead journal, pre-submit gate,
risk engine, venue, acknowledgement, cancel) without meaning to trade. Guards:

- never in a ``live`` environment;
- ``submit-cancel`` needs BOTH ``BASTION_SMOKE_ORDER_ENABLED=1`` in the environment AND
  the exact phrase ``I_UNDERSTAND_THIS_SENDS_TEST_ORDERS`` on the command line;
- the order goes through the kernel's engine and its one send path: the
  ``PreSubmitGate`` (fresh broker snapshot, clean reconciliation), the locks and the
  risk engine (path ``SMOKE``), the write-ahead journal, then the venue; it is marked
  submitted only if the venue took it, and the cancel goes the same way;
- the engine recovers and reconciles against the venue before anything is sent;
- one lot, a limit ``offset_ticks`` away from the touch on the passive side;
- ``submit-cancel`` needs a prior ``dry-run`` of the same contract, side and volume
  whose broker snapshot is at most ``snapshot_max_age_seconds`` old, and sends at the
  dry run's price (the operator's procedure: look first, then send exactly what was
  looked at); otherwise it refuses in one line naming the dry run to run first. The
  dry run's result is kept in the run state (``DRY_RUN_STATE``).

``dry-run`` does everything but send: it prints the order it would send. A fill (the
market moved through the passive price) is not hidden: it is journaled like any fill,
the residual position is reported, and a reconciliation runs after the cancel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bastion.config import Environment, Profile
from bastion.domain.contracts import parse_contract_id
from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId
from bastion.domain.market import MarketView
from bastion.domain.order_state import TERMINAL, OrderState
from bastion.domain.records import BrokerOrderCreated, FillRecorded
from bastion.engine.engine import Engine
from bastion.errors import UserError
from bastion.gates.smoke_guards import DEFAULT_GUARD, smoke_guard
from bastion.oms.sending import SendOutcome
from bastion.risk.port import OrderPath, OrderRequest

__all__ = [
    "CONFIRM_PHRASE",
    "DRY_RUN_STATE",
    "ENABLE_VAR",
    "SmokeReport",
    "check_smoke_allowed",
    "dry_run_price",
    "dry_run_record",
    "run_smoke",
]

DRY_RUN_STATE = "smoke-dry-run.json"
"""The last dry run's order and broker snapshot time, in the run state folder."""
ENABLE_VAR = DEFAULT_GUARD.flag
CONFIRM_PHRASE = DEFAULT_GUARD.phrase
"""Bastion's own pair; a venue whose operators use their own (CTP) has it in
``bastion.gates.smoke_guards``."""
MODES = ("dry-run", "submit-cancel")


def check_smoke_allowed(
    profile: Profile, mode: str, confirm: str | None, environ: Mapping[str, str]
) -> None:
    """Refuse (one line, saying why) unless the smoke order may run in ``mode``."""
    if mode not in MODES:
        raise UserError(f"--mode {mode!r}; expected dry-run or submit-cancel")
    if profile.environment is Environment.LIVE:
        raise UserError(
            f"smoke orders are for test environments only; profile {profile.name} is live"
        )
    if mode != "submit-cancel":
        return
    guard = smoke_guard(profile.venue.kind)
    if environ.get(guard.flag) != "1":
        raise UserError(
            f"submit-cancel sends a real order to the test venue: set {guard.flag}=1 in the"
            f" environment AND pass --confirm-submit {guard.phrase}"
        )
    if confirm != guard.phrase:
        raise UserError(
            f"submit-cancel needs the exact phrase: --confirm-submit {guard.phrase}"
            + ("" if confirm is None else " (the phrase given does not match)")
        )


def dry_run_record(report: SmokeReport, snapshot_at: str, at: dt.datetime) -> dict[str, Any]:
    """What a dry run leaves for the submit that follows it."""
    return {
        "contract": report.contract,
        "side": report.side,
        "quantity": report.quantity,
        "limit_ticks": report.limit_ticks,
        "refused": report.refused,
        "snapshot_at": snapshot_at,
        "at": at.isoformat(),
    }


def dry_run_price(
    record: Mapping[str, Any] | None,
    contract: str,
    side: str,
    quantity: int,
    *,
    now: dt.datetime,
    max_age: dt.timedelta,
) -> int:
    """The dry run's price for this submit, or a ``UserError`` (one line) saying which
    dry run to run first and why the last one does not do."""
    command = f"bastion smoke-order --contract {contract} --side {side} --mode dry-run"
    need = (
        f"submit-cancel needs a dry run of {side} {quantity} {contract} whose broker snapshot"
        f" is at most {max_age.total_seconds():g} s old: run '{command}' first"
    )
    if record is None:
        raise UserError(f"{need} (no dry run recorded)")
    ran = f"{record.get('side')} {record.get('quantity')} {record.get('contract')}"
    if ran != f"{side} {quantity} {contract}":
        raise UserError(f"{need} (the last dry run was {ran})")
    if record.get("refused"):
        raise UserError(f"{need} (the last dry run was refused: {record['refused']})")
    try:
        taken = dt.datetime.fromisoformat(str(record.get("snapshot_at")))
    except ValueError:
        raise UserError(f"{need} (the last dry run has no snapshot time)") from None
    age = now - taken
    if age > max_age or age < dt.timedelta(0):
        raise UserError(f"{need} (the last dry run's snapshot is {age.total_seconds():.0f} s old)")
    price = record.get("limit_ticks")
    if not isinstance(price, int):
        raise UserError(f"{need} (the last dry run has no price)")
    return price


@dataclass(slots=True)
class SmokeReport:
    mode: str
    contract: str
    side: str
    limit_ticks: int | None
    client_order_id: str
    sent: bool = False
    refused: str = ""
    venue_order_id: str | None = None
    final_status: str = "not sent"
    traded_volume: int = 0
    residual_position: int | None = None
    reconciled: str = "not run"
    rejected: str = ""
    """The venue's reason, when it rejected the order."""
    quantity: int = 1
    counters: dict[str, int] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    trades: list[dict[str, str]] = field(default_factory=list)
    """One row per fill of the smoke order, as journaled: execution id, side, volume,
    price (in price units), time, commission."""
    limit_price: str = ""
    """The limit as a person reads it, in price units (``limit_ticks`` is the engine's)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "contract": self.contract,
            "side": self.side,
            "limit_ticks": self.limit_ticks,
            "limit_price": self.limit_price,
            "client_order_id": self.client_order_id,
            "sent": self.sent,
            "refused": self.refused,
            "venue_order_id": self.venue_order_id,
            "final_status": self.final_status,
            "traded_volume": self.traded_volume,
            "residual_position": self.residual_position,
            "reconciled": self.reconciled,
            "rejected": self.rejected,
            "trades": self.trades,
            **self.counters,
        }


def _trade_rows(engine: Engine, coid: ClientOrderId) -> list[dict[str, str]]:
    """The smoke order's fills as the journal holds them (it is one order: a short scan)."""
    rows = []
    for entry in engine.store.entries():
        record = entry.record
        if not isinstance(record, FillRecorded) or record.fill.client_order_id != coid:
            continue
        fill = record.fill
        spec = engine.risk.specs.get(parse_contract_id(fill.contract_id)[0])
        price = str(spec.from_ticks(fill.price_ticks)) if spec else f"{fill.price_ticks} ticks"
        rows.append(
            {
                "exec_id": str(fill.exec_id),
                "side": str(fill.side),
                "volume": str(fill.quantity),
                "price": price,
                "time": fill.timestamp.isoformat(),
                "commission": str(fill.commission),
            }
        )
    return rows


def _passive_price(market: MarketView, contract: ContractId, side: Side, offset: int) -> int:
    quote = market.quote(contract)
    if quote is None:
        raise UserError(f"no market quote for {contract}; a passive price needs the touch")
    touch = quote.bid_ticks if side is Side.BUY else quote.ask_ticks
    if touch is None:
        touch = quote.last_ticks
    if touch is None:
        raise UserError(f"no bid, ask or last price for {contract}")
    return touch - offset if side is Side.BUY else touch + offset


def _refuse(report: SmokeReport, engine: Engine, why: str) -> SmokeReport:
    report.refused = why
    report.counters = engine.gateway.counters.as_dict()
    return report


def _drive(
    engine: Engine, done: Callable[[], bool], timeout: float, wait: Callable[[float], None]
) -> bool:
    """Run engine passes (events, reconciliation, duties; nothing new traded) until
    ``done`` or the timeout."""
    waited = 0.0
    step = 0.05
    while True:
        engine.iterate(trade=False)
        if done():
            return True
        if waited >= timeout:
            return False
        wait(step)
        waited += step


def run_smoke(  # noqa: PLR0917 - the order's facts, in reading order
    engine: Engine,
    contract: ContractId,
    side: Side,
    mode: str,
    offset_ticks: int = 5,
    timeout: float = 5.0,
    wait: Callable[[float], None] = lambda _s: None,
    price_ticks: int | None = None,
) -> SmokeReport:
    """The smoke order on the kernel's engine (its gate is the pre-submit gate's).
    ``price_ticks``: the price to send at (a submit's, from its dry run); default the
    passive price ``offset_ticks`` from the touch now."""
    clock = engine.clock
    counters = engine.gateway.counters
    now = clock.now()
    instrument = InstrumentId(contract.split("/")[0])
    coid = ClientOrderId(f"SMOKE-{now:%Y%m%dT%H%M%S%f}")
    report = SmokeReport(mode, str(contract), side.value, None, str(coid))
    if engine.risk.pending_kill() is not None:
        return _refuse(report, engine, "trading_state: a kill is pending; let the engine run it")
    _drive(engine, lambda: engine.ready, timeout, wait)
    if not engine.ready:
        return _refuse(report, engine, f"engine not ready: {engine.state().value}")
    price = (
        price_ticks
        if price_ticks is not None
        else _passive_price(engine.stack.market, contract, side, offset_ticks)
    )
    report.limit_ticks = price
    spec = engine.risk.specs.get(instrument)
    shown = report.limit_price = (
        spec.price_text(price) if spec is not None else f"{price} ticks (no contract spec)"
    )
    created = BrokerOrderCreated(
        timestamp=clock.now(),
        client_order_id=coid,
        contract_id=contract,
        side=side,
        quantity=1,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        limit_ticks=price,
        venue=engine.gateway.venue_name,
        reference_ticks=price + (offset_ticks if side is Side.BUY else -offset_ticks),
        attribute_to_holders=False,
    )
    request = OrderRequest(created, OrderPath.SMOKE, instrument)
    if mode == "dry-run":
        decision = engine.gateway.risk.check(request)  # the gates only: nothing is written
        if not decision.allowed:
            report.refused = f"{decision.check}: {decision.message}"
        else:
            report.steps.append(f"gates passed: {side} 1 {contract} limit {shown} (passive)")
            report.final_status = "not sent (dry run)"
        report.counters = counters.as_dict()
        return report
    result = engine.gateway.send(request)
    if result.outcome is SendOutcome.DENIED:
        return _refuse(report, engine, f"{result.check}: {result.message}")
    report.steps.append(f"gates passed: {side} 1 {contract} limit {shown} (passive)")
    report.sent = result.sent
    report.steps.append(
        "submitted (taken by the venue)" if result.sent else f"not taken: {result.message}"
    )

    def state() -> OrderState:
        found = engine.oms.book.broker_order(coid)
        return found.state if found is not None else OrderState.LOST

    acked = _drive(engine, lambda: state() is not OrderState.PENDING_NEW, timeout, wait)
    report.steps.append(f"after submit: {state()}" + ("" if acked else " (no answer yet)"))
    if state() not in TERMINAL:
        engine.gateway.cancel(coid, "smoke order: submit then cancel")
        report.steps.append("cancel sent")
        _drive(engine, lambda: state() in TERMINAL, timeout, wait)
    return _outcome(engine, report, coid, contract)


def _outcome(
    engine: Engine, report: SmokeReport, coid: ClientOrderId, contract: ContractId
) -> SmokeReport:
    final = engine.oms.book.broker_order(coid)
    if final is not None:
        report.final_status = final.state.value
        report.traded_volume = final.filled
        report.venue_order_id = final.venue_order_id
        if final.state is OrderState.REJECTED:
            report.rejected = final.reject_reason or "no reason given"
        if final.filled:
            report.trades = _trade_rows(engine, coid)
    report.counters = engine.gateway.counters.as_dict()
    positions = engine.venue.positions()
    if positions.value is not None:
        record = positions.value.get(contract)
        report.residual_position = record.net if record is not None else 0
    return report
