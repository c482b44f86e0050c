"""``bastion init``: make a working folder with profiles, pools and a drop folder, and say
what was made and what to run next (``bastion.ops.workspace``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.runs import JsonOpt, emit_json
from bastion.errors import UserError
from bastion.ops.workspace import PAPER_PORT, init_workspace

__all__ = ["init_command"]

WHAT = {
    "profiles/paper.yaml": "the official profile: paper trading against the paper venue",
    "profiles/paper-compare.yaml": "a comparison profile (output labelled COMPARISON)",
    "profiles/sim.yaml": "a simulated session in process, no broker",
    "drop": "where new bar files arrive ('bastion after-close' imports them)",
}


def init_command(
    folder: Annotated[
        Path, typer.Argument(metavar="FOLDER", help="The working folder (default: here).")
    ] = Path(),
    port: Annotated[
        int,
        typer.Option(
            "--port",
            envvar="BASTION_PAPER_PORT",
            help="The paper venue's port on 127.0.0.1 (default: $BASTION_PAPER_PORT, else 9878).",
        ),
    ] = PAPER_PORT,
    json_out: JsonOpt = False,
) -> None:
    """Make a working folder: profiles (paper official, a comparison, sim), pools, drop."""
    if not 1 <= port <= 65535:
        raise UserError(f"--port must be 1..65535, got {port}")
    made = init_workspace(folder, port=port)
    if json_out:
        emit_json(
            {
                "kind": "init",
                "folder": str(folder),
                "made": [str(p) for p in made.made],
                "exit_code": 0,
            }
        )
        return
    typer.echo(f"bastion init: made a working folder in {folder.resolve()}:")
    for path in made.made:
        typer.echo(f"  {path}{'  ' + WHAT[str(path)] if str(path) in WHAT else ''}")
    where = "" if folder == Path() else f"cd {folder} && "
    typer.echo("run every command from this folder; next:")
    typer.echo(f"  {where}bastion venue serve --state runs/paper/venue.db &   # port {port}")
    typer.echo("  export BASTION_PAPER_PASSWORD=...   # the paper venue's password")
    typer.echo("  bastion after-close --date 2024-04-30   # data, shadow, probe, gate")
    typer.echo("see docs/operator-day.md")
