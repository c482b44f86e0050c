"""``bastion session`` and ``bastion backtest``: the core end to end on a profile.

The profile is ``--profile/-p`` or the official one; a session sends orders, so it never
defaults to a live profile. A venue profile's session executes only the plan the gate
approved (``bastion.gates.approval``): ``--plan`` names it, and anything else is refused
with the reason (exit status 3). A session that ends with breaks exits 3 too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from bastion.backtest.session import SessionResult, run_session
from bastion.cli.exits import ExitCode
from bastion.cli.numbers import MAX_CYCLES, MAX_INTERVAL_SECONDS, MAX_RUN_SECONDS, bounded
from bastion.cli.runs import JsonOpt, ProfileArg, RunContext, start_run
from bastion.config import Environment, Profile
from bastion.engine.engine import EngineState
from bastion.errors import UserError
from bastion.ops.monitor import attach_monitor
from bastion.ops.paper import VenueSessionResult
from bastion.reports.money import format_money
from bastion.reports.tables import TableData, facts_table

__all__ = ["backtest_command", "session_command"]

DateOpt = Annotated[
    str | None,
    typer.Option(
        help="Account trading day YYYY-MM-DD, inclusive (a China night is the next day's)."
    ),
]


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--{name} {value!r} is not a date; expected YYYY-MM-DD") from None


def _run(
    profile: Profile, kind: str, start: str | None, end: str | None, *, quiet: bool = False
) -> SessionResult:
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
        disable=quiet,
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


def _summary(result: SessionResult) -> TableData:
    days = result.days
    rows = [
        ("days run", f"{len(days)} ({days[0]} to {days[-1]})"),
        ("engine state at the end", result.state),
        ("bars", f"{result.bars:,}"),
        ("orders / fills", f"{result.orders:,} / {result.fills:,}"),
        (
            "order API calls",
            f"send {result.send_order_calls:,}, cancel {result.cancel_order_calls:,}",
        ),
        (
            "positions (contract)",
            ", ".join(f"{c} {q:+d}" for c, q in result.positions.items()) or "flat",
        ),
        (
            "positions (strategy)",
            ", ".join(f"{k} {q:+d}" for k, q in result.strategy_positions.items()) or "flat",
        ),
    ]
    for currency, (gross, paid, net) in result.pnl_by_currency.items():
        rows.append(
            (
                f"P&L {currency} gross / net",
                (
                    f"{format_money(gross, currency)} / {format_money(net, currency)}"
                    f" (commissions {format_money(paid, currency)})"
                ),
            )
        )
    rows.append((f"P&L net total in {result.currency}", _base_total(result)))
    money, per_lot = _slippage_lines(result)
    rows.append(("slippage vs reference", money))
    rows.append(("slippage per lot", per_lot))
    rows.append(("journal", str(result.journal)))
    return facts_table(f"Bastion {result.kind}: what happened", rows)


def _slippage_lines(result: SessionResult) -> tuple[str, str]:
    """Slippage in money (the base total, then each currency) and in ticks per lot per
    instrument (ticks of different instruments are never added); positive is a cost."""
    slip = result.slippage
    if not slip.by_instrument:
        money = "none measured (no fill had a reference price)"
    else:
        total = (
            f"no rate for {', '.join(c for c in slip.by_currency if c not in result.rates)}"
            if slip.base is None
            else f"{slip.base:+,.2f} {result.currency}"
        )
        each = ", ".join(f"{v:+,.2f} {c}" for c, v in slip.by_currency.items())
        verdict = ""
        if slip.base is not None and slip.base:
            verdict = " a cost" if slip.base > 0 else " a gain"
        money = f"{total}{verdict} ({each}; positive is a cost)"
    per_lot = "; ".join(
        f"{iid} {s.ticks_per_lot:+.2f} ticks over {s.lots:,} lots"
        for iid, s in slip.by_instrument.items()
    )
    if slip.unreferenced_lots:
        extra = f"{slip.unreferenced_lots:,} lots had no reference price (not measured)"
        per_lot = f"{per_lot}; {extra}" if per_lot else extra
    return money, per_lot or "none"


def _base_total(result: SessionResult) -> str:
    """The net P&L in the base currency and the rates it was converted at."""
    if result.net_pnl is None:
        missing = sorted(
            c for c, v in result.pnl_by_currency.items() if v[2] and c not in result.rates
        )
        return f"no rate for {', '.join(missing) or 'a currency'}"
    at = ", ".join(
        f"{rate} {result.currency} per {currency}"
        for currency, rate in sorted(result.rates.items())
        if currency in result.pnl_by_currency
    )
    return f"{result.net_pnl:,.2f} {result.currency}" + (f" (at {at})" if at else "")


def _sim_record(run: RunContext, result: SessionResult) -> None:
    """The sim session's dated run record, Markdown and JSON."""
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
        next_step=(
            "read the summary; 'bastion backtest' for analytics over the same data"
            if result.state == EngineState.TRADING
            else f"trading is {result.state}: see 'bastion risk status' before anything else"
        ),
        notes=result.problems[:50],
        details={
            "engine_state": result.state,
            "days": [str(d) for d in result.days],
            "bars": result.bars,
            "orders": result.orders,
            "fills": result.fills,
            "strategy_positions": result.strategy_positions,
            "currency": result.currency,
            "gross_pnl": str(result.gross_pnl) if result.gross_pnl is not None else "no rate",
            "net_pnl": str(result.net_pnl) if result.net_pnl is not None else "no rate",
            "commissions": (
                str(result.commissions) if result.commissions is not None else "no rate"
            ),
            "pnl_by_currency": {
                c: {"gross": str(g), "commissions": str(p), "net": str(n)}
                for c, (g, p, n) in result.pnl_by_currency.items()
            },
            "rates": {c: str(r) for c, r in result.rates.items()},
            "periods_per_year": result.periods_per_year,
            "slippage": {
                "sign": "worse is positive: a positive figure is a cost",
                "base": str(result.slippage.base)
                if result.slippage.base is not None
                else "no rate",
                "by_currency": {c: str(v) for c, v in result.slippage.by_currency.items()},
                "ticks_per_lot": {
                    i: round(s.ticks_per_lot, 4) for i, s in result.slippage.by_instrument.items()
                },
                "lots_with_reference": {
                    i: s.lots for i, s in result.slippage.by_instrument.items()
                },
                "lots_without_reference": result.slippage.unreferenced_lots,
            },
            "analytics": result.analytics.as_dict(),
        },
    )
    run.write(record)


def _reconciliation_text(r: VenueSessionResult) -> str:
    """Clean, broken, or only a target not met (positions and fills agree)."""
    if r.reconcile_clean:
        return "clean"
    if r.unknown or r.locking_breaks:
        return "NOT CLEAN"
    return "targets not met only (positions and fills agree)"


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
    if state == EngineState.CLOCK_SKEW:
        return (
            "new orders halted: this machine's clock is too far from the venue's; fix its"
            " time (NTP), then run again"
        )
    if not r.reconcile_clean and (r.unknown or r.locking_breaks):
        return "do not trade: resolve the breaks ('bastion reconcile'), see docs/recovery.md"
    if not r.targets_met or not r.reconcile_clean:
        return _targets_not_met(r)
    return "done for today: 'bastion report daily'"


def _targets_not_met(r: VenueSessionResult) -> str:
    if any("trade limit for" in p for p in r.problems):
        return (
            "targets not met: the daily trade limit stopped the orders (see the notes);"
            " it resets at the next trading day, or change it with 'bastion risk limits --set'"
        )
    return "targets not met: read the notes, then 'bastion gate dry-run' again"


def _money_rows(run: RunContext) -> list[tuple[str, str]]:
    """P&L per currency and equity from the journal's fills (marked at the latest stored
    close, else at the last fill): the same figures as 'bastion report pnl'."""
    from bastion.reports.pnl_report import pnl_summary_lines, profile_pnl

    summary, _, _ = profile_pnl(run.resolved, dt.datetime.now(dt.UTC))
    return pnl_summary_lines(summary)


def _refused(run: RunContext, why: str) -> int:
    """The session did not start: the plan is not the one the gate approved."""
    run.echo(f"session refused: {why}")
    next_step = "run 'bastion gate dry-run' on the plan to execute, then the session"
    run.echo(f"next step: {next_step}")
    run.document = {"kind": "session", "refused": why, "next_step": next_step}
    return int(ExitCode.VERDICT_NO)


def _venue_session(run: RunContext, seconds: float, plan: Path | None, *, stay: bool) -> int:
    """A paper (or FIX) profile: execute the plan the gate approved against the venue."""
    from bastion.gates.approval import PlanRefused, session_plan
    from bastion.ops.plan_session import run_plan_session
    from bastion.strategy.plan import plan_digest

    run.banner("session")
    try:
        plan_path = session_plan(run.resolved, plan)
    except PlanRefused as exc:
        return _refused(run, str(exc))
    digest = plan_digest(plan_path)
    done = run_plan_session(run.resolved, seconds=seconds, plan_path=plan_path, stay=stay)
    r = done.session
    met = r.targets_met and r.state == EngineState.TRADING
    rows = [
        (
            "signal plan",
            (
                f"{done.plan_path} ({done.plan.kind}, target date {done.plan.target_date},"
                f" risk level {done.plan.risk_level}; the plan the gate approved)"
            ),
        ),
        ("engine state", str(r.state)),
        ("targets met", "yes" if met else f"NO ({r.state})" if r.targets_met else "NO"),
        ("orders / fills", f"{r.orders} / {r.fills}"),
        ("order API calls", f"send {r.send_order_calls}, cancel {r.cancel_order_calls}"),
        ("positions (Bastion)", _positions(r.positions)),
        (
            "positions (venue)",
            "unknown" if r.venue_positions is None else _positions(r.venue_positions),
        ),
        ("reconciliation", _reconciliation_text(r)),
        ("disconnects / restarts", f"{r.disconnects} / {r.restarts}"),
        *_money_rows(run),
        ("journal", str(r.journal)),
    ]
    run.tables([facts_table("Bastion session against the venue: what happened", rows)])
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
            details={
                "plan": str(done.plan_path),
                "plan_sha256": digest,
                "plan_kind": done.plan.kind,
                "targets_met": r.targets_met,
                "reconcile_clean": r.reconcile_clean,
                "orders": r.orders,
                "fills": r.fills,
                "positions": r.positions,
            },
        )
    )
    # Done only when reconciled clean and trading normally: never while halted, with a
    # kill pending or the venue unreachable (a NO for the operator, exit status 3).
    return int(ExitCode.SUCCESS if r.done_for_today else ExitCode.VERDICT_NO)


def _positions(positions: dict[str, int]) -> str:
    return ", ".join(f"{c} {q:+d}" for c, q in sorted(positions.items())) or "flat"


def session_command(  # noqa: PLR0917 - typer maps parameters to options
    profile: ProfileArg = None,
    start: DateOpt = None,
    end: DateOpt = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Connect read-only, monitor and reconcile; send nothing."),
    ] = False,
    cycles: Annotated[
        int,
        typer.Option(
            help="With --watch: rounds (0: until Ctrl-C).",
            callback=bounded("--cycles", 0, MAX_CYCLES),
        ),
    ] = 0,
    interval: Annotated[
        float,
        typer.Option(
            help="With --watch: seconds between rounds (0 to 86400).",
            callback=bounded("--interval", 0, MAX_INTERVAL_SECONDS, unit="s"),
        ),
    ] = 10.0,
    seconds: Annotated[
        float,
        typer.Option(
            help="Venue profiles: stop after this many seconds (1 to 604800).",
            callback=bounded("--seconds", 1, MAX_RUN_SECONDS, unit="s"),
        ),
    ] = 300.0,
    stay: Annotated[
        bool,
        typer.Option(
            "--stay", help="Venue profiles: keep running until --seconds, even with targets met."
        ),
    ] = False,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan", help="Venue profiles: the plan to execute; the gate must have approved it."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a session end to end, then say what happened.

    A sim profile runs a simulated multi-day session on its data (bundled sample data by
    default): data, targets, orders, risk, journal, sim venue, fills, positions. A paper
    profile executes the plan the gate approved against the venue process, and refuses
    any other (exit status 3). With --watch: connect read-only, monitor and reconcile,
    send nothing.
    """
    if watch:  # watch mode lives with the operator's day commands (bastion.cli.flatten)
        from bastion.cli.flatten import watch_command

        watch_command(profile=profile, cycles=cycles, interval=interval, json_out=json_out)
        return
    run = start_run(profile, None, json=json_out, sends_orders="bastion session")
    if run.resolved.profile.environment is not Environment.SIM:
        run.finish(_venue_session(run, seconds, plan, stay=stay))
        return
    if plan is not None:
        raise UserError(
            "--plan is for venue profiles; a sim profile's session runs its strategy on its data"
        )
    result = _run(run.resolved.profile, "session", start, end, quiet=json_out)
    if result.sample_generated:
        run.echo(f"generated sample data: {len(result.sample_generated)} series")
    run.tables([_summary(result)])
    for problem in result.problems[:10]:
        run.echo(f"note: {problem}")
    _sim_record(run, result)
    if result.state != EngineState.TRADING:
        run.echo(
            f"trading is {result.state}: see 'bastion risk status'; resume only after checking"
            " ('bastion risk resume --scope account --reason ...')"
        )
        run.finish(int(ExitCode.VERDICT_NO))
        return
    run.finish()


def backtest_command(
    profile: ProfileArg = None,
    start: DateOpt = None,
    end: DateOpt = None,
    report: Annotated[
        Path | None, typer.Option(help="HTML report path (default: beside the journal).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Backtest the same core over a range: analytics and an HTML report.

    Prints the run's analytics, P&L by currency, costs and per-instrument figures, and
    writes a self-contained HTML report with the same tables, dated charts and every
    trade.
    """
    from bastion.files import path_problem
    from bastion.reports.backtest import ReportContext, build_backtest_report

    run = start_run(profile, None, json=json_out)
    loaded = run.resolved.profile
    if report is not None and (problem := path_problem(report, "file")) is not None:
        from bastion.errors import EnvironmentFault

        raise EnvironmentFault(f"--report {report}: {problem}; nothing was run")
    result = _run(loaded, "backtest", start, end, quiet=json_out)
    run.tables([_summary(result)])
    context = ReportContext.from_profile(
        loaded,
        rates=result.rates,
        problems=result.problems,
        start=result.days[0] if result.days else None,
    )
    built = build_backtest_report(result, context)
    if not json_out:
        built.print(Console())
    path = built.write(report or result.journal.parent / "reports" / "backtest.html")
    run.echo(f"HTML report: {path}")
    run.document = {
        "kind": "backtest",
        "profile": loaded.name,
        "days": [str(result.days[0]), str(result.days[-1])],
        "bars": result.bars,
        "orders": result.orders,
        "fills": result.fills,
        "positions": result.positions,
        "gross_pnl": str(result.gross_pnl),
        "net_pnl": str(result.net_pnl),
        "commissions": str(result.commissions),
        "analytics": result.analytics.as_dict(),
        "journal": str(result.journal),
        "report": str(path),
    }
    run.finish()
