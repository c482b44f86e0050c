"""Shared fixtures: run the ``bastion`` command in-process as a user would."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from bastion.cli import main

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def run_cli(args: list[str], env: dict[str, str] | None = None) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    if env:
        os.environ.update(env)
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample bars, generated once per test run (copy them before writing)."""
    from bastion.marketdata.sample import write_sample

    folder = tmp_path_factory.mktemp("sample") / "bastion-data"
    write_sample(folder)
    return folder


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty folder, as a new user would, so nothing leaks into the repo."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def bundled_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample data (SP500 and rb, February to April 2024), made once."""
    from bastion.marketdata.sample import write_sample

    folder = tmp_path_factory.mktemp("bundled-sample") / "bastion-data"
    write_sample(folder)
    return folder
