"""The engine's heartbeat and its single-instance lock, beside the journal (R9.1).

Two small files next to the store's journal (``runs/paper/journal.db``):

- ``journal-heartbeat.json``: ``{time, iteration, pid, host, profile, started, state}``,
  replaced atomically (write a temporary file, then rename) by ``HeartbeatWriter.beat``
  on each engine loop iteration, at most once per ``min_interval`` so a fast loop pays
  one clock read per iteration and a file write a second. ``time`` is wall-clock UTC
  whatever the engine's own clock is, because the watchdog compares it with the wall
  clock. ``stop()`` writes ``state: stopped``: the engine meant to stop, nothing to alert.
- ``journal-engine.lock``: the store's one-engine lock (``bastion.engine.lock``), held
  with ``flock`` for the engine's whole life. ``probe_lock`` tells whether an engine
  holds it: the kernel drops an ``flock`` the instant its process dies (SIGKILL
  included), so a free lock whose heartbeat still says ``running`` is an engine that
  died.

A torn or unreadable heartbeat reads as ``None`` with a reason (never as "fine").
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from bastion.clock import Clock, WallClock

__all__ = [
    "Heartbeat",
    "HeartbeatWriter",
    "heartbeat_path",
    "read_heartbeat",
]

RUNNING = "running"
STOPPED = "stopped"


def heartbeat_path(journal: Path) -> Path:
    return journal.with_name(f"{journal.stem}-heartbeat.json")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    time: dt.datetime
    iteration: int
    pid: int
    host: str
    profile: str
    started: dt.datetime
    state: str = RUNNING

    @property
    def incident_key(self) -> str:
        """Which engine run this heartbeat belongs to (pid and start)."""
        return f"{self.host}:{self.pid}@{self.started.isoformat()}"

    def as_dict(self) -> dict[str, object]:
        return {
            "time": self.time.isoformat(),
            "iteration": self.iteration,
            "pid": self.pid,
            "host": self.host,
            "profile": self.profile,
            "started": self.started.isoformat(),
            "state": self.state,
        }


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_heartbeat(path: Path) -> tuple[Heartbeat | None, str]:
    """The heartbeat in ``path``, or ``None`` and why not (missing, unreadable)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "no heartbeat file"
    except (OSError, ValueError) as exc:
        return None, f"heartbeat file unreadable ({exc})"
    try:
        beat = Heartbeat(
            time=dt.datetime.fromisoformat(raw["time"]),
            iteration=int(raw["iteration"]),
            pid=int(raw["pid"]),
            host=str(raw["host"]),
            profile=str(raw["profile"]),
            started=dt.datetime.fromisoformat(raw["started"]),
            state=str(raw.get("state", RUNNING)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"heartbeat file malformed ({exc!r})"
    if beat.time.tzinfo is None or beat.started.tzinfo is None:
        return None, "heartbeat file malformed (naive time)"
    return beat, ""


class HeartbeatWriter:
    """What the engine calls each loop iteration: ``beat(iteration)``."""

    def __init__(
        self,
        journal: Path,
        profile: str,
        *,
        clock: Clock | None = None,
        min_interval: float = 1.0,
    ) -> None:
        self.path = heartbeat_path(journal)
        self.profile = profile
        self._clock: Clock = clock if clock is not None else WallClock()
        self._min_interval = min_interval
        self._last = float("-inf")
        self._pid = os.getpid()
        self._host = socket.gethostname()
        self.started = self._clock.now()
        self.writes = 0
        self.failures = 0

    def beat(self, iteration: int, *, force: bool = False) -> bool:
        """Write the heartbeat if ``min_interval`` passed (or ``force``); whether it
        wrote. Never raises: a failed write is counted, and the watchdog will notice."""
        mono = time.monotonic()
        if not force and mono - self._last < self._min_interval:
            return False
        self._last = mono
        return self._write(iteration, RUNNING)

    def stop(self, iteration: int) -> bool:
        """The engine is stopping on purpose: say so, so the watchdog stays quiet."""
        return self._write(iteration, STOPPED)

    def _write(self, iteration: int, state: str) -> bool:
        beat = Heartbeat(
            self._clock.now(), iteration, self._pid, self._host, self.profile, self.started, state
        )
        try:
            _atomic_write(self.path, json.dumps(beat.as_dict()))
        except OSError:
            self.failures += 1
            return False
        self.writes += 1
        return True
