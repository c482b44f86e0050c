"""``bastion reconcile``: the three views now, and a readable diff (R7.1, R7.2).

Read-only: it opens the profile's journal, asks the venue (on its own session, role
``reconcile``, so a running engine keeps its own) and prints every break
and the instruments the engine has locked. It writes nothing: the engine's own
reconciliation loop is what locks and unlocks. Exit status 0 when clean, 1 when there
are breaks or a view is unknown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.numbers import MAX_TIMEOUT_SECONDS, bounded
from bastion.errors import UserError

__all__ = ["reconcile_command"]


def reconcile_command(
    profile: Annotated[Path, typer.Option("--profile", help="The profile (YAML).")],
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Venue connect timeout, s (0 < s <= 3600).",
            callback=bounded("--timeout", 0, MAX_TIMEOUT_SECONDS, low_open=True, unit="s"),
        ),
    ] = 5.0,
) -> None:
    """Compare targets, Bastion's fill-derived book and the venue's snapshot."""
    from bastion.clock import WallClock
    from bastion.config import Environment, load_profile
    from bastion.recon import FillIndex, LockBook, reconcile, render_report, take_views
    from bastion.store.sqlite import SqliteStore
    from bastion.store.targets import TargetStore
    from bastion.venues.modes import ReadOnlyVenue
    from bastion.venues.registry import open_venue

    prof = load_profile(profile)
    if prof.environment is Environment.SIM:
        raise UserError(
            "bastion reconcile compares the journal with a venue that outlives the process;"
            " a sim profile's venue lives only inside its session"
        )
    if not prof.store.path.exists():
        raise UserError(f"no journal at {prof.store.path}; nothing traded under this profile yet")
    store = SqliteStore(prof.store.path)
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
        typer.echo(
            f"venue {where}: {'connected' if connected else 'UNREACHABLE (unknown, not flat)'}"
        )
        typer.echo(render_report(report, LockBook(store).locks()))
    finally:
        venue.disconnect()
        store.close()
    raise typer.Exit(0 if report.clean else 1)
