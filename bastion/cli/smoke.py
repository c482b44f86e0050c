"""``bastion smoke-order``: one lot, passive, submit then cancel, test environments only.

``--mode dry-run`` runs every gate and prints the order it would send (nothing is
sent), and keeps it for the submit. ``--mode submit-cancel`` needs BOTH
``BASTION_SMOKE_ORDER_ENABLED=1`` AND ``--confirm-submit
I_UNDERSTAND_THIS_SENDS_TEST_ORDERS`` (on a CTP profile, CTP operators' own pair:
``CTP_SMOKE_ORDER_ENABLED=1`` and ``I_UNDERSTAND_THIS_SENDS_CTP_TEST_ORDERS``), a dry run
of the same contract, side and volume whose broker snapshot is at most
``snapshot_max_age_seconds`` old (it sends at that dry run's price), and refuses a live
profile.
It reports the send and cancel call counts, the venue order id, the final status, the
traded volume and the residual position; a fill is journaled and reconciled. Exit
status 3 when a gate or the risk engine refused it (the table in ``bastion.cli.exits``).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import TYPE_CHECKING, Annotated

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.numbers import MAX_TIMEOUT_SECONDS, bounded
from bastion.cli.runs import (
    JsonOpt,
    ProfileArg,
    RunContext,
    SecretArg,
    refuse_secret,
    start_run,
)

if TYPE_CHECKING:
    from bastion.clock import Clock
    from bastion.domain.ids import ContractId
    from bastion.domain.market import MarketView
    from bastion.gates.smoke import SmokeReport
    from bastion.strategy.plan import SignalPlan
    from bastion.venues.port import VenuePort

__all__ = ["smoke_command"]

ConfirmOpt = Annotated[
    str | None,
    typer.Option(
        "--confirm-submit",
        help="The exact phrase: I_UNDERSTAND_THIS_SENDS_TEST_ORDERS"
        " (CTP: I_UNDERSTAND_THIS_SENDS_CTP_TEST_ORDERS).",
    ),
]


def _market(
    raw: VenuePort, cid: ContractId, plan: SignalPlan | None, clock: Clock, timeout: float
) -> MarketView:
    """The venue's own quotes (FIX), or, for the in-process sim venue, a quote at the
    plan's reference price given to both the venue and the risk engine."""
    from bastion.domain.market import MarketQuote, StaticMarket
    from bastion.errors import UserError
    from bastion.venues.sim import SimVenue
    from bastion.venues.sim.market_data import Quote

    if not isinstance(raw, SimVenue):
        own = raw.market
        deadline = time.monotonic() + timeout
        while own.quote(cid) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return own
    signals = plan.signals if plan is not None else ()
    ref = next((s.reference_ticks for s in signals if s.contract == cid), None)
    if ref is None:
        raise UserError(f"no reference price for {cid}: run 'bastion shadow' first")
    now = clock.now()
    static = StaticMarket()
    static.set(
        MarketQuote(
            contract_id=cid,
            bid_ticks=ref - 1,
            ask_ticks=ref + 1,
            last_ticks=ref,
            last_tick_at=now,
            bid_size=10,
            ask_size=10,
        )
    )
    if isinstance(raw, SimVenue):
        raw.on_quote(
            Quote(
                contract_id=cid,
                bid_ticks=ref - 1,
                ask_ticks=ref + 1,
                bid_size=10,
                ask_size=10,
                timestamp=now,
            )
        )
    return static


def _show(run: RunContext, report: SmokeReport) -> str:
    for step in report.steps:
        run.echo(f"  {step}")
    if report.refused:
        run.echo(f"smoke order REFUSED: {report.refused}")
    run.echo(
        f"order: {report.side} 1 {report.contract} limit {report.limit_price or '-'},"
        f" id {report.client_order_id}"
    )
    sends = report.counters.get("send_order_calls", 0)
    cancels = report.counters.get("cancel_order_calls", 0)
    run.echo(f"send_order_calls: {sends}; cancel_order_calls: {cancels}")
    run.echo(f"venue order id: {report.venue_order_id or '-'}")
    run.echo(f"final status: {report.final_status}")
    run.echo(f"traded volume: {report.traded_volume}")
    for row in report.trades:
        run.echo(
            f"  trade {row['exec_id']}: {row['side']} {row['volume']} at {row['price']}"
            f" ({row['time']}, commission {row['commission']})"
        )
    residual = report.residual_position
    run.echo(f"residual position: {'unknown' if residual is None else f'{residual:+d}'}")
    run.echo(f"reconciliation after: {report.reconciled}")
    if report.traded_volume:
        run.echo("NOTE: the smoke order traded; its fills are journaled and listed above")
    if report.rejected:
        run.echo(f"smoke order REJECTED by the venue: {report.rejected}")
    if report.refused:
        return "fix the refusal reason, then retry"
    if report.rejected:
        return (
            "the venue answered but did not take the order: fix what its reason names"
            " (contract, price, account), then dry-run and retry"
        )
    if residual:
        return "close the residual position (bastion flatten --immediate --reason ...)"
    return "smoke test done: the path to the venue works"


def smoke_command(  # noqa: PLR0915, PLR0917 - typer options; one linear recipe
    contract: Annotated[str, typer.Option("--contract", help="Contract id, e.g. ES/202606.")],
    side: Annotated[str, typer.Option("--side", help="buy or sell.")] = "buy",
    mode: Annotated[str, typer.Option("--mode", help="dry-run or submit-cancel.")] = "dry-run",
    confirm_submit: ConfirmOpt = None,
    profile: ProfileArg = None,
    offset_ticks: Annotated[
        int, typer.Option("--offset-ticks", help="Ticks away from the touch (passive).")
    ] = 5,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Venue connect/query timeout, s (0 < s <= 3600).",
            callback=bounded("--timeout", 0, MAX_TIMEOUT_SECONDS, low_open=True, unit="s"),
        ),
    ] = 5.0,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """Smoke order: one lot at a passive price; submit then cancel (test venues only).

    Exit status 3 when a gate or the risk engine refused the order.
    """
    from bastion.clock import WallClock
    from bastion.domain.enums import Side
    from bastion.domain.ids import ContractId, InstrumentId
    from bastion.engine.kernel import build_engine, config_from_profile
    from bastion.errors import UserError
    from bastion.gates.broker import broker_state_path, save_broker_state, take_broker_state
    from bastion.gates.dryrun import gather_inputs
    from bastion.gates.presubmit import PreSubmitGate
    from bastion.gates.shadow import plans_dir
    from bastion.gates.smoke import (
        DRY_RUN_STATE,
        check_smoke_allowed,
        dry_run_price,
        dry_run_record,
        run_smoke,
    )
    from bastion.gates.state import load_state, save_state
    from bastion.ops.monitor import attach_monitor
    from bastion.orders.rolls import FixedSchedule
    from bastion.risk.port import RiskGate
    from bastion.strategy.plan import load_plan, newest_plan
    from bastion.venues.modes import DryRunVenue
    from bastion.venues.registry import open_venue, profile_contracts

    refuse_secret(secret)
    if side not in {"buy", "sell"}:
        raise UserError(f"--side {side!r}; expected buy or sell")
    run = start_run(
        profile,
        secret,
        json=json_out,
        sends_orders="bastion smoke-order" if mode != "dry-run" else None,
    )
    p = run.resolved.profile
    check_smoke_allowed(p, mode, confirm_submit, os.environ)
    contracts = profile_contracts(p)
    cid = ContractId(contract)
    if cid not in contracts:
        listed = ", ".join(sorted(contracts)) or "none"
        raise UserError(
            f"--contract {contract!r} is not listed by the venue of profile {p.name}"
            f" (listed: {listed})"
        )
    clock = WallClock()
    max_age = dt.timedelta(seconds=p.snapshot_max_age_seconds)
    price: int | None = None
    if mode == "submit-cancel":  # only what a dry run looked at, at its price
        price = dry_run_price(
            load_state(run.resolved, DRY_RUN_STATE),
            contract,
            side,
            1,
            now=clock.now(),
            max_age=max_age,
        )
    run.banner(f"smoke-order ({mode})")
    raw = open_venue(p, "smoke", clock, timeout=timeout)
    venue = DryRunVenue(raw, clock) if mode == "dry-run" else raw
    plan_path = newest_plan(plans_dir(run.resolved))
    plan = load_plan(plan_path) if plan_path else None
    iid = InstrumentId(contract.split("/")[0])
    engine = None
    try:
        state = take_broker_state(venue, clock, contracts)
        save_broker_state(state, broker_state_path(p))

        def wrap(inner: RiskGate) -> RiskGate:
            return PreSubmitGate(
                inner, lambda: gather_inputs(run.resolved, plan, state, clock.now())[0]
            )

        engine = build_engine(
            config_from_profile(
                p,
                {iid: contracts[cid]},
                FixedSchedule(contracts={iid: cid}),
                market=_market(raw, cid, plan, clock, timeout),
                wrap_gate=wrap,
                risk_level=(plan.risk_level, f"signal plan {plan.target_date}")
                if plan is not None
                else None,
            ),
            venue,
            clock,
        )
        attach_monitor(engine, p)
        report = run_smoke(
            engine, cid, Side(side), mode, offset_ticks, timeout, time.sleep, price_ticks=price
        )
        if mode == "dry-run":
            save_state(
                run.resolved,
                DRY_RUN_STATE,
                dry_run_record(report, state.taken_at, clock.now()),
                run.redactor,
            )
        engine.close()
        engine = None
        after = take_broker_state(venue, clock, contracts)
        save_broker_state(after, broker_state_path(p))
        if after.positions is not None:
            report.residual_position = after.positions.get(contract, 0)
        recon = gather_inputs(run.resolved, plan, after, clock.now())[1].recon
        if recon is not None and recon.clean:
            report.reconciled = "clean"
        else:
            breaks = "; ".join(b.line() for b in (recon.breaks if recon else ()))
            report.reconciled = f"NOT clean: {breaks or 'unknown view'}"
    finally:
        venue.disconnect()
        if engine is not None:
            engine.close()
    next_step = _show(run, report)
    run.echo(f"next step: {next_step}")
    counts = {k: report.counters.get(k, 0) for k in ("send_order_calls", "cancel_order_calls")}
    record = run.record(
        "smoke-order",
        broker_state=after.summary(clock.now(), max_age),
        gate_result=f"refused: {report.refused}"
        if report.refused
        else f"rejected by the venue: {report.rejected}"
        if report.rejected
        else "passed",
        api_counts=counts,
        next_step=next_step,
        details=report.as_dict(),
    )
    run.write(record)
    run.finish(int(ExitCode.VERDICT_NO if report.refused or report.rejected else ExitCode.SUCCESS))
