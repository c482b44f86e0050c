"""The ``bastion`` command: one sub-command per operator task.

Exit codes follow one table (``bastion.cli.exits``): 0 success, 1 the environment
failed, 2 the user's input is wrong, 3 a verdict of NO. User errors (bad profiles, bad
data, bad arguments) print one line on stderr and exit with status 2; environment
faults (a damaged journal, an unwritable or missing path, a full disk) one line naming
the path and the problem, status 1; no traceback. Anything else is a bug and is shown
in full.

Conventions every command keeps: ``-h``/``--help``; ``--profile/-p`` on every command
that takes a profile, defaulting to the official profile (commands that send orders
never default to a live one); ``--json`` on every command that reports; shell
completion (``bastion --install-completion``).
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Annotated

import typer
from typer._click import exceptions as click  # typer carries its own click

from bastion import __version__
from bastion.cli.after_close import after_close_command
from bastion.cli.calendar import calendar_app
from bastion.cli.config import config_app
from bastion.cli.data import data_app
from bastion.cli.flatten import flatten_command
from bastion.cli.fx import fx_app
from bastion.cli.gates import gate_app
from bastion.cli.init import init_command
from bastion.cli.journal import journal_command
from bastion.cli.polish import build_command
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
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("init")(init_command)
app.command("after-close")(after_close_command)
app.add_typer(config_app, name="config")
data_app.add_typer(calendar_app, name="calendar")
data_app.add_typer(fx_app, name="fx")
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
app.command("journal")(journal_command)
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


def os_problem(exc: OSError) -> str:
    """An ``OSError`` as one line: the path and what is wrong with it."""
    what = exc.strerror or type(exc).__name__
    where = exc.filename if exc.filename is not None else ""
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    return f"{where}: {what}" if where != "" else str(exc) or what


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app; user errors are one line and exit status 2 (the
    argument parser's own included: a value of the wrong type, an unknown or missing
    option), environment faults (files, disks, journals) one line and exit status 1."""
    from bastion.ops.records import set_command_args

    args = sys.argv[1:] if argv is None else argv
    set_command_args(args)
    try:
        # Not standalone: click's errors come here (one line below), not as its usage panel.
        code = build_command(app).main(args=args, prog_name="bastion", standalone_mode=False)
    except click.NoArgsIsHelpError as exc:  # a group given no command: its help
        typer.echo(exc.ctx.get_help() if exc.ctx is not None else str(exc))
        raise SystemExit(2) from None
    except click.UsageError as exc:  # bad arguments: options, values, commands
        fail(usage_line(exc, args))
    except click.ClickException as exc:
        fail(exc.format_message().replace("\n", " "), exc.exit_code)
    except typer.Abort:
        fail("aborted", 1)
    except UserError as exc:
        fail(str(exc).replace("\n", " "))
    except EnvironmentFault as exc:
        fail(str(exc).replace("\n", " "), 1)
    except OSError as exc:  # a path Bastion could not read or write: the environment's fault
        fail(os_problem(exc).replace("\n", " "), 1)
    except sqlite3.OperationalError as exc:  # a database the disk refused (full, read-only)
        fail(f"database: {exc}", 1)
    # A command's typer.Exit(code) comes back as its code; a command returns None.
    raise SystemExit(code if isinstance(code, int) and not isinstance(code, bool) else 0)


def _given(args: list[str], opts: list[str]) -> str | None:
    """The value given on the command line for an option named by ``opts`` (the last)."""
    found = None
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name in opts:
            if eq:
                found = value
            elif i + 1 < len(args):
                found = args[i + 1]
    return found


def usage_line(exc: click.UsageError, args: list[str]) -> str:
    """Click's usage error as one line: the command, the option or argument, the value
    given and what was expected, and where to read more."""
    ctx = exc.ctx
    path = ctx.command_path if ctx is not None else "bastion"
    command = path.removeprefix("bastion").strip()
    message = " ".join(exc.format_message().split())
    param = exc.param if isinstance(exc, click.BadParameter) else None
    if param is not None and not isinstance(exc, click.MissingParameter):
        name = param.opts[0] if param.opts else (param.human_readable_name or "")
        value = _given(args, [*param.opts, *param.secondary_opts])
        detail = " ".join(exc.message.split())
        if detail[:1].isupper():
            detail = detail[0].lower() + detail[1:]
        shown = f" {value!r}" if value is not None else ""
        return f"{command} {name}{shown}: {detail} (see '{path} --help')".lstrip()
    where = f"{command}: " if command else ""
    return f"{where}{message} (see '{path} --help')"
