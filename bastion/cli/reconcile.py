"""``bastion reconcile``: the three views now, and a readable diff (R7.1, R7.2).

Read-only: it opens the profile's journal, asks the venue (over its own FIX session,
``<SenderCompID>.RECON``, so a running engine keeps its session) and prints every break
and the instruments the engine has locked. It writes nothing: the engine's own
reconciliation loop is what locks and unlocks. Exit status 0 when clean, 1 when there
are breaks or a view is unknown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bastion.errors import UserError

__all__ = ["reconcile_command"]


def reconcile_command(
    profile: Annotated[Path, typer.Option("--profile", help="The profile (YAML).")],
    timeout: Annotated[float, typer.Option("--timeout", help="Venue connect timeout, s.")] = 5.0,
) -> None:
    """Compare targets, Bastion's fill-derived book and the venue's snapshot."""
    from bastion.config import load_profile
    from bastion.recon import FillIndex, LockBook, reconcile, render_report, take_views
    from bastion.store.sqlite import SqliteStore
    from bastion.store.targets import TargetStore
    from bastion.venues.fix.config import FixConfig
    from bastion.venues.fix.execution import FixVenue
    from bastion.venues.paper.contracts import DEFAULT_CONTRACTS

    prof = load_profile(profile)
    if prof.venue.kind != "fix":
        raise UserError(
            f"bastion reconcile talks to a FIX venue; this profile's is {prof.venue.kind!r}"
        )
    if not prof.store.path.exists():
        raise UserError(f"no journal at {prof.store.path}; nothing traded under this profile yet")
    store = SqliteStore(prof.store.path)
    venue = FixVenue(
        FixConfig(
            host=prof.venue.host,
            port=prof.venue.port or 9878,
            sender_comp_id=f"{prof.venue.sender_comp_id}.RECON",
            # its own FIX session numbers, kept beside the journal (not in it)
            seq_path=prof.store.path.parent / f"{prof.venue.sender_comp_id}.RECON.seq.json",
            target_comp_id=prof.venue.target_comp_id,
            heartbeat_seconds=float(prof.venue.heartbeat_seconds),
            connect_timeout=timeout,
        ),
        dict(DEFAULT_CONTRACTS),
    )
    try:
        connected = venue.connect()
        fills = FillIndex()
        fills.extend(entry.record for entry in store.entries())
        targets = {
            (t.strategy_id, t.instrument_id): (t.low, t.high) for t in TargetStore(store).all()
        }
        report = reconcile(take_views(store.book, fills, venue if connected else None, targets))
        where = f"{prof.venue.host}:{prof.venue.port}"
        typer.echo(
            f"venue {where}: {'connected' if connected else 'UNREACHABLE (unknown, not flat)'}"
        )
        typer.echo(render_report(report, LockBook(store).locks()))
    finally:
        venue.disconnect()
        store.close()
    raise typer.Exit(0 if report.clean else 1)
