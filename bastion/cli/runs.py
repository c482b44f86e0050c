"""What every operator command shares (CLI plumbing): resolving the profile, refusing
secrets on the command line, printing through the redactor, the run record, and the
``--json`` form of the output.

With ``--json`` a command prints one JSON document and nothing else on stdout: its run
record (as written to the record file: secrets and the account masked) with the exit
code and the lines it would have printed (``lines``). A command that sends orders never
runs a live profile unless it was named (``--profile``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bastion.errors import UserError
from bastion.gates.profiles import ResolvedProfile, resolve_profile
from bastion.ops.records import (
    RunRecord,
    command_line,
    record_language,
    redactor_for,
    write_record,
)
from bastion.secrets import Redactor, mask_account

if TYPE_CHECKING:
    from bastion.reports.tables import TableData

__all__ = [
    "JsonOpt",
    "ProfileArg",
    "RunContext",
    "SecretArg",
    "emit_json",
    "refuse_live_default",
    "refuse_secret",
    "start_run",
]

ProfileArg = Annotated[
    str | None,
    typer.Option(
        "--profile",
        "-p",
        help="Profile file or name; default: the official profile. Any other is a comparison.",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document instead of the text.")
]
SecretArg = Annotated[
    str | None,
    typer.Option(
        "--password",
        "--passwd",
        "--secret",
        "--token",
        "--auth-code",
        "--api-key",
        hidden=True,
        help="Refused: secrets come only from environment variables.",
    ),
]


def refuse_secret(given: str | None) -> None:
    """A secret on the command line stays in shell history and process lists: refuse."""
    if given is not None:
        raise UserError(
            "secrets are never taken on the command line (they stay in shell history and"
            " process lists); export the environment variable the profile names instead"
            " (venue.password_env / venue.auth_code_env, e.g. BASTION_PAPER_PASSWORD)"
        )


def refuse_live_default(resolved: ResolvedProfile, what: str) -> None:
    """A command that sends orders runs a live profile only when it was named."""
    from bastion.config import Environment

    if resolved.profile.environment is Environment.LIVE and not resolved.named:
        raise UserError(
            f"{what} sends orders and the official profile {resolved.profile.name}"
            f" ({resolved.path}) is live: commands that send orders never default to a live"
            f" profile; name it: --profile {resolved.path}"
        )


def emit_json(data: dict[str, Any], redactor: Redactor | None = None) -> None:
    """Print ``data`` as one JSON document on stdout (through the redactor)."""
    text = json.dumps(data, indent=2, default=str)
    typer.echo(redactor(text) if redactor is not None else text)


@dataclass(slots=True)
class RunContext:
    resolved: ResolvedProfile
    redactor: Redactor
    started: dt.datetime
    json: bool = False
    lines: list[str] = field(default_factory=list)
    """What the command printed (kept in ``--json`` mode, where nothing is printed)."""
    document: dict[str, Any] = field(default_factory=dict)
    """The ``--json`` document: the run record once written, else what the command set."""

    @property
    def profile_name(self) -> str:
        return self.resolved.profile.name

    def echo(self, text: str = "") -> None:
        clean = self.redactor(text)
        if self.json:
            self.lines.extend(clean.splitlines() or [""])
        else:
            typer.echo(clean)

    def tables(self, tables: Iterable[TableData]) -> None:
        """Print ``tables`` the way every command does (``bastion.reports.tables``): at
        their natural width, so no figure is cut or wrapped, whatever the output is."""
        self.echo(self.tables_text(tables).rstrip("\n"))

    def tables_text(self, tables: Iterable[TableData]) -> str:
        """The tables as this command prints them: fitted to a terminal; at their natural
        width on a pipe or a file and in the ``--json`` document's lines."""
        from bastion.reports.tables import stdout_text, text_of

        return text_of(tables) if self.json else stdout_text(tables)

    def record(self, kind: str, **fields: Any) -> RunRecord:
        profile = self.resolved.profile
        return RunRecord(
            kind=kind,
            profile=profile.name,
            role=self.resolved.role.value,
            environment=profile.environment.value,
            command=command_line(),
            **fields,
        )

    def write(self, record: RunRecord) -> tuple[Path, Path]:
        """Write the run record (JSON and Markdown); it is also the ``--json`` document."""
        profile = self.resolved.profile
        paths = write_record(
            record,
            Path(profile.records_dir),
            self.redactor,
            account=profile.account,
            lang=record_language(profile.lang),
        )
        self.echo(f"run record: {paths[1]}")
        data = record.as_dict()
        data["account"] = mask_account(profile.account)
        self.document = {**data, "run_record": str(paths[0])}
        return paths

    def finish(self, exit_code: int = 0) -> None:
        """End the command: with ``--json`` print the document (its exit code and the
        text lines with it), then exit with ``exit_code`` (the table in bastion.cli.exits)."""
        if self.json:
            emit_json({**self.document, "exit_code": exit_code, "lines": self.lines}, self.redactor)
        if exit_code:
            raise typer.Exit(exit_code)

    def banner(self, what: str) -> None:
        p = self.resolved.profile
        label = (
            "COMPARISON run (not the official profile; output is for comparison only)"
            if self.resolved.is_comparison
            else "official profile"
        )
        self.echo(f"bastion {what}: profile {p.name} ({p.environment}), {label}")


def start_run(
    profile: str | None,
    secret: str | None,
    *,
    json: bool = False,
    sends_orders: str | None = None,
) -> RunContext:
    """Resolve the profile (the official one by default) and set up the run's output.

    ``sends_orders`` names the command when it may send orders: a live profile must
    then be named, never defaulted to.
    """
    from bastion.marketdata.calendars import use_operator_calendars

    refuse_secret(secret)
    resolved = resolve_profile(profile)
    use_operator_calendars(resolved.profile.data.dir)  # the years the operator imported
    if sends_orders is not None:
        refuse_live_default(resolved, sends_orders)
    return RunContext(resolved, redactor_for(resolved.profile), dt.datetime.now(dt.UTC), json=json)
