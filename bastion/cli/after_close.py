"""``bastion after-close``: the routine after every close, as one command (R8, R9.1).

In order, each step as its own command would run it (each leaves its run record):

1. **data update**: the bar files waiting in the profile's drop folder
   (``data.drop_dir``) are imported (``bastion data update``; no network). Without a
   drop folder the step says so and the data stays as it is (the shadow run's checks
   then decide whether it is complete);
2. **shadow**: the latest completed trading day (or ``--date``), data checks, targets,
   the signal plan;
3. **probe**: the broker's read-only snapshot;
4. **dry-run gate**: on exactly the plan the shadow run just wrote.

It stops at the first step that does not say go, prints which step and why, and exits
with that step's code from the table (``bastion.cli.exits``): 3 for a NO (stale input,
a blocked gate), 1 when the environment failed (an unreachable venue, a disk), 2 for
wrong input (a bad data file). When every step passes it writes the daily report and
exits 0: tonight's orders may go, and ``bastion session`` executes the approved plan.

Scheduled with cron or systemd: ``examples/cron/bastion.cron`` and
``examples/systemd/bastion-after-close@.{service,timer}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.gates import TimeoutOpt, journal_answer, run_gate
from bastion.cli.probe import run_probe
from bastion.cli.runs import JsonOpt, ProfileArg, RunContext, SecretArg, start_run
from bastion.cli.shadow import parse_date, run_shadow_step
from bastion.errors import BastionError, EnvironmentFault, UserError

__all__ = ["after_close_command"]

STEPS = ("data update", "shadow", "probe", "dry-run gate")


def _code_of(exc: BastionError) -> int:
    if isinstance(exc, EnvironmentFault):
        return int(ExitCode.ENVIRONMENT)
    if isinstance(exc, UserError):
        return int(ExitCode.USER_INPUT)
    raise exc  # anything else is a bug: shown in full


def _data_update(run: RunContext) -> int:
    from bastion.marketdata.fx import rates_path
    from bastion.marketdata.specs import SpecRegistry
    from bastion.marketdata.update import update_from_drop

    p = run.resolved.profile
    if p.data.drop_dir is None:
        run.echo("data update: no drop folder (data.drop_dir) in the profile: skipped")
        run.document = {"skipped": "no data.drop_dir"}
        return 0
    result = update_from_drop(
        p.data.drop_dir,
        Path(p.data.dir),
        SpecRegistry.bundled(),
        now=dt.datetime.now(dt.UTC),
        rates=(rates_path(p), p.currency),
    )
    for line in result.lines():
        run.echo(line)
    run.document = result.as_json()
    return 0


def after_close_command(
    profile: ProfileArg = None,
    date: Annotated[
        str | None,
        typer.Option("--date", help="Target trading day YYYY-MM-DD (default: latest completed)."),
    ] = None,
    timeout: TimeoutOpt = 5.0,
    json_out: JsonOpt = False,
    secret: SecretArg = None,
) -> None:
    """After the close: data update, shadow, probe and dry-run gate, stopping at the
    first NO.

    Exit status 0 when tonight's orders may go; otherwise the code of the step that
    stopped: 3 a verdict of NO, 1 the environment failed, 2 wrong input.
    """
    from bastion.reports.daily import daily_facts, write_daily_report

    asked = parse_date(date)
    run = start_run(profile, secret, json=json_out)
    run.banner("after-close")
    plan: list[Path] = []

    def shadow() -> int:
        code = run_shadow_step(run, asked, None)
        plan.append(Path(run.document["details"]["plan"]))
        return code

    actions: dict[str, Callable[[], int]] = {
        "data update": lambda: _data_update(run),
        "shadow": shadow,
        "probe": lambda: run_probe(run, timeout),
        "dry-run gate": lambda: run_gate(run, plan[-1], probe=False, timeout=timeout),
    }
    steps: list[dict[str, Any]] = []
    code = 0
    why = ""
    for number, name in enumerate(STEPS, start=1):
        run.echo(f"-- step {number} of {len(STEPS)}: {name}")
        run.document = {}
        try:
            code = actions[name]()
            reason = ""
        except BastionError as exc:
            code = _code_of(exc)
            reason = str(exc).replace("\n", " ")
            run.echo(f"error: {reason}")
        steps.append({"step": name, "exit_code": code, "reason": reason, **run.document})
        if code:
            why = reason or _reason(run.document)
            run.echo(f"after-close: stopped at step {number} ({name}), exit status {code}: {why}")
            break
    now = dt.datetime.now(dt.UTC)
    if code == 0:
        facts = daily_facts(run.resolved, now)
        for path in write_daily_report(run.resolved, run.redactor, now=now):
            run.echo(f"daily report: {path}")
        run.echo(f"MAY TONIGHT'S ORDERS GO? {facts.headline}")
        next_step = facts.next_step
    else:
        next_step = _next(steps[-1])
    run.echo(f"next step: {next_step}")
    last = steps[-1]
    journal_answer(
        run,
        "after-close",
        passed=code == 0,
        result="may go"
        if code == 0
        else f"stopped at step {len(steps)} ({last['step']}), exit status {code}",
        reason=str(last.get("gate_result") or "") if code == 0 else f"{why}; next: {next_step}",
    )
    record = run.record(
        "after-close",
        target_date=str(asked) if asked else None,
        gate_result=steps[-1].get("gate_result") if code == 0 else f"stopped: {steps[-1]['step']}",
        next_step=next_step,
        output_files=[str(p) for p in plan],
        details={"steps": steps},
    )
    run.write(record)
    run.finish(code)


def _reason(document: dict[str, Any]) -> str:
    """Why a step said NO, from its run record."""
    if document.get("stale_inputs"):
        return "stale input: " + "; ".join(document["stale_inputs"])
    if document.get("gate_result"):
        return f"gate: {document['gate_result']}"
    state = document.get("broker_state") or {}
    if isinstance(state, dict) and state.get("position_state") == "missing":
        return f"broker state missing ({state.get('positions_reason') or 'no answer'})"
    return str(document.get("next_step") or "see the step's output above")


def _next(step: dict[str, Any]) -> str:
    return str(step.get("next_step") or "fix the problem above, then run 'bastion after-close'")
