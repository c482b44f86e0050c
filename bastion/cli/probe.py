"""``bastion probe``: a read-only look at the broker (R8.1).

Connects and logs in through a read-only wrapper, confirms settlement where the venue
has it, and takes the account, position, open-order, fill and contract snapshots. The
position snapshot's state is ``confirmed_flat``, ``positions_received`` or ``missing``.
The snapshot is saved for the dry-run gate; the order API call counters are printed and
recorded (they stay at zero: the wrapper never forwards an order call).
Exit status 1 when the position snapshot is missing (the venue did not answer: the
environment failed, as in the table of ``bastion.cli.exits``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.numbers import MAX_TIMEOUT_SECONDS, bounded
from bastion.cli.runs import JsonOpt, ProfileArg, RunContext, SecretArg, start_run
from bastion.reports.money import money_text

__all__ = ["probe_command", "run_probe"]


def _age(now: dt.datetime, when: str | None) -> str:
    if when is None:
        return "unknown"
    return f"{(now - dt.datetime.fromisoformat(when)).total_seconds():.0f} s"


def probe_command(
    profile: ProfileArg = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Venue connect/query timeout, s (0 < s <= 3600).",
            callback=bounded("--timeout", 0, MAX_TIMEOUT_SECONDS, low_open=True, unit="s"),
        ),
    ] = 5.0,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """Read-only probe: connect, log in, snapshots; never an order call.

    Exit status 0 with a position snapshot, 1 when the venue gave none.
    """
    run = start_run(profile, secret, json=json_out)
    run.finish(run_probe(run, timeout))


def run_probe(run: RunContext, timeout: float) -> int:
    """Take and save the read-only snapshots; print and record; the exit code."""
    from bastion.clock import WallClock
    from bastion.gates.broker import (
        PositionState,
        broker_state_path,
        save_broker_state,
        take_broker_state,
    )
    from bastion.venues.modes import ReadOnlyVenue
    from bastion.venues.registry import open_venue, profile_contracts

    p = run.resolved.profile
    run.banner("probe")
    clock = WallClock()
    venue = ReadOnlyVenue(open_venue(p, "probe", clock, timeout=timeout), clock)
    try:
        state = take_broker_state(venue, clock, profile_contracts(p))
    finally:
        venue.disconnect()
    max_age = dt.timedelta(seconds=p.snapshot_max_age_seconds)
    now = clock.now()
    position_state = state.position_state(now, max_age)
    saved = save_broker_state(state, broker_state_path(p))
    run.echo(f"venue: {state.venue}")
    run.echo(
        f"connected: {'yes' if state.connected else 'NO'};"
        f" logged in: {'yes' if state.logged_in else 'NO'}"
    )
    run.echo(f"settlement: {state.settlement}")
    for step in state.login_steps:
        when = step["at"]
        age = (
            "never"
            if when is None
            else f"{(now - dt.datetime.fromisoformat(when)).total_seconds():.0f} s ago"
        )
        run.echo(
            f"{step['name']}: {'ok' if step['ok'] else 'FAILED'} ({age})"
            + (f": {step['detail']}" if step["detail"] else "")
        )
    if state.account is not None:
        a = state.account
        cur = a["currency"]
        run.echo(
            f"account snapshot: equity {money_text(a['equity'], cur)},"
            f" margin used {money_text(a['margin_used'], cur)},"
            f" available {money_text(a['margin_available'], cur)}"
            f" (at {state.account_at}, age {_age(now, state.account_at)})"
        )
    else:
        run.echo(f"account snapshot: MISSING ({state.account_reason})")
    if position_state is PositionState.MISSING:
        run.echo(f"position snapshot: missing ({state.positions_reason or 'too old'})")
    else:
        held = ", ".join(f"{c} {q:+d}" for c, q in (state.positions or {}).items()) or "none"
        run.echo(
            f"position snapshot: {position_state.value} ({held}) at {state.positions_at}"
            f" (age {_age(now, state.positions_at)})"
        )
    run.echo(
        f"open orders: {'unknown' if state.open_orders is None else state.open_orders};"
        f" fills today: {'unknown' if state.fills is None else len(state.fills)}"
    )
    run.echo(
        f"contract snapshot: {len(state.contracts)} contract(s): "
        + ", ".join(c["contract"] for c in state.contracts[:6])
        + f" (age {_age(now, state.taken_at)})"
    )
    run.echo(f"snapshots count as missing after {p.snapshot_max_age_seconds:g} s")
    counts = venue.counters.as_dict()
    run.echo(
        f"order API calls: send {counts['send_order_calls']}, cancel {counts['cancel_order_calls']}"
        f" (read-only: refused here {venue.refused_calls})"
    )
    ok = position_state is not PositionState.MISSING
    next_step = (
        "run 'bastion shadow' (if not yet run today), then 'bastion gate dry-run'"
        if ok
        else "the broker state is missing: check the venue is up and reachable, then probe again"
    )
    run.echo(f"next step: {next_step}")
    record = run.record(
        "probe",
        broker_state=state.summary(now, max_age),
        api_counts=counts,
        output_files=[str(saved)],
        next_step=next_step,
        gate_result=None,
    )
    run.write(record)
    return int(ExitCode.SUCCESS if ok else ExitCode.ENVIRONMENT)
