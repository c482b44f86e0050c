"""``bastion flatten`` and ``bastion session --watch`` (R8.9).

``flatten --immediate --reason TEXT`` runs the kill switch now against the profile's
venue: HALTED, cancel everything, close with marketable limits, confirm flat.
``flatten --graceful --reason TEXT`` sets the account REDUCE_ONLY and writes a flatten
plan (targets 0, risk level review) for the next session to work inside every limit.
``watch`` connects read-only, monitors and reconciles, and sends nothing; it exits 3
when the last round's reconciliation is not clean (the table in ``bastion.cli.exits``).
Flatten sends orders, so it never defaults to a live profile.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.numbers import MAX_TIMEOUT_SECONDS, bounded
from bastion.cli.runs import JsonOpt, ProfileArg, SecretArg, start_run

__all__ = ["flatten_command", "watch_command"]

TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Venue connect/query timeout, s (0 < s <= 3600).",
        callback=bounded("--timeout", 0, MAX_TIMEOUT_SECONDS, low_open=True, unit="s"),
    ),
]


def flatten_command(  # noqa: PLR0915, PLR0917 - typer options; both forms in one recipe
    graceful: Annotated[
        bool, typer.Option("--graceful", help="REDUCE_ONLY + flatten plan.")
    ] = False,
    immediate: Annotated[bool, typer.Option("--immediate", help="The kill switch now.")] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (journaled; required).")
    ] = None,
    profile: ProfileArg = None,
    timeout: TimeoutOpt = 5.0,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """Flatten every position: --graceful (within limits) or --immediate (kill switch)."""
    from bastion.clock import WallClock
    from bastion.engine.requests import kill_now
    from bastion.errors import UserError
    from bastion.gates.broker import broker_state_path, save_broker_state, take_broker_state
    from bastion.gates.flatten import flatten_plan
    from bastion.gates.shadow import plans_dir
    from bastion.ops.monitor import attach_monitor
    from bastion.risk.board import StateBoard
    from bastion.risk.states import Scope, StateEvent, TradingState
    from bastion.store import SqliteStore
    from bastion.venues.registry import open_venue, profile_contracts

    if graceful == immediate:
        raise UserError("choose one form: --graceful (within limits) or --immediate (kill switch)")
    if reason is None or not reason.strip():
        raise UserError("flatten needs a reason: --reason TEXT (it is journaled)")
    run = start_run(profile, secret, json=json_out, sends_orders="bastion flatten")
    p = run.resolved.profile
    form = "graceful" if graceful else "immediate"
    run.banner(f"flatten --{form}")
    clock = WallClock()
    contracts = profile_contracts(p)
    venue = open_venue(p, "flatten", clock, timeout=timeout)
    from bastion.files import ensure_folder

    ensure_folder(p.store.path.parent, "journal folder")
    store = SqliteStore(p.store.path, clock=clock)
    outputs: list[str] = []
    flat_ok = True  # an immediate flatten not confirmed flat: the venue failed to confirm
    try:
        before = take_broker_state(venue, clock, contracts)
        if graceful:
            board = StateBoard(store, clock)
            if board.state(Scope.account()) is TradingState.HALTED:
                run.echo("account: stays HALTED (tighter than reduce-only; not loosened)")
            else:
                change = board.apply(
                    Scope.account(), StateEvent.OPERATOR_REDUCE, reason, actor="operator (flatten)"
                )
                run.echo(f"account: {change.before} -> {change.after} (journaled: {reason})")
            if before.positions is None:
                raise UserError("the broker's positions are unknown: no flatten plan written")
            held = {c: q for c, q in before.positions.items() if q}
            if held:
                plan, path = flatten_plan(
                    p,
                    role=run.resolved.role.value,
                    broker=before,
                    now=clock.now(),
                    reason=reason,
                    folder=plans_dir(run.resolved),
                )
                outputs.append(str(path))
                for s in plan.signals:
                    run.echo(f"  close {s.contract} {s.previous:+d} -> 0")
                run.echo(
                    f"flatten plan: {path} ({len(plan.signals)} position(s), risk level review)"
                )
            else:
                run.echo("the broker holds nothing: no flatten plan needed")
            next_step = "run 'bastion gate dry-run', then the session closes within limits"
            counts = venue.counters.as_dict()
            result = f"graceful: reduce-only, {len(held)} position(s) to close"
        else:
            venue.disconnect()  # the kill switch runs on an engine's own session
            outcome = kill_now(
                p,
                reason,
                "operator (flatten)",
                clock,
                timeout=timeout,
                attach=lambda engine, after: attach_monitor(engine, p, after_seq=after),
            )
            run.echo(f"kill switch run by {outcome.via}")
            for line in outcome.lines:
                run.echo(f"  {line}")
            run.echo(outcome.headline)
            counts = {
                k: outcome.api_calls.get(k, 0) for k in ("send_order_calls", "cancel_order_calls")
            }
            result = outcome.headline
            flat_ok = outcome.flat_confirmed is True
            next_step = (
                "flat confirmed; the account stays HALTED until 'bastion risk resume'"
                if outcome.flat_confirmed
                else "NOT flat: check the venue and flatten again; see docs/risk.md"
            )
        after = take_broker_state(venue, clock, contracts)
        outputs.append(str(save_broker_state(after, broker_state_path(p))))
    finally:
        venue.disconnect()
        store.close()
    run.echo(
        f"order API calls: send {counts['send_order_calls']}, cancel {counts['cancel_order_calls']}"
    )
    run.echo(f"next step: {next_step}")
    max_age = dt.timedelta(seconds=p.snapshot_max_age_seconds)
    record = run.record(
        "flatten",
        broker_state=after.summary(clock.now(), max_age),
        gate_result=result,
        api_counts=counts,
        output_files=outputs,
        next_step=next_step,
        notes=[f"form: {form}", f"reason: {reason}"],
    )
    run.write(record)
    run.finish(int(ExitCode.SUCCESS if flat_ok else ExitCode.ENVIRONMENT))


def watch_command(  # noqa: PLR0917 - the options of session --watch
    profile: ProfileArg = None,
    cycles: Annotated[int, typer.Option("--cycles", help="Rounds (0: until Ctrl-C).")] = 0,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between rounds.")] = 10.0,
    timeout: float = 5.0,
    json_out: bool = False,
    secret: SecretArg = None,
) -> None:
    """Watch: connect read-only, monitor and reconcile each round; send nothing."""
    from bastion.clock import WallClock
    from bastion.errors import UserError
    from bastion.gates.watch import watch
    from bastion.venues.modes import ReadOnlyVenue
    from bastion.venues.registry import open_venue, profile_contracts

    if cycles < 0 or interval < 0:
        raise UserError("--cycles and --interval must not be negative")
    run = start_run(profile, secret, json=json_out)
    p = run.resolved.profile
    run.banner("session --watch (read-only: nothing is sent)")
    clock = WallClock()
    venue = ReadOnlyVenue(open_venue(p, "watch", clock, timeout=timeout), clock)
    lines = []
    last = None
    try:
        lines, last = watch(
            run.resolved,
            venue,
            clock,
            profile_contracts(p),
            cycles,
            interval,
            time.sleep,
            lambda line: run.echo(line.text()),
        )
    except KeyboardInterrupt:
        run.echo("stopped by the operator")
    finally:
        venue.disconnect()
    counts = venue.counters.as_dict()
    run.echo(
        f"order API calls: send {counts['send_order_calls']}, cancel {counts['cancel_order_calls']}"
    )
    from bastion.reports.pnl_report import pnl_summary_lines, profile_pnl
    from bastion.reports.tables import facts_table

    if p.store.path.exists():
        summary, _, _ = profile_pnl(run.resolved, clock.now())
        run.tables([facts_table("P&L and equity", pnl_summary_lines(summary))])
    clean = bool(lines) and lines[-1].reconciliation == "clean"
    next_step = "nothing to do" if clean else "reconciliation not clean: see 'bastion reconcile'"
    run.echo(f"next step: {next_step}")
    max_age = dt.timedelta(seconds=p.snapshot_max_age_seconds)
    record = run.record(
        "watch",
        broker_state=last.summary(clock.now(), max_age) if last else {"state": "missing"},
        gate_result=None,
        api_counts=counts,
        next_step=next_step,
        notes=[line.text() for line in lines[-20:]],
    )
    run.write(record)
    run.finish(int(ExitCode.SUCCESS if clean else ExitCode.VERDICT_NO))
