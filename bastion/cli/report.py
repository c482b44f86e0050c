"""``bastion report``: the operator's daily report and the status, reconcile, trades,
P&L and risk reports, in the terminal and as Markdown/HTML files.

Exit status (the table in ``bastion.cli.exits``): ``report daily`` 3 when its answer is
NO; ``report reconcile`` 3 when there are breaks or a view is unknown, like
``bastion reconcile``; 0 otherwise. ``--json`` prints the report as one JSON document.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.runs import JsonOpt, ProfileArg, SecretArg, start_run

__all__ = ["report_app"]

report_app = typer.Typer(
    help="Reports: daily (may tonight's orders go?), status, reconcile, trades, pnl, risk.",
    no_args_is_help=True,
)


@report_app.command("daily")
def daily(profile: ProfileArg = None, json_out: JsonOpt = False, secret: SecretArg = None) -> None:
    """May tonight's orders go, and if not, why not? Equity and P&L per currency.

    Terminal, Markdown and HTML. Exit status 3 when the answer is NO.
    """
    from bastion.reports.daily import daily_facts, daily_tables, write_daily_report

    run = start_run(profile, secret, json=json_out)
    _journal_whole(Path(run.resolved.profile.store.path))
    now = dt.datetime.now(dt.UTC)
    facts = daily_facts(run.resolved, now)
    title = f"Bastion daily report {now.date()}: {facts.profile}"
    if facts.role == "comparison":
        title += " (COMPARISON)"
    run.echo(title)
    run.echo(f"MAY TONIGHT'S ORDERS GO? {facts.headline}")
    run.tables(daily_tables(facts))
    paths = write_daily_report(run.resolved, run.redactor, now=now)
    for path in [*facts.output_files, *map(str, paths)]:
        run.echo(f"output file: {path}")
    run.echo(f"next step: {facts.next_step}")
    run.document = {**facts.as_json(), "report_files": [str(p) for p in paths]}
    run.finish(int(ExitCode.SUCCESS if facts.may_go else ExitCode.VERDICT_NO))


def _journal_whole(path: Path) -> None:
    """The daily report reads the day's files, not the journal; a damaged journal still
    means no session can run tonight, so it is refused here as everywhere (exit 1)."""
    from bastion.store.check import check_journal

    if path.exists():
        check_journal(path, thorough=False)


def _other(
    kind: str, profile: str | None, secret: str | None, out: Path | None, json_out: bool
) -> None:
    from bastion.reports.operations import build_report

    run = start_run(profile, secret, json=json_out)
    report = build_report(kind, run.resolved)
    run.echo(report.text_with(run.tables_text))
    folder = out if out is not None else Path(run.resolved.profile.records_dir) / "reports"
    paths = report.write(folder, run.redactor)
    for path in paths:
        run.echo(f"output file: {path}")
    run.document = {
        **report.as_json(),
        "profile": run.resolved.profile.name,
        "output_files": [str(p) for p in paths],
    }
    run.finish(int(ExitCode.VERDICT_NO if report.verdict_no else ExitCode.SUCCESS))


OutOpt = Annotated[Path | None, typer.Option("--out", help="Folder for the Markdown/HTML files.")]


@report_app.command("status")
def status(
    profile: ProfileArg = None,
    out: OutOpt = None,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """Trading states, locks, kill request, positions, working orders, last gate."""
    _other("status", profile, secret, out, json_out)


@report_app.command("reconcile")
def reconcile(
    profile: ProfileArg = None,
    out: OutOpt = None,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """Bastion's book against the last broker snapshot: every break.

    Exit status 3 when there are breaks or a view is unknown.
    """
    _other("reconcile", profile, secret, out, json_out)


@report_app.command("trades")
def trades(
    profile: ProfileArg = None,
    out: OutOpt = None,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """Filled orders in price units, slippage against reference, mid and touch, delays."""
    _other("trades", profile, secret, out, json_out)


@report_app.command("pnl")
def pnl(
    profile: ProfileArg = None,
    out: OutOpt = None,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """Equity, realised and unrealised P&L, commissions and slippage, per currency."""
    _other("pnl", profile, secret, out, json_out)


@report_app.command("risk")
def risk(
    profile: ProfileArg = None,
    out: OutOpt = None,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """Risk level, trading states, limits, loss starts and denials."""
    _other("risk", profile, secret, out, json_out)
