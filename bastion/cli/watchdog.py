"""``bastion watchdog`` and ``bastion alert``: the silent-engine watch and alert checks.

- ``bastion watchdog --profile P``: watch the engine's heartbeat until stopped (SIGTERM
  or Ctrl-C); ``--once`` looks once (for a systemd timer or cron) and exits 3 when the
  engine is silent or dead (a verdict of NO, the table in ``bastion.cli.exits``). One
  watchdog per journal (a lock beside it).
- ``bastion alert test --profile P``: send a test alert to every target now and print
  what each answered; exit 1 if any failed (the delivery, i.e. the environment, failed).
- ``bastion alert all-clear --profile P [--day D]``: build the daily all-clear from the
  journal, print it, and send it (``--dry-run``: print only).
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.numbers import MAX_RUN_SECONDS, bounded
from bastion.cli.runs import JsonOpt, ProfileArg, SecretArg, start_run

if TYPE_CHECKING:
    from bastion.cli.runs import RunContext
    from bastion.ops.alerts.notify import Notifier
    from bastion.ops.watchdog import WatchdogPass

__all__ = ["alert_app", "watchdog_command"]

alert_app = typer.Typer(
    help="Alerts: send a test alert, the daily all-clear.", no_args_is_help=True
)

FLUSH_SECONDS = 30.0


def _pass_line(done: WatchdogPass) -> str:
    seen = done.assessment
    line = f"watchdog: {seen.verdict}: {seen.reason}"
    if done.alerted:
        line += f"; alerted {', '.join(done.alerted)}"
    if done.cancel is not None:
        line += f"; cancel {'confirmed' if done.cancel.confirmed else 'NOT confirmed'}"
    if done.all_clear:
        line += "; daily all-clear sent"
    return line


def watchdog_command(
    profile: ProfileArg = None,
    once: Annotated[
        bool, typer.Option("--once", help="Look once and exit (3 if silent or dead).")
    ] = False,
    max_seconds: Annotated[
        float | None,
        typer.Option(
            "--max-seconds",
            help="Stop after this long, s (at most a week).",
            callback=bounded("--max-seconds", 0, MAX_RUN_SECONDS, unit="s"),
        ),
    ] = None,
    secret: SecretArg = None,
    json_out: JsonOpt = False,
) -> None:
    """Watch the engine's heartbeat; alert (and cancel, if the profile asks) when it stops."""
    from bastion.engine.lock import EngineLock
    from bastion.ops.watchdog import Watchdog

    run = start_run(profile, secret, json=json_out)
    p = run.resolved.profile
    journal = p.store.path
    settings = p.alerts.watchdog
    run.banner("watchdog")
    own = EngineLock.acquire(
        journal,
        p.name,
        role="watchdog",
        wait=0.0,
        path=journal.with_name(f"{journal.stem}-watchdog.lock"),
    )
    notifier = _notifier(run)
    try:
        if not p.alerts.targets:
            run.echo("watchdog: the profile has no alerts.targets: it watches and journals only")
        run.echo(
            f"watchdog: timeout {settings.timeout_seconds:g} s, every {settings.poll_seconds:g} s,"
            f" cancel working orders: {'yes' if settings.cancel_working_orders else 'no'}"
        )
        watchdog = Watchdog(p, notifier)
        if once:
            done = watchdog.check()
            run.echo(_pass_line(done))
            run.document = {
                "kind": "watchdog",
                "profile": p.name,
                "verdict": str(done.assessment.verdict),
                "reason": done.assessment.reason,
                "alerted": list(done.alerted),
                "cancel_confirmed": None if done.cancel is None else done.cancel.confirmed,
            }
            if done.assessment.stopped_beating:
                run.finish(int(ExitCode.VERDICT_NO))
            else:
                run.finish()
            return
        stop = threading.Event()

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        previous = signal.signal(signal.SIGTERM, _stop)
        last: list[str] = []

        def report(done: WatchdogPass) -> None:
            line = _pass_line(done)
            if done.alerted or done.cancel or done.all_clear or [done.assessment.verdict] != last:
                run.echo(line)
            last[:] = [done.assessment.verdict]

        try:
            watchdog.run(stop, max_seconds=max_seconds, report=report)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        run.echo("watchdog: stopped")
        run.document = {"kind": "watchdog", "profile": p.name, "last_verdict": "".join(last)}
        run.finish()
    finally:
        notifier.close(FLUSH_SECONDS)
        own.release()


def _notifier(run: RunContext, *, start: bool = True) -> Notifier:
    from bastion.ops.alerts.notify import open_notifier

    return open_notifier(run.resolved.profile, start=start)


@alert_app.command("test")
def send_test_command(
    profile: ProfileArg = None,
    message: Annotated[
        str, typer.Option("--message", help="Text of the test alert.")
    ] = "test alert: if you read this, alerts reach you",
    secret: SecretArg = None,
    json_out: JsonOpt = False,
) -> None:
    """Send a test alert to every target now and print what each answered."""
    from bastion.errors import UserError
    from bastion.ops.alerts.model import AlertKind, make_alert

    run = start_run(profile, secret, json=json_out)
    p = run.resolved.profile
    if not p.alerts.targets:
        raise UserError(
            f"profile {p.name} has no alerts.targets; add one (see docs/alerts.md), e.g."
            " targets: [{name: phone, url_env: BASTION_ALERT_URL}]"
        )
    notifier = _notifier(run, start=False)
    now = notifier.clock.now()
    alert = make_alert(
        AlertKind.TEST,
        message,
        profile=p.name,
        time=now,
        key=f"test@{now:%Y%m%dT%H%M%S%f}",
    )
    try:
        notifier.send(alert)
        notifier.pump()
        status = notifier.outbox.delivery_status(alert.key)
        failed = 0
        for name in sorted(status):
            state, error = status[name]
            if state != "sent":
                failed += 1
                # A test is not retried later: it tests the target now.
                notifier.outbox.failed(alert.key, name, error, None)
            run.echo(f"  {name}: {'delivered' if state == 'sent' else f'FAILED: {error}'}")
    finally:
        notifier.close(1.0)
    run.echo(f"alert test: {len(status) - failed} of {len(status)} targets delivered")
    run.document = {
        "kind": "alert-test",
        "profile": p.name,
        "targets": {name: state for name, (state, _) in sorted(status.items())},
        "delivered": len(status) - failed,
    }
    run.finish(1 if failed else 0)


@alert_app.command("all-clear")
def all_clear_command(
    profile: ProfileArg = None,
    day: Annotated[
        str | None, typer.Option("--day", help="The day, YYYY-MM-DD (default: today).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print it; send nothing.")] = False,
    secret: SecretArg = None,
    json_out: JsonOpt = False,
) -> None:
    """Build the daily all-clear from the journal; print it and send it."""
    import zoneinfo

    from bastion.errors import UserError
    from bastion.ops.alerts.allclear import daily_all_clear
    from bastion.ops.alerts.model import render
    from bastion.store.sqlite import SqliteStore, StoreMode

    run = start_run(profile, secret, json=json_out)
    p = run.resolved.profile
    if day is None:
        the_day = dt.datetime.now(zoneinfo.ZoneInfo(p.alerts.timezone)).date()
    else:
        try:
            the_day = dt.date.fromisoformat(day)
        except ValueError:
            raise UserError(f"--day {day!r}: expected a date as YYYY-MM-DD") from None
    if not p.store.path.exists():
        raise UserError(f"store.path {p.store.path}: no journal there yet; nothing to report")
    with SqliteStore(p.store.path, mode=StoreMode.LIVE) as store:
        alert = daily_all_clear(store, p, the_day)
    title, body = render(alert)
    run.echo(title)
    run.echo(body)
    run.document = {
        "kind": "all-clear",
        "profile": p.name,
        "day": the_day.isoformat(),
        "severity": str(alert.severity),
        "title": title,
        "body": body,
        "sent": not dry_run,
    }
    if dry_run:
        run.finish()
        return
    notifier = _notifier(run)
    try:
        notifier.send(alert)
        notifier.flush(FLUSH_SECONDS)
        status = notifier.outbox.delivery_status(alert.key)
    finally:
        notifier.close(1.0)
    for name, (state, error) in sorted(status.items()):
        run.echo(f"  {name}: {state}" + (f" ({error})" if error else ""))
    run.document["targets"] = {name: state for name, (state, _) in sorted(status.items())}
    run.finish()
