"""``bastion journal``: the journal's records, filtered, as a table or JSON lines.

The runbooks send the operator to the journal (the ``recovery`` note after a restart,
``risk.kill.result`` after the kill switch); this shows it without SQL. Filters
combine: ``--since``/``--until`` (a UTC time or a date), ``--order`` (an order id: the
records naming it, and a whole family for an instrument order id), ``--correlation``
(the id the JSON logs carry, or its start), ``--kind`` (repeatable: a record type such
as ``fill`` or ``broker_order``, or a note's kind such as ``recovery`` or ``risk``).
``--last N`` keeps the last N matches. ``--json`` prints one JSON object a line.
Secrets and the account are masked, as everywhere. Reading never writes.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.runs import ProfileArg
from bastion.errors import UserError

__all__ = ["journal_command"]


def _time(value: str | None, option: str, *, end: bool) -> dt.datetime | None:
    """A UTC time (with an offset) or a date; a date as ``--until`` includes the day."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            start = dt.datetime.combine(day, dt.time(), dt.UTC)
            return start + dt.timedelta(days=1) if end else start
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"{option} {value!r}: expected a date (2024-04-30) or a time with its UTC offset"
            " (2024-04-30T21:00Z)"
        ) from None
    if parsed.tzinfo is None:
        raise UserError(f"{option} {value!r} needs a UTC offset (e.g. 2024-04-30T21:00Z)")
    return parsed.astimezone(dt.UTC)


def journal_command(  # noqa: PLR0917 - typer maps parameters to options
    profile: ProfileArg = None,
    journal: Annotated[
        Path | None, typer.Option("--journal", help="A journal file (default: the profile's).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this UTC time or date (inclusive).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Up to this UTC time, or through this date.")
    ] = None,
    order: Annotated[
        str | None, typer.Option("--order", help="Records of this order id (and its family).")
    ] = None,
    correlation: Annotated[
        str | None, typer.Option("--correlation", help="Correlation id, or its beginning.")
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Record type or note kind, or its prefix (repeatable)."),
    ] = None,
    last: Annotated[
        int | None, typer.Option("--last", min=1, help="Only the last N matching records.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object a line instead of the table.")
    ] = False,
) -> None:
    """Show the journal's records, filtered by time, order, correlation id and kind."""
    from collections import deque

    from bastion.gates.profiles import resolve_profile
    from bastion.ops.journal_view import JournalFilter, journal_rows
    from bastion.ops.records import redactor_for
    from bastion.reports.tables import grid, stdout_text
    from bastion.store import SqliteStore

    if journal is not None and profile is not None:
        raise UserError("give --journal or --profile, not both")
    if journal is not None:
        path, loaded = journal, None
    else:
        loaded = resolve_profile(profile).profile
        path = Path(loaded.store.path)
    if not path.exists():
        raise UserError(f"journal {path}: no such file; nothing has been journaled yet")
    wanted = JournalFilter(
        since=_time(since, "--since", end=False),
        until=_time(until, "--until", end=True),
        order=order,
        correlation=correlation,
        kinds=tuple(kind or ()),
    )
    redact = redactor_for(loaded)
    store = SqliteStore(path)
    try:
        rows = list(deque(journal_rows(store.entries(), wanted), maxlen=last))
    finally:
        store.close()
    if json_out:
        for row in rows:
            typer.echo(redact(json.dumps(row.as_json(), default=str)))
        return
    if not rows:
        typer.echo(f"journal {path}: no records match")
        return
    table = grid(
        f"journal {path}: {len(rows)} record(s)",
        ("seq", "time (UTC)", "kind", "correlation id", "what"),
        [
            (
                str(row.seq),
                f"{row.at:%Y-%m-%d %H:%M:%S}",
                row.kind,
                row.correlation_id or "-",
                row.summary(),
            )
            for row in rows
        ],
        numeric=(True, False, False, False, False),
    )
    typer.echo(redact(stdout_text([table])).rstrip("\n"))
