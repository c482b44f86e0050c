"""Invariant: a disconnect this client asks for (a command ending normally) is logged at
debug level, so nothing reaches stderr after a normal exit (issue 19: "FIX venue paper:
disconnected: client disconnect" after every command); a disconnect the venue causes is
still a warning, and a probe against the paper venue process writes nothing to stderr."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bastion.testing.paper_process import PaperVenueProcess
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import REPO

LOGGER = "bastion.fix.venue"


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[PaperVenueProcess]:
    process = PaperVenueProcess(tmp_path / "venue.db")
    yield process
    process.stop()


def _fix(port: int) -> FixVenue:
    return FixVenue(
        FixConfig(port=port, sender_comp_id="BASTION", heartbeat_seconds=2, name="paper"),
        dict(DEFAULT_CONTRACTS),
    )


def _disconnects(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and "disconnected" in r.getMessage()]


def test_client_disconnect_logs_debug_not_warning(
    venue: PaperVenueProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    fix = _fix(venue.port)
    assert fix.connect()
    fix.disconnect()
    records = _disconnects(caplog)
    assert [r.levelno for r in records] == [logging.DEBUG]


class _Seen(logging.Handler):
    """Sets an event when the disconnect is logged: the signal to wait on."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.event = threading.Event()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "disconnected" in record.getMessage():
            self.records.append(record)
            self.event.set()


def test_venue_going_away_still_warns(venue: PaperVenueProcess) -> None:
    seen = _Seen()
    logger = logging.getLogger(LOGGER)
    logger.addHandler(seen)
    fix = _fix(venue.port)
    try:
        assert fix.connect()
        venue.kill()  # the venue goes away: this client did not ask for it
        assert seen.event.wait(60), "the adapter never noticed the venue going away"
        assert [r.levelno for r in seen.records] == [logging.WARNING]
    finally:
        fix.disconnect()
        logger.removeHandler(seen)


def test_probe_against_paper_venue_stderr_empty(venue: PaperVenueProcess, tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["venue"]["port"] = venue.port
    raw["official"] = True
    raw["pool"] = str(REPO / "examples" / "pools")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "paper.yaml").write_text(yaml.safe_dump(raw))
    done = subprocess.run(
        [sys.executable, "-c", "from bastion.cli import main; main()", "probe"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "BASTION_PROFILES_DIR"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "position snapshot: confirmed_flat" in done.stdout
    assert done.stderr == ""
