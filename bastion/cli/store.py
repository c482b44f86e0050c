"""``bastion store``: check a journal, back it up, put a backup back (R9.6).

The journal is ``--journal PATH`` or the ``store.path`` of ``--profile/-p`` (default:
the official profile's). Exit status:
0 done; 1 the journal or the disk failed (damaged, unreadable, full, open in another
process); 2 the arguments are wrong (no journal named, a backup name already taken, a
replace not confirmed). See docs/store.md for the runbook and the restore drill.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.runs import JsonOpt, ProfileArg, emit_json
from bastion.errors import UserError

__all__ = ["store_app"]

store_app = typer.Typer(
    help="The journal: check it, back it up (also while an engine runs), restore a backup.",
    no_args_is_help=True,
)

JournalOpt = Annotated[
    Path | None, typer.Option("--journal", help="The journal file (default: the profile's).")
]
ProfileOpt = ProfileArg


def _journal(journal: Path | None, profile: str | None) -> Path:
    from bastion.gates.profiles import resolve_profile

    if journal is not None and profile is not None:
        raise UserError("give --journal or --profile, not both")
    if journal is not None:
        return journal
    return Path(resolve_profile(profile).profile.store.path)


def _when(ts_us: int | None) -> str:
    if ts_us is None:
        return "no entries"
    last = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts_us)
    return f"last entry written {last:%Y-%m-%d %H:%M:%S} UTC"


@store_app.command("check")
def check(
    path: Annotated[Path | None, typer.Argument(help="A journal or backup file.")] = None,
    journal: JournalOpt = None,
    profile: ProfileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a journal or a backup completely: SQLite's integrity check, every entry."""
    from bastion.store.check import check_journal

    if path is not None and journal is not None:
        raise UserError("name the journal once: PATH or --journal, not both")
    target = _journal(path if path is not None else journal, profile)
    if not target.exists():
        raise UserError(f"journal {target}: no such file")
    health = check_journal(target)
    if json_out:
        emit_json(
            {
                "journal": str(health.path),
                "whole": True,
                "check": health.check,
                "schema_version": health.schema_version,
                "entries": health.entries,
                "last_seq": health.last_seq,
                "size_bytes": health.size_bytes,
                "last_entry": _when(health.last_ts_us),
                "exit_code": 0,
            }
        )
        return
    typer.echo(health.line())
    typer.echo(_when(health.last_ts_us))


@store_app.command("backup")
def backup(
    journal: JournalOpt = None,
    profile: ProfileOpt = None,
    to: Annotated[
        Path | None,
        typer.Option("--to", help="Backup file (default: backups/<name>-<UTC time>.db beside)."),
    ] = None,
) -> None:
    """A consistent copy of the journal, also while an engine writes to it; checked."""
    from bastion.store.backup import backup_journal

    result = backup_journal(_journal(journal, profile), to, now=dt.datetime.now(dt.UTC))
    typer.echo(f"backup of {result.source} written to {result.path}")
    typer.echo(result.health.line())
    typer.echo(_when(result.health.last_ts_us))


@store_app.command("restore")
def restore(
    backup_file: Annotated[Path, typer.Argument(metavar="BACKUP", help="The backup to restore.")],
    journal: JournalOpt = None,
    profile: ProfileOpt = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace an existing journal (it is kept beside).")
    ] = False,
) -> None:
    """Put a checked backup in the journal's place; the old file is kept beside it."""
    from bastion.store.backup import restore_journal

    target = _journal(journal, profile)
    if not yes and target.exists() and sys.stdin.isatty() and sys.stdout.isatty():
        yes = typer.confirm(
            f"Replace {target} with {backup_file}? (the current file is kept beside it)"
        )
    result = restore_journal(backup_file, target, replace=yes, now=dt.datetime.now(dt.UTC))
    for kept in result.kept:
        typer.echo(f"kept the replaced file as {kept}")
    typer.echo(f"restored {result.backup} to {result.journal}")
    typer.echo(result.health.line())
    typer.echo(
        "next step: start the session; restart recovery adopts what the venue did after"
        " the backup, and nothing is sent before reconciliation is clean"
    )
