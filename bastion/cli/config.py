"""``bastion config``: validate, show and describe profiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bastion.config import load_profile, profile_schema, redacted_view

__all__ = ["config_app"]

ProfileArg = Annotated[Path, typer.Argument(help="Profile YAML file.")]

config_app = typer.Typer(help="Validate, show and describe profiles.", no_args_is_help=True)
_out = Console()


@config_app.command("validate")
def validate(profile: ProfileArg) -> None:
    """Check a profile; exit 0 when valid, 2 with one line naming the problem when not."""
    loaded = load_profile(profile)
    official = ", official" if loaded.official else ""
    _out.print(
        f"profile {profile}: valid ({loaded.name}, environment {loaded.environment}{official},"
        f" venue {loaded.venue.kind}, {len(loaded.instruments)} instruments)"
    )


@config_app.command("show")
def show(profile: ProfileArg) -> None:
    """Print the effective profile (defaults filled in), account masked, secrets never shown."""
    _out.print_json(json.dumps(redacted_view(load_profile(profile))))


@config_app.command("schema")
def schema() -> None:
    """Print the profile's JSON schema."""
    typer.echo(json.dumps(profile_schema(), indent=2))
