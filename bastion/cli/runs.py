"""What every operator command shares: resolving the profile, refusing secrets on the
command line, printing through the redactor, and the run record (CLI plumbing)."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType

from bastion.errors import UserError
from bastion.gates.profiles import ResolvedProfile, resolve_profile
from bastion.ops.records import (
    RunRecord,
    command_line,
    record_language,
    redactor_for,
    write_record,
)
from bastion.secrets import Redactor

__all__ = [
    "ProfileArg",
    "RunContext",
    "SecretArg",
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


@dataclass(slots=True)
class RunContext:
    resolved: ResolvedProfile
    redactor: Redactor
    started: dt.datetime

    @property
    def profile_name(self) -> str:
        return self.resolved.profile.name

    def echo(self, text: str = "") -> None:
        typer.echo(self.redactor(text))

    def show(self, renderable: RenderableType) -> None:
        buffer = io.StringIO()
        Console(file=buffer, width=110, force_terminal=False, color_system=None).print(renderable)
        typer.echo(self.redactor(buffer.getvalue()).rstrip("\n"))

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
        profile = self.resolved.profile
        paths = write_record(
            record,
            Path(profile.records_dir),
            self.redactor,
            account=profile.account,
            lang=record_language(profile.lang),
        )
        self.echo(f"run record: {paths[1]}")
        return paths

    def banner(self, what: str) -> None:
        p = self.resolved.profile
        label = (
            "COMPARISON run (not the official profile; output is for comparison only)"
            if self.resolved.is_comparison
            else "official profile"
        )
        self.echo(f"bastion {what}: profile {p.name} ({p.environment}), {label}")


def start_run(profile: str | None, secret: str | None) -> RunContext:
    refuse_secret(secret)
    resolved = resolve_profile(profile)
    return RunContext(resolved, redactor_for(resolved.profile), dt.datetime.now(dt.UTC))
