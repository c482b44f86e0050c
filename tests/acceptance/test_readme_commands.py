"""Invariant: every ``bastion`` command the README shows runs as printed, in the order it
shows them, from a folder holding the repository's examples (issue 19, item 6): none is
refused as wrong input (exit 2), none shows a traceback, and each exits with a code of
the table (0, or 3 for a verdict of NO, or 1 where the environment refuses, e.g. the
kill switch cannot confirm flat).

The official profile is the paper profile ``bastion init`` (the first command) makes;
the paper venue runs as ``bastion.testing.paper_process.PaperVenueProcess`` on a port the
operating system picks, handed to every command through ``BASTION_PAPER_PORT``.
``bastion venue serve`` itself runs until stopped: the test starts it as printed (on
port 0 through the same variable), waits for its ``listening on`` line, and stops it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.testing.paper_process import PaperVenueProcess
from tests.conftest import REPO

pytestmark = pytest.mark.slow
SERVE = "bastion venue serve"


def readme_commands() -> list[str]:
    """The README's ``bastion ...`` code spans, in order (each once: prose may name a
    command the table already shows)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return list(dict.fromkeys(re.findall(r"`(bastion [^`]+)`", text)))


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(tmp_path / "venue" / "venue.db", max_seconds=900)
    try:
        yield process
    finally:
        process.stop()


def _serve(line: str, cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        shlex.split(line),
        cwd=cwd,
        env={**env, "BASTION_PAPER_PORT": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("listening on 127.0.0.1:"), first
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_readme_commands_run_as_printed(
    tmp_path: Path, sample_data: Path, venue: PaperVenueProcess
) -> None:
    commands = readme_commands()
    assert commands[0] == "bastion init"
    assert any(c.startswith(SERVE) for c in commands)
    folder = tmp_path / "readme"
    folder.mkdir()
    shutil.copytree(REPO / "examples", folder / "examples")
    shutil.copytree(sample_data, folder / "bastion-data")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "BASTION_PAPER_PORT": str(venue.port),
        "BASTION_PAPER_PASSWORD": "readme-pass-1b7e",
    }
    env.pop("BASTION_PROFILES_DIR", None)
    for line in commands:
        if line.startswith(SERVE):
            _serve(line, folder, env)
            continue
        done = subprocess.run(
            shlex.split(line),
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert "Traceback" not in done.stderr, f"{line}:\n{done.stderr}"
        assert done.returncode in {0, 1, 3}, f"{line}: exit {done.returncode}\n{done.stderr}"
        if done.returncode == 1:
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
