"""``bastion venue serve``: the paper venue in its own process (FIX 4.4 on loopback)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.numbers import (
    MAX_HEARTBEAT_SECONDS,
    MAX_RUN_SECONDS,
    MAX_TICK_SECONDS,
    MAX_TIMEOUT_SECONDS,
    MIN_HEARTBEAT_SECONDS,
    bounded,
)
from bastion.cli.runs import JsonOpt, emit_json
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
    tick_seconds: Annotated[
        float,
        typer.Option(
            "--tick-seconds",
            help="Price feed step, s (above 0, at most 3600).",
            callback=bounded("--tick-seconds", 0, MAX_TICK_SECONDS, low_open=True, unit="s"),
        ),
    ] = 0.1,
    heartbeat: Annotated[
        float,
        typer.Option(
            "--heartbeat",
            help="FIX HeartBtInt, s (1 to 300).",
            callback=bounded("--heartbeat", MIN_HEARTBEAT_SECONDS, MAX_HEARTBEAT_SECONDS, unit="s"),
        ),
    ] = 5.0,
    comp_id: Annotated[str, typer.Option("--comp-id", help="The venue's CompID.")] = "PAPER",
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            help="A client CompID allowed to log on, with its roles <CompID>.<ROLE>"
            " (repeatable; default BASTION).",
        ),
    ] = None,
    user_env: Annotated[
        str | None,
        typer.Option("--user-env", help="Environment variable holding the Logon Username."),
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Environment variable holding the Logon Password."),
    ] = None,
    max_connections: Annotated[
        int, typer.Option("--max-connections", help="Open connections at most.")
    ] = 64,
    logon_timeout: Annotated[
        float,
        typer.Option(
            "--logon-timeout",
            help="Seconds a connection has to log on (above 0, at most 3600).",
            callback=bounded("--logon-timeout", 0, MAX_TIMEOUT_SECONDS, low_open=True, unit="s"),
        ),
    ] = 10.0,
    max_message_bytes: Annotated[
        int, typer.Option("--max-message-bytes", help="Largest FIX message body, bytes.")
    ] = 65536,
    max_seconds: Annotated[
        float | None,
        typer.Option(
            "--max-seconds",
            help="Stop after this long, s (tests; at most a week).",
            callback=bounded("--max-seconds", 0, MAX_RUN_SECONDS, low_open=True, unit="s"),
        ),
    ] = None,
    control: Annotated[
        bool,
        typer.Option(
            "--control",
            help="Accept control messages (set a quote, halt, end of day, a clock offset,"
            " silence): rehearsals and tests.",
        ),
    ] = False,
) -> None:
    """Serve the simulated venue over FIX 4.4 with persistent state. It prints
    ``listening on 127.0.0.1:PORT`` once ready, and stops on SIGTERM or SIGINT, printing
    the digest of its state (``bastion venue digest`` recomputes it from the file)."""
    from bastion.venues.paper.access import clients_from_environment
    from bastion.venues.paper.server import PaperServer, ServerConfig

    if not 0 <= port <= 65535:
        raise UserError(f"--port must be 0..65535, got {port}")
    from bastion.errors import EnvironmentFault
    from bastion.files import ensure_folder, path_problem

    if not 1 <= max_connections <= 100_000:
        raise UserError(f"--max-connections must be 1..100000, got {max_connections}")
    if not 512 <= max_message_bytes <= 16 * 1024 * 1024:
        raise UserError(f"--max-message-bytes must be 512..16777216, got {max_message_bytes}")
    clients = clients_from_environment(allow or ["BASTION"], user_env, password_env)
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
            clients=clients,
            max_connections=max_connections,
            logon_timeout=logon_timeout,
            max_message_bytes=max_message_bytes,
            max_buffer_bytes=4 * max_message_bytes,
        )
    )

    def _stop(_signum: int, _frame: object) -> None:
        server.stop_flag.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sys.stdout.write(
        f"listening on 127.0.0.1:{server.port} (state {state}, {server.replayed} inputs replayed;"
        f" clients {', '.join(server.policy.comp_ids)}; at most {server.max_connections}"
        " connections)\n"
    )
    sys.stdout.flush()
    try:
        server.run(max_seconds=max_seconds)
    finally:
        digest = server.venue.state_digest()
        server.close()
        sys.stdout.write(f"stopped; state digest {digest}\n")
        sys.stdout.flush()


@venue_app.command("digest")
def digest(
    state: Annotated[Path, typer.Option("--state", help="The venue's state file (SQLite).")],
    seed: Annotated[int, typer.Option("--seed", help="Seed the venue was served with.")] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Replay a paper venue's state file and print the digest of the state it rebuilds
    (the same as ``serve`` printed when it stopped, if nothing was lost)."""
    from bastion.venues.paper.server import replayed_digest

    if not state.is_file():
        raise UserError(f"--state {state}: no such file")
    inputs, value = replayed_digest(state, seed)
    if json_out:
        emit_json({"kind": "venue-digest", "digest": value, "inputs": inputs, "exit_code": 0})
        return
    sys.stdout.write(f"state digest {value} ({inputs} inputs replayed)\n")
