"""``bastion shadow``: the daily shadow run (R8.2). No broker is involved.

Finds the latest completed trading day (or ``--date``, if it has closed), makes sure
the data is there and checked, builds the targets from the current period's pool and
writes the signal plan, the daily report and a run record. Exit status 3 when an
input is stale (a pool past its period, data that failed its checks): the plan is
written and says so, and no executable order comes from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.runs import JsonOpt, ProfileArg, RunContext, SecretArg, start_run
from bastion.errors import UserError

if TYPE_CHECKING:
    from bastion.reports.tables import TableData
    from bastion.strategy.plan import SignalPlan

__all__ = ["parse_date", "run_shadow_step", "shadow_command"]


def parse_date(date: str | None) -> dt.date | None:
    if date is None:
        return None
    try:
        return dt.date.fromisoformat(date)
    except ValueError:
        raise UserError(f"--date {date!r} is not a date; expected YYYY-MM-DD") from None


def shadow_command(
    profile: ProfileArg = None,
    date: Annotated[
        str | None,
        typer.Option("--date", help="Target trading day YYYY-MM-DD (default: latest completed)."),
    ] = None,
    risk_level: Annotated[
        str | None,
        typer.Option("--risk-level", help="Override the pool's risk level: base or review."),
    ] = None,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """Shadow run: data, targets from the current pool, signal plan and daily report.

    Exit status 3 when an input is stale (the plan says so and drives no orders).
    """
    asked = parse_date(date)
    if risk_level is not None and risk_level not in {"base", "review"}:
        raise UserError(f"--risk-level {risk_level!r}; expected base or review")
    run = start_run(profile, secret, json=json_out)
    run.finish(run_shadow_step(run, asked, risk_level))


def _reference(price: str | None) -> str:
    """The plan's reference price in price units, with thousands separators."""
    if price is None:
        return "none"
    value = Decimal(price)
    places = max(0, -int(value.as_tuple().exponent))
    return f"{value:,.{places}f}"


def _shadow_tables(plan: SignalPlan, checks: Sequence[str]) -> list[TableData]:
    """What the run was built on, then one row per signal (prices in price units)."""
    from bastion.reports.tables import facts_table, grid

    stale = " STALE INPUT" if plan.pool.stale else ""
    facts = [
        ("target date", f"{plan.target_date} (latest completed trading day; never today)"),
        ("data checks", ", ".join(checks) or "none"),
        ("data dates", ", ".join(plan.data_dates) or "none"),
        ("pool", f"{plan.pool.period} ({plan.pool.file}, {plan.pool.source}){stale}"),
        ("risk level", f"{plan.risk_level} ({plan.risk_level_source})"),
    ]
    signals = [
        (
            s.instrument,
            s.contract,
            f"{s.previous:+d}",
            f"{s.target:+d}",
            s.action,
            f"{s.forecast:+.2f}",
            _reference(s.reference_price),
        )
        for s in plan.signals
    ]
    return [
        facts_table("Shadow run", facts),
        grid(
            "Signals",
            ("instrument", "contract", "previous", "target", "action", "forecast", "reference"),
            signals,
            numeric=(False, False, True, True, False, True, True),
            note="lots: the previous target and the new one; reference: the price the"
            " orders are judged against, in price units",
        ),
    ]


def run_shadow_step(run: RunContext, asked: dt.date | None, risk_level: str | None) -> int:
    """The shadow run on ``run``'s profile: print, record; the exit code of the table."""
    from bastion.gates.shadow import run_shadow
    from bastion.reports.daily import write_daily_report

    run.banner("shadow")
    now = dt.datetime.now(dt.UTC)
    result = run_shadow(run.resolved, now=now, asked=asked, risk_level=risk_level)
    plan = result.plan
    for line in result.sample_generated[:1]:
        run.echo(f"generated sample data ({len(result.sample_generated)} series), e.g. {line}")
    run.tables(_shadow_tables(plan, result.checks))
    for warning in plan.stale_inputs:
        run.echo(f"STALE INPUT: {warning}")
    run.echo(f"signal plan: {result.plan_path}")
    reports = write_daily_report(run.resolved, run.redactor, now=now)
    for path in reports:
        run.echo(f"daily report: {path}")
    next_step = (
        "run 'bastion probe', then 'bastion gate dry-run'"
        if not plan.stale_inputs
        else "stale input: no executable orders from this plan; publish the current pool"
        " or fix the data, then re-run 'bastion shadow'"
    )
    run.echo(f"next step: {next_step}")
    record = run.record(
        "shadow",
        target_date=plan.target_date,
        pool_period=plan.pool.period,
        pool_source=plan.pool.source,
        risk_level=plan.risk_level,
        signals=[s.row() for s in plan.signals],
        broker_state={"state": "not needed (shadow run)"},
        gate_result=None,
        output_files=[str(result.plan_path), *map(str, reports)],
        next_step=next_step,
        stale_inputs=plan.stale_inputs,
        details={
            "plan": str(result.plan_path),
            "plan_kind": plan.kind,
            "data_dates": plan.data_dates,
            "data_complete": plan.data_complete,
        },
    )
    run.write(record)
    return int(ExitCode.VERDICT_NO if plan.stale_inputs else ExitCode.SUCCESS)
