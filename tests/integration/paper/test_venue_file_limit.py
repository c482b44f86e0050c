"""The venue process survives more idle connections than it may open files.

Invariant: with ``ulimit -n 1024`` and 1,100 idle sockets (the issue's case), ``bastion
venue serve`` keeps its connection cap below the open-file limit, closes the extra
connections at once, never dies of ``OSError: Too many open files``, serves a client
once the idle ones are gone, and stops cleanly with no traceback.
"""

from __future__ import annotations

import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bastion.testing.fix_wire import RawFixClient
from bastion.venues.fix.wire import text
from bastion.venues.paper.server import FD_RESERVE
from tests.conftest import REPO

_SERVE_WITH_LIMIT = (
    "import resource, sys\n"
    "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))\n"
    "from bastion.cli import main\n"
    "main()\n"
)


def _count_closed(socks: list[socket.socket], want: int, seconds: float = 20.0) -> int:
    """Wait (bounded) until ``want`` sockets were closed by the venue; how many were."""
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)  # noqa: FBT003 - the socket API
        selector.register(sock, selectors.EVENT_READ)
    closed = 0
    deadline = time.monotonic() + seconds
    while closed < want and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            selector.unregister(key.fileobj)
            closed += 1
    selector.close()
    return closed


def _logon_eventually(port: int, seconds: float = 20.0) -> bool:
    """Log on, retrying while the venue is still closing the idle connections."""
    deadline = time.monotonic() + seconds
    next_out = 1
    while time.monotonic() < deadline:
        client = RawFixClient(port, "BASTION.ENGINE", next_out=next_out)
        try:
            answer = client.logon()
            if answer is not None and text(answer, 35) == "A":
                client.send("1", [(112, "alive")])
                got = client.read_until(lambda m: text(m, 112) == "alive")
                return bool(got) and text(got[-1], 112) == "alive"
            next_out = client.next_out
        finally:
            client.close()
        time.sleep(0.1)
    return False


@pytest.mark.parametrize(
    ("extra", "cap"), [((), 64), (("--max-connections", "5000"), 1024 - FD_RESERVE)]
)
def test_venue_idle_sockets_beyond_file_limit_are_refused_and_venue_lives(
    tmp_path: Path, extra: tuple[str, ...], cap: int
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SERVE_WITH_LIMIT,
            "venue",
            "serve",
            "--port",
            "0",
            "--state",
            str(tmp_path / "venue.db"),
            "--max-seconds",
            "120",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on"), line
        port = int(line.split(":")[1].split()[0])
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(1100)]
        try:
            assert _count_closed(idle, 1100 - cap) >= 1100 - cap
        finally:
            for sock in idle:
                sock.close()
        assert _logon_eventually(port)
        assert proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err[-2000:]
    assert "Too many open files" not in err
    assert proc.returncode == 0
    assert "stopped; state digest" in out
    assert f"at most {cap} connections" in line  # the cap stays below 1024 open files
