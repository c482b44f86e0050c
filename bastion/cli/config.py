"""``bastion config``: validate, show and describe profiles.

``validate`` checks the profile's keys and values (exit 2 with one line naming the
problem) and then that its paths are usable (exit 1 with one line naming the path and
the problem): the journal's folder and file, the data folder, the records folder, the
pool and the drop folder. Nothing is created or changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from bastion.cli.exits import ExitCode
from bastion.cli.runs import JsonOpt, ProfileArg, emit_json
from bastion.config import Profile
from bastion.errors import EnvironmentFault, UserError
from bastion.gates.profiles import ResolvedProfile

__all__ = ["config_app", "profile_path_problems"]

PositionalProfile = Annotated[
    Path | None,
    typer.Argument(
        metavar="PROFILE", help="Profile YAML file (or use --profile; default: the official one)."
    ),
]

config_app = typer.Typer(help="Validate, show and describe profiles.", no_args_is_help=True)


def _resolve(positional: Path | None, option: str | None) -> ResolvedProfile:
    from bastion.gates.profiles import resolve_profile

    if positional is not None and option is not None:
        raise UserError("name the profile once: PROFILE or --profile, not both")
    return resolve_profile(str(positional) if positional is not None else option)


def profile_path_problems(profile: Profile) -> list[tuple[str, Path, str]]:
    """Every path of ``profile`` that cannot be used, as (key, path, problem)."""
    from bastion.files import path_problem

    checks: list[tuple[str, Path, str]] = []
    wanted: list[tuple[str, Path, Literal["file", "folder"]]] = [
        ("store.path", profile.store.path, "file"),
        ("data.dir", profile.data.dir, "folder"),
        ("records_dir", profile.records_dir, "folder"),
    ]
    for key, path, kind in wanted:
        problem = path_problem(path, kind)
        if problem is not None:
            checks.append((key, path, problem))
    if profile.pool is not None and not profile.pool.exists():
        checks.append(("pool", profile.pool, "does not exist"))
    drop = profile.data.drop_dir
    if drop is not None:
        if not drop.exists():
            checks.append(("data.drop_dir", drop, "does not exist"))
        elif not drop.is_dir():
            checks.append(("data.drop_dir", drop, "is a file, expected a folder"))
        elif (problem := path_problem(drop, "folder")) is not None:
            checks.append(("data.drop_dir", drop, problem))
    return checks


@config_app.command("validate")
def validate(
    positional: PositionalProfile = None, profile: ProfileArg = None, json_out: JsonOpt = False
) -> None:
    """Check a profile: its keys and values, then its paths.

    Exit status 0 when valid, 2 with one line naming a wrong value, 1 with one line
    naming a path that cannot be used (missing, not writable, a file where a folder
    belongs).
    """
    resolved = _resolve(positional, profile)
    path, loaded = resolved.path, resolved.profile
    problems = profile_path_problems(loaded)
    if problems:
        key, where, problem = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise EnvironmentFault(f"profile {path}: {key} {where}: {problem}{more}")
    official = ", official" if loaded.official else ""
    if json_out:
        emit_json(
            {
                "profile": str(path),
                "name": loaded.name,
                "valid": True,
                "environment": loaded.environment.value,
                "official": loaded.official,
                "venue": loaded.venue.kind,
                "instruments": list(loaded.instruments),
                "exit_code": int(ExitCode.SUCCESS),
            }
        )
        return
    typer.echo(
        f"profile {path}: valid ({loaded.name}, environment {loaded.environment}{official},"
        f" venue {loaded.venue.kind}, {len(loaded.instruments)} instruments; paths usable)"
    )


@config_app.command("show")
def show(positional: PositionalProfile = None, profile: ProfileArg = None) -> None:
    """Print the effective profile as JSON (defaults filled in), account masked, no secrets."""
    from bastion.config import redacted_view

    typer.echo(json.dumps(redacted_view(_resolve(positional, profile).profile), indent=2))


@config_app.command("schema")
def schema() -> None:
    """Print the profile's JSON schema."""
    from bastion.config import profile_schema

    typer.echo(json.dumps(profile_schema(), indent=2))
