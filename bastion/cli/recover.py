"""``bastion recover``: clear a locked instrument from the CLI (R7.5, issue 13).

An instrument locked by a break or a surprise (an overfill, a fill for an order Bastion
did not place, a restore that lost orders) stays locked until an operator decides. This
command runs the recovery procedure on its own engine (the kernel's, with the store's
one-engine lock: it refuses while a session runs) against the profile's venue:

- cancel the instrument's working orders and wait for the answers;
- take a fresh snapshot and bring every venue fact Bastion lacks into the book (the
  broker is the truth for what is held), held by the reserved ``unattributed`` strategy;
- ``--adopt``: the unattributed position becomes a strategy's (``--strategy``, by
  default ``manual``), by a journaled transfer; or ``--restore``: a correcting order
  through the one send path trades it away, so the venue holds again what the
  strategies hold;
- confirm with a reconciliation; only a clean one unlocks (the locks only an operator
  clears included), and every step is journaled with ``--reason``.

Exit status: 0 when clean and unlocked, 3 when still not clean (a verdict: look again).
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from bastion.cli.numbers import MAX_TIMEOUT_SECONDS, bounded
from bastion.cli.runs import JsonOpt, ProfileArg, start_run

__all__ = ["recover_command"]


def recover_command(  # noqa: PLR0917 - typer options
    instrument: Annotated[
        list[str], typer.Option("--instrument", "-i", help="A locked instrument (repeatable).")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (journaled; required).")],
    adopt: Annotated[
        bool, typer.Option("--adopt", help="Keep the venue's position, owned by --strategy.")
    ] = False,
    restore: Annotated[
        bool, typer.Option("--restore", help="Trade away what no strategy owns.")
    ] = False,
    strategy: Annotated[
        str, typer.Option("--strategy", help="With --adopt: who owns it (default manual).")
    ] = "manual",
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Venue timeout, s (0 < s <= 3600).",
            callback=bounded("--timeout", 0, MAX_TIMEOUT_SECONDS, low_open=True, unit="s"),
        ),
    ] = 10.0,
    profile: ProfileArg = None,
    json_out: JsonOpt = False,
) -> None:
    """Clear a locked instrument: adopt the venue's position or restore Bastion's."""
    from bastion.clock import WallClock
    from bastion.config import Environment
    from bastion.domain.ids import InstrumentId, StrategyId
    from bastion.engine.kernel import build_engine, config_from_profile
    from bastion.errors import UserError
    from bastion.ops.monitor import attach_monitor
    from bastion.orders.rolls import FixedSchedule
    from bastion.recon.procedure import RecoveryProcedure
    from bastion.venues.registry import open_venue, profile_contracts

    if adopt == restore:
        raise UserError("choose one: --adopt (keep the venue's position) or --restore")
    if not reason.strip():
        raise UserError("recover needs a reason: --reason TEXT (it is journaled)")
    run = start_run(profile, None, json=json_out, sends_orders="bastion recover")
    loaded = run.resolved.profile
    unknown = sorted(set(instrument) - set(loaded.instruments))
    if unknown:
        raise UserError(
            f"--instrument {', '.join(unknown)}: not in profile {loaded.name}"
            f" (instruments: {', '.join(loaded.instruments)})"
        )
    if loaded.environment is Environment.SIM:
        raise UserError(
            f"profile {loaded.name} is a sim profile: its venue lives only inside a session;"
            " nothing outside one can be recovered against"
        )
    clock = WallClock()
    specs = {spec.instrument_id: spec for spec in profile_contracts(loaded).values()}
    venue = open_venue(loaded, "recover", clock, timeout=timeout)
    engine = build_engine(
        config_from_profile(loaded, specs, FixedSchedule(contracts={}), role="recover"),
        venue,
        clock,
    )
    attach_monitor(engine, loaded)
    try:
        deadline = time.monotonic() + timeout
        while not engine.sync():
            if time.monotonic() >= deadline:
                raise UserError(
                    f"the venue of profile {loaded.name} could not be reached"
                    f" ({venue.last_disconnect_reason or 'no answer'}); nothing was changed"
                )
            time.sleep(0.1)
        procedure = RecoveryProcedure(
            engine.reconciler,
            engine.venue,
            engine.gateway,
            engine.stack.drain,
            lambda: time.sleep(0.1),
            strategy_id=StrategyId(strategy),
        )
        result = procedure.run(
            {InstrumentId(i) for i in instrument}, reason.strip(), restore=restore
        )
    finally:
        venue.disconnect()
        engine.close()
    for step in result.steps:
        run.echo(step)
    run.echo("recovery: " + ("CLEAN, unlocked" if result.clean else "NOT clean: still locked"))
    run.document = {
        "kind": "recover",
        "profile": loaded.name,
        "instruments": sorted(instrument),
        "action": "adopt" if adopt else "restore",
        "clean": result.clean,
        "steps": list(result.steps),
    }
    run.finish(0 if result.clean else 3)
