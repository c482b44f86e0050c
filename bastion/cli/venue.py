"""``bastion venue serve``: the paper venue in its own process (FIX 4.4 on loopback)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from bastion.errors import UserError

__all__ = ["venue_app"]

venue_app = typer.Typer(help="The paper venue process.", no_args_is_help=True)


@venue_app.command("serve")
def serve(  # noqa: PLR0917 - typer maps parameters to options
    state: Annotated[Path, typer.Option("--state", help="The venue's state file (SQLite).")],
    port: Annotated[
        int,
        typer.Option(
            "--port",
            envvar="BASTION_PAPER_PORT",
            help="TCP port on 127.0.0.1 (0: any; default: $BASTION_PAPER_PORT, else 9878).",
        ),
    ] = 9878,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the prices and the sim.")] = 7,
    tick_seconds: Annotated[float, typer.Option("--tick-seconds", help="Price feed step.")] = 0.1,
    heartbeat: Annotated[float, typer.Option("--heartbeat", help="FIX HeartBtInt, s.")] = 5.0,
    comp_id: Annotated[str, typer.Option("--comp-id", help="The venue's CompID.")] = "PAPER",
    max_seconds: Annotated[
        float | None, typer.Option("--max-seconds", help="Stop after this long (tests).")
    ] = None,
    control: Annotated[
        bool,
        typer.Option(
            "--control",
            help="Accept control messages (set a quote, halt, end of day): rehearsals and tests.",
        ),
    ] = False,
) -> None:
    """Serve the simulated venue over FIX 4.4 with persistent state.

    It prints 'listening on 127.0.0.1:PORT' once ready, and stops on SIGTERM or SIGINT.
    """
    from bastion.venues.paper.server import PaperServer, ServerConfig

    if not 0 <= port <= 65535:
        raise UserError(f"--port must be 0..65535, got {port}")
    if tick_seconds <= 0 or heartbeat <= 0:
        raise UserError("--tick-seconds and --heartbeat must be positive")
    from bastion.errors import EnvironmentFault
    from bastion.files import ensure_folder, path_problem

    ensure_folder(state.parent, "venue state folder")
    if (problem := path_problem(state, "file")) is not None:
        raise EnvironmentFault(f"--state {state}: {problem}")
    server = PaperServer(
        ServerConfig(
            state_path=state,
            port=port,
            seed=seed,
            tick_seconds=tick_seconds,
            heartbeat=heartbeat,
            comp_id=comp_id,
            control=control,
        )
    )

    def _stop(_signum: int, _frame: object) -> None:
        server.stop_flag.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sys.stdout.write(
        f"listening on 127.0.0.1:{server.port} (state {state}, {server.replayed} inputs replayed)\n"
    )
    sys.stdout.flush()
    try:
        server.run(max_seconds=max_seconds)
    finally:
        server.close()
