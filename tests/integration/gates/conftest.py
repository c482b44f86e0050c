"""A working folder with the examples and the bundled sample data, generated once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture
def day(in_tmp: Path, sample_data: Path) -> Path:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    shutil.copytree(sample_data, in_tmp / "bastion-data")
    return in_tmp
