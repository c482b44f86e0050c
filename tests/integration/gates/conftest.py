"""A working folder with the examples and the bundled sample data, generated once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bastion.marketdata.sample import write_sample
from tests.conftest import REPO


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample") / "bastion-data"
    write_sample(folder)
    return folder


@pytest.fixture
def day(in_tmp: Path, sample_data: Path) -> Path:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    shutil.copytree(sample_data, in_tmp / "bastion-data")
    return in_tmp
