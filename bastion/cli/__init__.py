"""The ``bastion`` command: one sub-command per operator task.

User errors (bad profiles, bad data, bad arguments) print one line on stderr and exit
with status 2; environment faults (a damaged journal, an unwritable data folder) one
line and status 1; no traceback. Anything else is a bug and is shown in full.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bastion import __version__
from bastion.cli.config import config_app
from bastion.cli.data import data_app
from bastion.cli.flatten import flatten_command
from bastion.cli.gates import gate_app
from bastion.cli.probe import probe_command
from bastion.cli.reconcile import reconcile_command
from bastion.cli.recover import recover_command
from bastion.cli.report import report_app
from bastion.cli.risk import kill_command, risk_app
from bastion.cli.session import backtest_command, session_command
from bastion.cli.shadow import shadow_command
from bastion.cli.smoke import smoke_command
from bastion.cli.store import store_app
from bastion.cli.venue import venue_app
from bastion.cli.watchdog import alert_app, watchdog_command
from bastion.errors import EnvironmentFault, UserError

__all__ = ["app", "main"]

app = typer.Typer(
    name="bastion",
    help="Bastion: a fail-closed execution system for systematic futures trading.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(config_app, name="config")
app.add_typer(data_app, name="data")
app.add_typer(risk_app, name="risk")
app.add_typer(gate_app, name="gate")
app.add_typer(report_app, name="report")
app.command("probe")(probe_command)
app.command("shadow")(shadow_command)
app.command("smoke-order")(smoke_command)
app.command("flatten")(flatten_command)
app.command("kill")(kill_command)
app.command("session")(session_command)
app.command("backtest")(backtest_command)
app.add_typer(venue_app, name="venue")
app.command("reconcile")(reconcile_command)
app.command("recover")(recover_command)
app.command("watchdog")(watchdog_command)
app.add_typer(alert_app, name="alert")
app.add_typer(store_app, name="store")


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="Run records in en or zh (default: the profile's lang)."),
    ] = None,
) -> None:
    from bastion.ops.records import LANGUAGES, set_record_language

    if lang is not None and lang not in LANGUAGES:
        raise UserError(f"--lang {lang!r}; expected en or zh")
    set_record_language(lang)
    if version:
        typer.echo(f"bastion {__version__}")
        raise typer.Exit


def fail(message: str, code: int = 2) -> None:
    """Print one line to stderr and exit. For user errors only."""
    sys.stderr.write(f"bastion: error: {message}\n")
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app, turning user errors into one line and exit status 2."""
    from bastion.ops.records import set_command_args

    set_command_args(sys.argv[1:] if argv is None else argv)
    try:
        app(args=argv, prog_name="bastion", standalone_mode=True)
    except UserError as exc:
        fail(str(exc).replace("\n", " "))
    except EnvironmentFault as exc:
        fail(str(exc).replace("\n", " "), 1)
