"""``bastion risk`` and ``bastion kill``: trading states, limits and the kill switch.

Every command takes ``--profile/-p`` (default: the official profile) and works on that
profile's store, so it acts on a running engine in another process (the engine re-reads
the store within a second). Every change needs ``--reason`` and is journaled. Bad input
is one line and exit 2. ``kill`` sends orders, so it never defaults to a live profile;
it exits 1 when flat could not be confirmed (the venue did not answer).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.numbers import MAX_TIMEOUT_SECONDS, bounded
from bastion.cli.runs import JsonOpt, ProfileArg, emit_json, refuse_live_default
from bastion.clock import WallClock
from bastion.config import Profile
from bastion.errors import UserError
from bastion.gates.profiles import resolve_profile
from bastion.reports.tables import TableData, facts_table, grid, stdout_text
from bastion.risk.board import StateBoard
from bastion.risk.kill_request import pending_kill
from bastion.risk.level import RiskLevel, load_risk_level
from bastion.risk.limits import LimitBook
from bastion.risk.loss import LossStatus, LossTracker
from bastion.risk.states import IllegalStateTransition, Scope, ScopeKind, StateEvent
from bastion.store import SqliteStore

__all__ = ["kill_command", "risk_app"]

risk_app = typer.Typer(
    help="Trading states (halt, reduce, resume), risk limits and status.", no_args_is_help=True
)

ProfileOpt = ProfileArg
ScopeOpt = Annotated[
    str | None,
    typer.Option("--scope", help="account, strategy:NAME or instrument:ID."),
]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (journaled; required).")]


def _profile(given: str | None) -> Profile:
    """The named profile, else the official one."""
    return resolve_profile(given).profile


def _store(profile: Profile) -> SqliteStore:
    from bastion.files import ensure_folder

    path = profile.store.path
    ensure_folder(path.parent, "journal folder")
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
    profile_path: str | None, scope_text: str | None, reason: str | None, event: StateEvent
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


def _limits_table(profile: Profile, book: LimitBook) -> TableData:
    from bastion.reports.risk_tables import limits_table

    return limits_table(
        book.limits, profile.currency, profile=profile.risk, overrides=book.overrides
    )


def _money_change(name: str, value: object, currency: str) -> str:
    from bastion.reports.risk_tables import limit_text

    return limit_text(name.partition(".")[0], value, currency)


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
    json_out: JsonOpt = False,
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
                was, now = (_money_change(name.strip(), v, loaded.currency) for v in (old, new))
                typer.echo(f"{name.strip()}: {was} -> {now} (journaled)")
            for name in reset or []:
                old, new = book.reset(name.strip(), why, clock.now())
                was, now = (_money_change(name.strip(), v, loaded.currency) for v in (old, new))
                typer.echo(f"{name.strip()}: {was} -> {now}, the profile's value (journaled)")
            return
        if json_out:
            emit_json(
                {
                    "profile": loaded.name,
                    "limits": book.limits.model_dump(mode="json"),
                    "overrides": sorted(book.overrides),
                }
            )
            return
        typer.echo(f"Risk limits of profile {loaded.name}")
        typer.echo(stdout_text([_limits_table(loaded, book)]).rstrip("\n"))


@risk_app.command("status")
def status(profile: ProfileOpt = None, json_out: JsonOpt = False) -> None:
    """Trading states, risk level, kill request, loss figures and limits."""
    loaded = _profile(profile)
    with _store(loaded) as store:
        board = StateBoard(store, WallClock())
        book = LimitBook(loaded.risk, store)
        level, source = load_risk_level(store)
        kill = pending_kill(store)
        loss = LossTracker(store).status()
    if json_out:
        emit_json(
            {
                "profile": loaded.name,
                "environment": loaded.environment.value,
                "store": str(loaded.store.path),
                "states": {
                    str(scope): {
                        "state": item.state.value,
                        "since": None if item.since is None else item.since.isoformat(),
                        "reason": item.reason,
                    }
                    for scope, item in board.all().items()
                },
                "risk_level": level.value,
                "risk_level_source": source,
                "kill_request": kill,
                "loss": {
                    "day": None if loss.day is None else str(loss.day),
                    "day_start": None if loss.day_start is None else str(loss.day_start),
                    "week": None if loss.week is None else str(loss.week),
                    "week_start": None if loss.week_start is None else str(loss.week_start),
                    "peak": None if loss.peak is None else str(loss.peak),
                },
                "limits": book.limits.model_dump(mode="json"),
            }
        )
        return
    typer.echo(
        stdout_text(_status_tables(loaded, board, book, level, source, kill, loss)).rstrip("\n")
    )


def _status_tables(  # noqa: PLR0917 - the figures the status prints
    loaded: Profile,
    board: StateBoard,
    book: LimitBook,
    level: RiskLevel,
    source: str,
    kill: dict[str, Any] | None,
    loss: LossStatus,
) -> list[TableData]:
    """The status as tables: the facts, the trading states, the limits."""
    from bastion.reports.money import format_money

    permits = {
        "base": "all orders",
        "review": "only closing, reducing and reconciling orders",
        "unknown": "only reducing orders (fail closed: no plan level known)",
    }[level.value]
    cur = loaded.currency

    def money(value: Decimal | None) -> str:
        return "-" if value is None else format_money(value, cur)

    facts = [
        ("profile", f"{loaded.name} ({loaded.environment})"),
        ("store", str(loaded.store.path)),
        ("risk level", f"{level}" + (f" (from {source})" if source else "")),
        ("permits", permits),
        (
            "kill switch",
            f"REQUESTED at {kill.get('requested_at')} by {kill.get('actor')}: {kill.get('reason')}"
            if kill
            else "no request pending",
        ),
    ]
    if loss.day is None:
        facts.append(("loss", "no equity recorded yet"))
    else:
        facts += [
            ("equity at day start", f"{money(loss.day_start)} (day {loss.day})"),
            ("equity at week start", f"{money(loss.week_start)} (week {loss.week})"),
            ("equity peak", money(loss.peak)),
        ]
    states = [
        (
            str(scope),
            item.state.upper(),
            "" if item.since is None else f"{item.since:%Y-%m-%d %H:%M:%S}",
            item.reason or "",
        )
        for scope, item in board.all().items()
    ]
    return [
        facts_table("Risk status", facts),
        grid(
            "Trading states",
            ("scope", "state", "since (UTC)", "reason"),
            states,
            numeric=(False, False, False, False),
            note="scopes not listed are ACTIVE",
        ),
        _limits_table(loaded, book),
    ]


def kill_command(  # noqa: PLR0917 - typer maps parameters to options
    profile: ProfileOpt = None,
    reason: ReasonOpt = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Venue connect/query timeout, s (0 < s <= 3600).",
            callback=bounded("--timeout", 0, MAX_TIMEOUT_SECONDS, low_open=True, unit="s"),
        ),
    ] = 5.0,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            help="Seconds to wait for the outcome (0 <= s <= 3600).",
            callback=bounded("--wait", 0, MAX_TIMEOUT_SECONDS, unit="s"),
        ),
    ] = 60.0,
    global_cancel: Annotated[
        str | None,
        typer.Option(
            "--global-cancel",
            metavar="CANCEL_EVERY_ORDER_IN_THE_ACCOUNT",
            help="IB, no engine running: first cancel every order in the account (other"
            " programs' and manual ones too) from the kill's own client id; the phrase"
            " confirms it.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Pull the kill switch: HALTED now; cancel, flatten and confirm flat.

    If an engine is running for the profile, it runs the kill switch at its next pass
    and this command reports the outcome; if none is running, this command runs it on
    its own engine against the profile's venue. On IB, when a connection that will not
    go away holds the engine's client id, --global-cancel cancels every order in the
    account from another client id before the flatten.
    """
    from bastion.engine.requests import kill_now

    resolved = resolve_profile(profile)
    refuse_live_default(resolved, "bastion kill")
    loaded = resolved.profile
    why = _reason(reason, "the kill switch")
    from bastion.ops.monitor import attach_monitor

    outcome = kill_now(
        loaded,
        why,
        "operator (cli)",
        WallClock(),
        timeout=timeout,
        wait_seconds=wait,
        attach=lambda engine, after: attach_monitor(engine, loaded, after_seq=after),
        global_cancel=global_cancel,
    )
    lines = [
        f"KILL SWITCH: account HALTED and kill requested (journaled): {why}",
        f"run by {outcome.via}",
        *(f"  {line}" for line in outcome.lines),
        outcome.headline,
    ]
    code = ExitCode.SUCCESS if outcome.flat_confirmed is True else ExitCode.ENVIRONMENT
    if json_out:
        emit_json(
            {
                "kind": "kill",
                "profile": loaded.name,
                "via": outcome.via,
                "flat_confirmed": outcome.flat_confirmed,
                "headline": outcome.headline,
                "api_calls": dict(outcome.api_calls),
                "exit_code": int(code),
                "lines": lines,
            }
        )
    else:
        for line in lines:
            typer.echo(line)
    if code:
        raise typer.Exit(int(code))
