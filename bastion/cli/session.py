"""``bastion session`` and ``bastion backtest``: the core end to end on a profile."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bastion.backtest.session import SessionResult, run_session
from bastion.cli.runs import RunContext, start_run
from bastion.config import Environment, load_profile
from bastion.engine.engine import EngineState
from bastion.errors import UserError
from bastion.ops.monitor import attach_monitor
from bastion.ops.paper import VenueSessionResult

__all__ = ["backtest_command", "session_command"]

_out = Console()
ProfileOpt = Annotated[Path, typer.Option("--profile", "-p", help="Profile YAML file.")]
DateOpt = Annotated[str | None, typer.Option(help="YYYY-MM-DD (inclusive).")]


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--{name} {value!r} is not a date; expected YYYY-MM-DD") from None


def _run(profile_path: Path, kind: str, start: str | None, end: str | None) -> SessionResult:
    profile = load_profile(profile_path)
    first, last = _date(start, "start"), _date(end, "end")
    if first and last and first > last:
        raise UserError(f"--start {first} is after --end {last}")
    with Progress(
        TextColumn(f"[bold]{kind}[/] {profile.name}"),
        BarColumn(),
        TextColumn("{task.completed:,} bars"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(kind, total=1)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run_session(
            profile,
            kind=kind,
            start=first,
            end=last,
            progress=progress,
            # A sim session is an operator's run: heartbeat and alerts, as against a venue.
            # A backtest is research and alerts nobody.
            attach=(lambda engine: attach_monitor(engine, profile)) if kind == "session" else None,
        )


def _summary(result: SessionResult) -> Table:
    table = Table(title=f"Bastion {result.kind}: what happened", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    days = result.days
    table.add_row("days run", f"{len(days)} ({days[0]} to {days[-1]})")
    table.add_row("bars", f"{result.bars:,}")
    table.add_row("orders / fills", f"{result.orders:,} / {result.fills:,}")
    table.add_row(
        "order API calls", f"send {result.send_order_calls:,}, cancel {result.cancel_order_calls:,}"
    )
    positions = ", ".join(f"{c} {q:+d}" for c, q in result.positions.items()) or "flat"
    table.add_row("positions (contract)", positions)
    strat = ", ".join(f"{k} {q:+d}" for k, q in result.strategy_positions.items()) or "flat"
    table.add_row("positions (strategy)", strat)
    table.add_row("P&L gross / net", f"{result.gross_pnl:,.2f} / {result.net_pnl:,.2f}")
    table.add_row("commissions", f"{result.commissions:,.2f}")
    table.add_row(
        "slippage vs reference",
        f"{result.slippage_ticks:+.2f} ticks per lot ({result.slippage_money:,.2f})",
    )
    table.add_row("journal", str(result.journal))
    return table


def _sim_record(run: RunContext, result: SessionResult) -> None:
    """The sim session's dated run record, Markdown and JSON (R8.7)."""
    record = run.record(
        "session",
        target_date=str(result.days[-1]),
        risk_level="base (built-in strategy plan)",
        broker_state={"venue": "sim (in process)", "positions": result.positions},
        api_counts={
            "send_order_calls": result.send_order_calls,
            "cancel_order_calls": result.cancel_order_calls,
        },
        output_files=[str(result.journal)],
        next_step="read the summary; 'bastion backtest' for analytics over the same data",
        notes=result.problems[:50],
        details={
            "days": [str(d) for d in result.days],
            "bars": result.bars,
            "orders": result.orders,
            "fills": result.fills,
            "strategy_positions": result.strategy_positions,
            "gross_pnl": str(result.gross_pnl),
            "net_pnl": str(result.net_pnl),
            "commissions": str(result.commissions),
            "slippage_ticks_per_lot": round(result.slippage_ticks, 4),
            "analytics": result.analytics.as_dict(),
        },
    )
    run.write(record)


def _venue_next_step(r: VenueSessionResult) -> str:
    """What to do next, never "done" while halted, killing or unreachable (R6.8)."""
    state = r.state
    if state == EngineState.UNREACHABLE:
        return "the venue is unreachable: nothing was confirmed; check it, then run again"
    if state in {EngineState.HALTED, EngineState.KILL_PENDING, EngineState.KILLING}:
        return (
            f"trading is {state}: see 'bastion risk status'; resume only after checking"
            " ('bastion risk resume --scope account --reason ...')"
        )
    if not r.reconcile_clean:
        return "do not trade: resolve the breaks ('bastion reconcile'), see docs/recovery.md"
    if not r.targets_met:
        return "targets not met: read the notes, then 'bastion gate dry-run' again"
    return "done for today: 'bastion report daily'"


def _venue_session(run: RunContext, seconds: float, *, stay: bool = False) -> None:
    """A venue profile: execute the latest signal plan against the venue."""
    from bastion.ops.plan_session import run_plan_session

    run.banner("session")
    done = run_plan_session(run.resolved, seconds=seconds, stay=stay)
    r = done.session
    table = Table(title="Bastion session against the venue: what happened", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("signal plan", f"{done.plan_path} (risk level {done.plan.risk_level})")
    table.add_row("engine state", r.state)
    met = r.targets_met and r.state == EngineState.TRADING
    table.add_row("targets met", "yes" if met else f"NO ({r.state})" if r.targets_met else "NO")
    table.add_row("orders / fills", f"{r.orders} / {r.fills}")
    table.add_row("order API calls", f"send {r.send_order_calls}, cancel {r.cancel_order_calls}")
    table.add_row("positions (Bastion)", _positions(r.positions))
    table.add_row(
        "positions (venue)",
        "unknown" if r.venue_positions is None else _positions(r.venue_positions),
    )
    table.add_row("reconciliation", "clean" if r.reconcile_clean else "NOT CLEAN")
    table.add_row("disconnects / restarts", f"{r.disconnects} / {r.restarts}")
    table.add_row("journal", str(r.journal))
    run.show(table)
    for headline in r.kill_reports:
        run.echo(headline)
    for line in [*r.breaks, *r.unknown, *r.problems[:10]]:
        run.echo(f"note: {line}")
    if done.presubmit_denials:
        run.echo(f"pre-submit gate refusals: {done.presubmit_denials}")
    next_step = _venue_next_step(r)
    run.echo(f"next step: {next_step}")
    run.write(
        run.record(
            "session",
            target_date=done.plan.target_date,
            pool_period=done.plan.pool.period,
            pool_source=done.plan.pool.source,
            risk_level=done.plan.risk_level,
            signals=[s.row() for s in done.plan.signals],
            broker_state={"positions": r.venue_positions, "reconcile_clean": r.reconcile_clean},
            api_counts={
                "send_order_calls": r.send_order_calls,
                "cancel_order_calls": r.cancel_order_calls,
            },
            output_files=[str(r.journal), str(done.plan_path)],
            next_step=next_step,
            notes=[*r.breaks, *r.recoveries, *r.problems[:50]],
        )
    )
    if not r.reconcile_clean:
        raise typer.Exit(1)


def _positions(positions: dict[str, int]) -> str:
    return ", ".join(f"{c} {q:+d}" for c, q in sorted(positions.items())) or "flat"


def session_command(  # noqa: PLR0917 - typer maps parameters to options
    profile: ProfileOpt,
    start: DateOpt = None,
    end: DateOpt = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Connect read-only, monitor and reconcile; send nothing."),
    ] = False,
    cycles: Annotated[int, typer.Option(help="With --watch: rounds (0: until Ctrl-C).")] = 0,
    interval: Annotated[float, typer.Option(help="With --watch: seconds between rounds.")] = 10.0,
    seconds: Annotated[
        float, typer.Option(min=1.0, help="Venue profiles: stop after this many seconds.")
    ] = 300.0,
    stay: Annotated[
        bool,
        typer.Option(
            "--stay", help="Venue profiles: keep running until --seconds, even with targets met."
        ),
    ] = False,
) -> None:
    """Run a session end to end, then say what happened.

    A sim profile runs a simulated multi-day session on its data (bundled sample data by
    default): data, targets, orders, risk, journal, sim venue, fills, positions. A paper
    profile executes the latest signal plan against the venue process. With --watch:
    connect read-only, monitor and reconcile, send nothing.
    """
    if watch:  # watch mode lives with the operator's day commands (bastion.cli.flatten)
        from bastion.cli.flatten import watch_command

        watch_command(profile=str(profile), cycles=cycles, interval=interval)
        return
    run = start_run(str(profile), None)
    if run.resolved.profile.environment is not Environment.SIM:
        _venue_session(run, seconds, stay=stay)
        return
    result = _run(profile, "session", start, end)
    if result.sample_generated:
        _out.print(f"generated sample data: {len(result.sample_generated)} series")
    _out.print(_summary(result))
    _sim_record(run, result)
    for problem in result.problems[:10]:
        _out.print(f"[yellow]note:[/] {problem}")


def backtest_command(
    profile: ProfileOpt,
    start: DateOpt = None,
    end: DateOpt = None,
    report: Annotated[
        Path | None, typer.Option(help="HTML report path (default: beside the journal).")
    ] = None,
) -> None:
    """Backtest the same core over a range: analytics and an HTML report.

    Prints the run's analytics, P&L by currency, costs and per-instrument figures, and
    writes a self-contained HTML report (bastion.reports.backtest) with the same tables,
    dated charts and every trade.
    """
    result = _run(profile, "backtest", start, end)
    _out.print(_summary(result))
    from bastion.reports.backtest import ReportContext, build_backtest_report

    context = ReportContext.from_profile(load_profile(profile), problems=result.problems)
    built = build_backtest_report(result, context)
    built.print(_out)
    path = built.write(report or result.journal.parent / "reports" / "backtest.html")
    _out.print(f"HTML report: {path}")
