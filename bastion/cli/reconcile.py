"""``bastion reconcile``: the three views now, and a readable diff (R7.1, R7.2).

Read-only: it opens the profile's journal (none yet: Bastion's book is empty), asks the
venue (on its own session, role ``reconcile``, so a running engine keeps its own) and
prints every break and the instruments the engine has locked. It writes nothing: the engine's own
reconciliation loop is what locks and unlocks. Exit status (the table in
``bastion.cli.exits``): 0 clean; 3 breaks found, or a view unknown while the venue
answered; 1 the venue could not be reached (its view is unknown, never flat).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.numbers import MAX_TIMEOUT_SECONDS, bounded
from bastion.cli.runs import JsonOpt, ProfileArg, start_run
from bastion.errors import UserError

if TYPE_CHECKING:
    from bastion.domain.ids import InstrumentId
    from bastion.recon import ReconReport
    from bastion.reports.tables import TableData

__all__ = ["reconcile_command"]


def _tables(
    report: ReconReport, locks: Mapping[InstrumentId, Mapping[str, str]]
) -> list[TableData]:
    """The readable diff: the unknown views, every break in its row, the locks."""
    from bastion.reports.recon_tables import breaks_table, locks_table
    from bastion.reports.tables import facts_table

    unknown = ", ".join(report.unknown) or "none"
    if report.unknown:
        unknown += " (nothing built on them is called clean)"
    return [
        facts_table(
            "Reconciliation", [("unknown views", unknown), ("breaks", str(len(report.breaks)))]
        ),
        breaks_table(report.breaks),
        locks_table(locks),
    ]


def reconcile_command(
    profile: ProfileArg = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Venue connect timeout, s (0 < s <= 3600).",
            callback=bounded("--timeout", 0, MAX_TIMEOUT_SECONDS, low_open=True, unit="s"),
        ),
    ] = 5.0,
    json_out: JsonOpt = False,
) -> None:
    """Compare targets, Bastion's fill-derived book and the venue's snapshot.

    Exit status 0 when clean, 3 when there are breaks, 1 when the venue is unreachable.
    """
    from bastion.clock import WallClock
    from bastion.config import Environment
    from bastion.recon import FillIndex, LockBook, reconcile, take_views
    from bastion.store.sqlite import SqliteStore
    from bastion.store.targets import TargetStore
    from bastion.venues.modes import ReadOnlyVenue
    from bastion.venues.registry import open_venue

    run = start_run(profile, None, json=json_out)
    prof = run.resolved.profile
    if prof.environment is Environment.SIM:
        raise UserError(
            "bastion reconcile compares the journal with a venue that outlives the process;"
            " a sim profile's venue lives only inside its session"
        )
    # No journal yet: Bastion's book is empty, compared as such (nothing is created).
    fresh = not prof.store.path.exists()
    store = SqliteStore(":memory:" if fresh else prof.store.path)
    clock = WallClock()
    venue = ReadOnlyVenue(open_venue(prof, "reconcile", clock, timeout=timeout), clock)
    try:
        connected = venue.connect()
        fills = FillIndex()
        fills.extend(entry.record for entry in store.entries())
        targets = {
            (t.strategy_id, t.instrument_id): (t.low, t.high) for t in TargetStore(store).all()
        }
        report = reconcile(take_views(store.book, fills, venue if connected else None, targets))
        where = prof.venue.front or f"{prof.venue.host}:{prof.venue.port}"
        run.echo(
            f"venue {where}: {'connected' if connected else 'UNREACHABLE (unknown, not flat)'}"
        )
        locks = LockBook(store).locks()
        run.echo("reconciliation: " + ("CLEAN" if report.clean else "BREAKS"))
        run.tables(_tables(report, locks))
    finally:
        venue.disconnect()
        store.close()
    if report.clean:
        code = ExitCode.SUCCESS
    elif connected or report.breaks:
        code = ExitCode.VERDICT_NO
    else:
        code = ExitCode.ENVIRONMENT
    run.document = {
        "kind": "reconcile",
        "profile": prof.name,
        "venue": where,
        "connected": connected,
        "clean": report.clean,
        "breaks": [b.line() for b in report.breaks],
        "unknown": list(report.unknown),
        "locks": {str(k): dict(v) for k, v in locks.items()},
    }
    run.finish(int(code))
