"""``bastion risk`` and ``bastion kill``: trading states, limits and the kill switch.

Every command takes ``--profile PATH`` and works on that profile's store, so it acts on
a running engine in another process (the engine re-reads the store within a second).
Every change needs ``--reason`` and is journaled. Bad input is one line and exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bastion.clock import WallClock
from bastion.config import Profile, RiskConfig, load_profile
from bastion.errors import UserError
from bastion.risk.board import StateBoard
from bastion.risk.kill_request import pending_kill
from bastion.risk.level import load_risk_level
from bastion.risk.limits import SETTABLE, LimitBook
from bastion.risk.loss import LossTracker
from bastion.risk.states import IllegalStateTransition, Scope, ScopeKind, StateEvent
from bastion.store import SqliteStore

__all__ = ["kill_command", "risk_app"]

risk_app = typer.Typer(
    help="Trading states (halt, reduce, resume), risk limits and status.", no_args_is_help=True
)

ProfileOpt = Annotated[Path | None, typer.Option("--profile", help="Profile YAML file.")]
ScopeOpt = Annotated[
    str | None,
    typer.Option("--scope", help="account, strategy:NAME or instrument:ID."),
]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (journaled; required).")]


def _profile(path: Path | None) -> Profile:
    if path is None:
        raise UserError("--profile PATH is required (the profile whose store to use)")
    return load_profile(path)


def _store(profile: Profile) -> SqliteStore:
    path = profile.store.path
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(path, clock=WallClock())


def _reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise UserError(f"{what} needs a reason: --reason TEXT (it is journaled)")
    return reason.strip()


def _scope(profile: Profile, text: str | None) -> Scope:
    if text is None:
        raise UserError("--scope is required: account, strategy:NAME or instrument:ID")
    scope = Scope.parse(text)
    if scope.kind is ScopeKind.INSTRUMENT and scope.name not in profile.instruments:
        raise UserError(
            f"scope {text!r}: instrument {scope.name} is not in profile {profile.name}"
            f" (instruments: {', '.join(profile.instruments)})"
        )
    return scope


def _change(
    profile_path: Path | None, scope_text: str | None, reason: str | None, event: StateEvent
) -> None:
    profile = _profile(profile_path)
    scope = _scope(profile, scope_text)
    why = _reason(reason, f"{event.value.removeprefix('operator_')} of {scope}")
    clock = WallClock()
    with _store(profile) as store:
        if event is StateEvent.OPERATOR_RESUME and (kill := pending_kill(store)) is not None:
            raise UserError(
                f"a kill is pending (requested {kill.get('requested_at')} by"
                f" {kill.get('actor')}); the account stays HALTED until the kill switch has"
                " run: start the engine (bastion session) or run 'bastion kill' again"
            )
        try:
            change = StateBoard(store, clock).apply(scope, event, why, actor="operator (cli)")
        except IllegalStateTransition as exc:
            raise UserError(
                f"{scope} is {exc.state.upper()}: {event.value.removeprefix('operator_')}"
                " does not apply (see: bastion risk status)"
            ) from None
    verb = "stays" if not change.changed else "moved from " + change.before.upper() + " to"
    typer.echo(f"{scope} {verb} {change.after.upper()} (journaled): {why}")


@risk_app.command("halt")
def halt(profile: ProfileOpt = None, scope: ScopeOpt = None, reason: ReasonOpt = None) -> None:
    """HALTED: nothing trades in the scope (the kill switch excepted)."""
    _change(profile, scope, reason, StateEvent.OPERATOR_HALT)


@risk_app.command("reduce")
def reduce(profile: ProfileOpt = None, scope: ScopeOpt = None, reason: ReasonOpt = None) -> None:
    """REDUCE_ONLY: only orders that reduce a position trade in the scope."""
    _change(profile, scope, reason, StateEvent.OPERATOR_REDUCE)


@risk_app.command("resume")
def resume(profile: ProfileOpt = None, scope: ScopeOpt = None, reason: ReasonOpt = None) -> None:
    """ACTIVE again. Only an operator can do this, with a reason."""
    _change(profile, scope, reason, StateEvent.OPERATOR_RESUME)


def _limit_lines(base: RiskConfig, book: LimitBook) -> list[str]:
    lines = []
    limits = book.limits
    for name in SETTABLE:
        value = getattr(limits, name)
        value = "unset" if value is None else value
        mark = (
            f"   (run-time override; profile: {getattr(base, name)})"
            if name in book.overrides
            else ""
        )
        lines.append(f"  {name:<28} {value}{mark}")
    for instrument, lots in sorted(limits.instrument_position_lots.items()):
        name = f"instrument_position_lots.{instrument}"
        mark = "   (run-time override)" if name in book.overrides else ""
        lines.append(f"  {name:<28} {lots}{mark}")
    return lines


@risk_app.command("limits")
def limits(
    profile: ProfileOpt = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="NAME=VALUE; 'none' unsets an optional limit.")
    ] = None,
    reset: Annotated[
        list[str] | None, typer.Option("--reset", help="NAME: back to the profile's value.")
    ] = None,
    reason: ReasonOpt = None,
) -> None:
    """Show the effective limits, or change them at run time (journaled)."""
    loaded = _profile(profile)
    changes = [*(set_ or []), *(reset or [])]
    clock = WallClock()
    with _store(loaded) as store:
        book = LimitBook(loaded.risk, store)
        if changes:
            why = _reason(reason, "changing a limit")
            for item in set_ or []:
                name, eq, value = item.partition("=")
                if not eq or not name.strip():
                    raise UserError(f"--set {item!r}: expected NAME=VALUE, e.g. max_order_lots=5")
                old, new = book.set(name.strip(), value, why, clock.now())
                typer.echo(f"{name.strip()}: {old} -> {new} (journaled)")
            for name in reset or []:
                old, new = book.reset(name.strip(), why, clock.now())
                typer.echo(f"{name.strip()}: {old} -> {new}, the profile's value (journaled)")
            return
        typer.echo(f"Risk limits of profile {loaded.name}:")
        for line in _limit_lines(loaded.risk, book):
            typer.echo(line)


@risk_app.command("status")
def status(profile: ProfileOpt = None) -> None:
    """Trading states, risk level, kill request, loss figures and limits."""
    loaded = _profile(profile)
    with _store(loaded) as store:
        board = StateBoard(store, WallClock())
        book = LimitBook(loaded.risk, store)
        level, source = load_risk_level(store)
        kill = pending_kill(store)
        loss = LossTracker(store).status()
    typer.echo(
        f"Risk status of profile {loaded.name} ({loaded.environment}, store {loaded.store.path})"
    )
    typer.echo("Trading states (scopes not listed are ACTIVE):")
    for scope, item in board.all().items():
        since = "" if item.since is None else f" since {item.since:%Y-%m-%d %H:%M:%S} UTC"
        why = f": {item.reason}" if item.reason else ""
        typer.echo(f"  {scope!s:<24} {item.state.upper():<12}{since}{why}")
    permits = {
        "base": "all orders",
        "review": "only closing, reducing and reconciling orders",
        "unknown": "only reducing orders (fail closed: no plan level known)",
    }[level.value]
    typer.echo(
        f"Risk level: {level}" + (f" (from {source})" if source else "") + f"; permits {permits}"
    )
    if kill:
        typer.echo(
            f"Kill switch: REQUESTED at {kill.get('requested_at')} by {kill.get('actor')}:"
            f" {kill.get('reason')}"
        )
    else:
        typer.echo("Kill switch: no request pending")
    if loss.day is None:
        typer.echo("Loss: no equity recorded yet")
    else:
        typer.echo(
            f"Loss: day {loss.day} started at {loss.day_start}; week {loss.week} started at"
            f" {loss.week_start}; equity peak {loss.peak}"
        )
    typer.echo("Limits:")
    for line in _limit_lines(loaded.risk, book):
        typer.echo(line)


def kill_command(
    profile: ProfileOpt = None,
    reason: ReasonOpt = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Venue timeout, s.")] = 5.0,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the outcome.")] = 60.0,
) -> None:
    """Pull the kill switch: HALTED now; cancel, flatten and confirm flat.

    If an engine is running for the profile, it runs the kill switch at its next pass
    and this command reports the outcome; if none is running, this command runs it on
    its own engine against the profile's venue.
    """
    from bastion.engine.requests import kill_now

    loaded = _profile(profile)
    why = _reason(reason, "the kill switch")
    from bastion.ops.monitor import attach_monitor

    outcome = kill_now(
        loaded,
        why,
        "operator (cli)",
        WallClock(),
        timeout=timeout,
        wait_seconds=wait,
        attach=lambda engine: attach_monitor(engine, loaded),
    )
    typer.echo(f"KILL SWITCH: account HALTED and kill requested (journaled): {why}")
    typer.echo(f"run by {outcome.via}")
    for line in outcome.lines:
        typer.echo(f"  {line}")
    typer.echo(outcome.headline)
    if outcome.flat_confirmed is not True:
        raise typer.Exit(1)
