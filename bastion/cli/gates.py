"""``bastion gate dry-run``: may tonight's orders go?

Prints exactly one result line, ``gate: executable``, ``gate: skip_broker_flat_for_close``
or ``gate: blocked: <reason>``, then the plan it judged, every check with its detail, the
orders the plan would send against the broker's position, and the order API call counts
(zero: with ``--probe`` the venue is wrapped dry-run, and without it no venue is opened).
The plan is ``--plan`` or the plan generated last; the gate records which plan it judged
(path and SHA-256) so a session executes only that one. Exit status 0 for executable or
skip, 3 for blocked (the table in ``bastion.cli.exits``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.numbers import MAX_TIMEOUT_SECONDS, bounded
from bastion.cli.runs import JsonOpt, ProfileArg, RunContext, SecretArg, start_run

if TYPE_CHECKING:
    from bastion.clock import Clock
    from bastion.config import Profile

__all__ = ["gate_app", "journal_answer", "run_gate"]

gate_app = typer.Typer(help="Execution gates: the dry-run gate.", no_args_is_help=True)

TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Venue connect/query timeout, s (0 < s <= 3600).",
        callback=bounded("--timeout", 0, MAX_TIMEOUT_SECONDS, low_open=True, unit="s"),
    ),
]


def _probe_first(profile: Profile, clock: Clock, timeout: float) -> dict[str, int]:
    """A fresh read-only snapshot before the gate (``--probe``); its order API counts."""
    from bastion.gates.broker import broker_state_path, save_broker_state, take_broker_state
    from bastion.venues.modes import DryRunVenue
    from bastion.venues.registry import open_venue, profile_contracts

    venue = DryRunVenue(open_venue(profile, "gate", clock, timeout=timeout), clock)
    try:
        state = take_broker_state(venue, clock, profile_contracts(profile))
        save_broker_state(state, broker_state_path(profile))
    finally:
        venue.disconnect()
    return venue.counters.as_dict()


def journal_answer(run: RunContext, gate: str, *, passed: bool, result: str, reason: str) -> None:
    """Journal a gate's or the after-close routine's answer (a ``gate`` note) and, for a
    NO, alert the profile's targets now with the reason: no engine runs to do it."""
    import datetime as dt

    from bastion.ops.alerts.direct import journal_and_alert
    from bastion.ops.alerts.mapping import gate_note

    note = gate_note(dt.datetime.now(dt.UTC), gate, passed=passed, result=result, reason=reason)
    done = journal_and_alert(run.resolved.profile, note)
    for line in done.lines:
        run.echo(line)


def run_gate(run: RunContext, plan: Path | None, *, probe: bool, timeout: float) -> int:
    """Judge ``plan`` (default: the newest); print, record; the exit code of the table."""
    from bastion.clock import WallClock
    from bastion.gates.approval import GATE_STATE
    from bastion.gates.broker import broker_state_path, load_broker_state
    from bastion.gates.checks import evaluate
    from bastion.gates.dryrun import gather_inputs
    from bastion.gates.shadow import plans_dir
    from bastion.gates.state import save_state
    from bastion.reports.tables import grid
    from bastion.strategy.plan import load_plan, newest_plan, plan_digest

    resolved = run.resolved
    p = resolved.profile
    run.banner("gate dry-run")
    clock = WallClock()
    counts = {"send_order_calls": 0, "cancel_order_calls": 0}
    if probe:
        counts = _probe_first(p, clock, timeout)
    plan_path = plan if plan is not None else newest_plan(plans_dir(resolved))
    signal_plan = load_plan(plan_path) if plan_path is not None else None
    digest = plan_digest(plan_path) if plan_path is not None else None
    broker = load_broker_state(broker_state_path(p))
    now = clock.now()
    inputs, facts = gather_inputs(resolved, signal_plan, broker, now)
    result = evaluate(inputs)
    result.counters = counts
    run.echo(f"gate: {result.line()}")
    if signal_plan is not None and plan_path is not None:
        run.echo(
            f"plan judged: {plan_path} ({signal_plan.kind}, target date"
            f" {signal_plan.target_date}, sha256 {digest and digest[:12]})"
        )
    checks = [(c.name, "yes" if c.ok else "NO", c.detail) for c in result.checks]
    run.tables([grid("Checks", ("check", "ok", "detail"), checks, numeric=(False,) * 3)])
    if result.orders:
        run.echo("orders the plan would send (dry run, nothing sent):")
        for o in result.orders:
            run.echo(f"  {o.line()}")
    for skipped in result.skipped_closes:
        run.echo(f"skipped close: {skipped}")
    run.echo(
        f"order API calls: send {counts['send_order_calls']}, cancel {counts['cancel_order_calls']}"
    )
    next_step = result.next_step()
    run.echo(f"next step: {next_step}")
    plan_fields = {
        "plan": str(plan_path) if plan_path else None,
        "plan_sha256": digest,
        "plan_kind": signal_plan.kind if signal_plan else None,
        "target_date": signal_plan.target_date if signal_plan else None,
        "data_dates": signal_plan.data_dates if signal_plan else [],
    }
    out = save_state(
        resolved,
        GATE_STATE,
        {**result.as_dict(), "at": now.isoformat(), "next_step": next_step, **plan_fields},
        run.redactor,
    )
    record = run.record(
        "gate",
        target_date=signal_plan.target_date if signal_plan else None,
        pool_period=signal_plan.pool.period if signal_plan else None,
        pool_source=signal_plan.pool.source if signal_plan else None,
        risk_level=signal_plan.risk_level if signal_plan else None,
        signals=[s.row() for s in signal_plan.signals] if signal_plan else [],
        broker_state=broker.summary(now, inputs.max_age) if broker else {"state": "missing"},
        gate_result=result.line(),
        api_counts=counts,
        output_files=[str(out)] + ([str(plan_path)] if plan_path else []),
        next_step=next_step,
        stale_inputs=signal_plan.stale_inputs if signal_plan else [],
        details={
            **plan_fields,
            "checks": result.as_dict()["checks"],
            "orders": result.as_dict()["orders"],
            "bastion_positions": facts.positions,
        },
    )
    run.write(record)
    return int(ExitCode.VERDICT_NO if result.status.value == "blocked" else ExitCode.SUCCESS)


@gate_app.command("dry-run")
def dry_run(  # noqa: PLR0917 - typer maps parameters to options
    profile: ProfileArg = None,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Signal plan file (default: the one generated last)."),
    ] = None,
    probe: Annotated[
        bool, typer.Option("--probe", help="Take a fresh read-only snapshot first.")
    ] = False,
    timeout: TimeoutOpt = 5.0,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """Run every gate check on a plan without calling any order API.

    Exit status 0 when executable (or nothing to send), 3 when blocked.
    """
    run = start_run(profile, secret, json=json_out)
    code = run_gate(run, plan, probe=probe, timeout=timeout)
    result, _, reason = str(run.document.get("gate_result") or "").partition(": ")
    journal_answer(
        run,
        "gate dry-run",
        passed=code == 0,
        result=result or "unknown",
        reason=reason or str(run.document.get("next_step") or result),
    )
    run.finish(code)
