"""Sim profiles on the bundled sample data for integration tests: ``examples/sim.yaml``
with its store and records in a test folder and the changes a test asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bastion.config import Profile, parse_profile
from tests.conftest import REPO

__all__ = ["sim_profile"]


def sim_profile(folder: Path, data: Path, **changes: Any) -> Profile:
    """The example sim profile over ``data``, journal and records under ``folder``;
    ``risk`` changes are merged into the example's risk section."""
    raw: dict[str, Any] = yaml.safe_load((REPO / "examples" / "sim.yaml").read_text())
    raw["store"] = {"path": str(folder / "sim" / "journal.db")}
    raw["records_dir"] = str(folder / "sim" / "records")
    raw["data"] = {"dir": str(data), "sample": False}
    raw["pool"] = str(REPO / "examples" / "pools")
    risk = changes.pop("risk", None)
    if risk:
        raw["risk"] = {**raw["risk"], **risk}
    raw.update(changes)
    return parse_profile(raw, "test")
