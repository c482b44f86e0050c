"""The gates' saved state: small JSON files beside the run records (the last gate
decision, the last probe), written atomically and read back by reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bastion.gates.profiles import ResolvedProfile
from bastion.secrets import Redactor

__all__ = ["load_state", "save_state", "state_path"]


def state_path(resolved: ResolvedProfile, name: str) -> Path:
    return Path(resolved.profile.records_dir) / "state" / name


def save_state(
    resolved: ResolvedProfile, name: str, data: dict[str, Any], redactor: Redactor
) -> Path:
    """Write a state file atomically (one line naming the path if the disk refuses)."""
    from bastion.files import write_atomically

    path = state_path(resolved, name)
    return write_atomically(path, redactor(json.dumps(data, indent=2, default=str)), "state file")


def load_state(resolved: ResolvedProfile, name: str) -> dict[str, Any] | None:
    try:
        data = json.loads(state_path(resolved, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
