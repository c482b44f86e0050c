"""``bastion report``: the operator's daily report and the status, reconcile, trades,
P&L and risk reports (R8.8, R9.4), in the terminal and as Markdown/HTML files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.runs import ProfileArg, SecretArg, start_run

__all__ = ["report_app"]

report_app = typer.Typer(
    help="Reports: daily (may tonight's orders go?), status, reconcile, trades, pnl, risk.",
    no_args_is_help=True,
)


@report_app.command("daily")
def daily(profile: ProfileArg = None, secret: SecretArg = None) -> None:
    """May tonight's orders go, and if not, why not? Equity and P&L per currency.
    Terminal, Markdown and HTML."""
    from bastion.reports.daily import daily_facts, daily_tables, write_daily_report
    from bastion.reports.tables import text_of

    run = start_run(profile, secret)
    _journal_whole(Path(run.resolved.profile.store.path))
    now = dt.datetime.now(dt.UTC)
    facts = daily_facts(run.resolved, now)
    title = f"Bastion daily report {now.date()}: {facts.profile}"
    if facts.role == "comparison":
        title += " (COMPARISON)"
    run.echo(title)
    run.echo(f"MAY TONIGHT'S ORDERS GO? {facts.headline}")
    run.echo(text_of(daily_tables(facts)).rstrip("\n"))
    paths = write_daily_report(run.resolved, run.redactor, now=now)
    for path in [*facts.output_files, *map(str, paths)]:
        run.echo(f"output file: {path}")
    run.echo(f"next step: {facts.next_step}")


def _journal_whole(path: Path) -> None:
    """The daily report reads the day's files, not the journal; a damaged journal still
    means no session can run tonight, so it is refused here as everywhere (exit 1)."""
    from bastion.store.check import check_journal

    if path.exists():
        check_journal(path, thorough=False)


def _other(kind: str, profile: str | None, secret: str | None, out: Path | None) -> None:
    from bastion.reports.operations import build_report

    run = start_run(profile, secret)
    report = build_report(kind, run.resolved)
    run.echo(report.text)
    folder = out if out is not None else Path(run.resolved.profile.records_dir) / "reports"
    for path in report.write(folder, run.redactor):
        run.echo(f"output file: {path}")


OutOpt = Annotated[Path | None, typer.Option("--out", help="Folder for the Markdown/HTML files.")]


@report_app.command("status")
def status(profile: ProfileArg = None, out: OutOpt = None, secret: SecretArg = None) -> None:
    """Trading states, locks, kill request, positions, working orders, last gate."""
    _other("status", profile, secret, out)


@report_app.command("reconcile")
def reconcile(profile: ProfileArg = None, out: OutOpt = None, secret: SecretArg = None) -> None:
    """Bastion's book against the last broker snapshot: every break."""
    _other("reconcile", profile, secret, out)


@report_app.command("trades")
def trades(profile: ProfileArg = None, out: OutOpt = None, secret: SecretArg = None) -> None:
    """Filled orders in price units, slippage against reference, mid and touch, delays."""
    _other("trades", profile, secret, out)


@report_app.command("pnl")
def pnl(profile: ProfileArg = None, out: OutOpt = None, secret: SecretArg = None) -> None:
    """Equity, realised and unrealised P&L, commissions and slippage, per currency."""
    _other("pnl", profile, secret, out)


@report_app.command("risk")
def risk(profile: ProfileArg = None, out: OutOpt = None, secret: SecretArg = None) -> None:
    """Risk level, trading states, limits, loss starts and denials."""
    _other("risk", profile, secret, out)
