"""The official profile, resolved at run time (R1.1).

One profile in the profiles folder carries ``official: true``; a command given no
``--profile`` runs it. Any other profile runs only when named explicitly (by file or by
name), and everything it writes is labelled ``comparison``. The folder is
``$BASTION_PROFILES_DIR``, else ``./profiles``, else ``./examples``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bastion.config import Profile, load_profile
from bastion.errors import ConfigError, UserError

__all__ = ["ProfileRole", "ResolvedProfile", "official_profile", "profiles_dir", "resolve_profile"]


class ProfileRole(StrEnum):
    OFFICIAL = "official"
    COMPARISON = "comparison"


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    profile: Profile
    path: Path
    role: ProfileRole
    named: bool
    """Whether the operator named this profile on the command line."""
    official: Profile | None
    """The official profile of the folder (itself when official), if one exists."""

    @property
    def is_comparison(self) -> bool:
        return self.role is ProfileRole.COMPARISON

    @property
    def label(self) -> str:
        return "COMPARISON" if self.is_comparison else "official"


def profiles_dir() -> Path:
    env = os.environ.get("BASTION_PROFILES_DIR")
    if env:
        return Path(env)
    for candidate in (Path("profiles"), Path("examples")):
        if candidate.is_dir():
            return candidate
    return Path("profiles")


def _all_profiles(folder: Path) -> list[tuple[Path, Profile]]:
    found: list[tuple[Path, Profile]] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        try:
            found.append((path, load_profile(path)))
        except ConfigError:
            continue  # not a profile (a pool, a venue config) or broken: not official
    return found


def _official(folder: Path) -> tuple[Path, Profile] | None:
    marked = [(p, prof) for p, prof in _all_profiles(folder) if prof.official]
    if len(marked) > 1:
        names = ", ".join(f"{prof.name} ({p})" for p, prof in marked)
        raise UserError(
            f"more than one official profile in {folder}: {names}; mark exactly one official: true"
        )
    return marked[0] if marked else None


def official_profile(folder: Path | None = None) -> Profile | None:
    """The folder's official profile, or ``None`` when none is marked official."""
    found = _official(folder if folder is not None else profiles_dir())
    return found[1] if found is not None else None


def resolve_profile(given: str | Path | None, folder: Path | None = None) -> ResolvedProfile:
    """The profile to run: ``given`` (a file or a profile name), else the official one."""
    root = folder if folder is not None else profiles_dir()
    if given is None:
        found = _official(root)
        if found is None:
            raise UserError(
                f"no official profile in {root}: mark one profile official: true, or name"
                " one with --profile PATH (its output is then labelled comparison)"
            )
        path, profile = found
        return ResolvedProfile(profile, path, ProfileRole.OFFICIAL, named=False, official=profile)
    path = Path(given)
    if not path.exists() and path.suffix not in {".yaml", ".yml"}:
        by_name = [(p, prof) for p, prof in _all_profiles(root) if prof.name == str(given)]
        if not by_name:
            raise UserError(
                f"--profile {given!r}: no such file, and no profile of that name in {root}"
            )
        path = by_name[0][0]
    profile = load_profile(path)
    official_found = None if profile.official else _official(path.parent)
    official = profile if profile.official else (official_found[1] if official_found else None)
    role = ProfileRole.OFFICIAL if profile.official else ProfileRole.COMPARISON
    return ResolvedProfile(profile, path, role, named=True, official=official)
