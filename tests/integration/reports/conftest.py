"""A finished run of the bundled sample backtest (64 CME trading days), shared by a module's tests,
and a fresh working folder with the examples and the sample data."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from bastion.marketdata.sample import write_sample
from tests.conftest import REPO, CliResult, run_cli


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample") / "bastion-data"
    write_sample(folder)
    return folder


def make_workdir(folder: Path, sample_data: Path) -> Path:
    shutil.copytree(REPO / "examples", folder / "examples")
    shutil.copytree(sample_data, folder / "bastion-data")
    return folder


@dataclass(frozen=True)
class Run:
    folder: Path
    result: CliResult
    page: Path

    @property
    def html(self) -> str:
        return self.page.read_text(encoding="utf-8")


def run_in(folder: Path, args: list[str]) -> CliResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        return run_cli(args)


@pytest.fixture(scope="module")
def backtest(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Run:
    """``bastion backtest --profile examples/sim.yaml`` over the whole sample."""
    folder = make_workdir(tmp_path_factory.mktemp("backtest"), sample_data)
    result = run_in(folder, ["backtest", "--profile", "examples/sim.yaml"])
    assert result.code == 0, result.err
    return Run(folder, result, folder / "runs" / "sim" / "reports" / "backtest.html")


@pytest.fixture
def workdir(tmp_path: Path, sample_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return make_workdir(tmp_path, sample_data)


def terminal_value(out: str, label: str) -> str:
    """The first figure printed after ``label`` on its line in the terminal output."""
    for raw in out.splitlines():
        line = raw.strip()
        if line.startswith(label):
            match = re.search(r"[+-]?[\d,]+\.\d+%?", line[line.index(label) + len(label) :])
            if match:
                return match.group(0)
    raise AssertionError(f"{label!r} not in the terminal output")
