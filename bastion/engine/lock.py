"""One engine per store: an exclusive OS file lock beside the journal (R9.1).

Every engine the kernel builds on a journal file takes the lock ``<journal stem>-engine.lock``
(``fcntl.flock``, exclusive) and writes its host, PID, profile, role and start time into
it. A second engine on the same store is refused in one line naming the holder.

The operating system releases the lock the instant its process dies, however it dies
(SIGKILL included), so:

- a lock whose file says ``released: false`` but which nobody holds belongs to an
  engine that died: the next engine takes it over, and says so (``taken_over``; the
  kernel journals it); the watchdog reads the same fact (``probe_lock``) together with
  the heartbeat;
- a clean stop marks the file ``released: true`` and keeps who ran last.

Operator commands that do not run an engine (``bastion kill``, ``risk halt/resume``,
``reconcile``, reports) never take the lock: they ask ``EngineLock.holder`` whether an
engine is running, and if one is, they leave a request it applies at its next pass.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bastion.clock import Clock, WallClock
from bastion.errors import UserError

__all__ = [
    "EngineLock",
    "EngineLockedError",
    "LockHolder",
    "LockProbe",
    "lock_path",
    "probe_lock",
]

_BUSY = {errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK}


class EngineLockedError(UserError):
    """Another live process holds the store's lock."""


def lock_path(journal: Path) -> Path:
    return journal.with_name(f"{journal.stem}-engine.lock")


@dataclass(frozen=True, slots=True)
class LockHolder:
    host: str
    pid: int
    role: str
    since: str
    profile: str = ""

    def line(self) -> str:
        return f"{self.role} pid {self.pid} on {self.host} since {self.since}"

    @classmethod
    def of(cls, raw: dict[str, object]) -> LockHolder:
        return cls(
            host=str(raw.get("host", "?")),
            pid=int(str(raw.get("pid", 0)) or 0),
            role=str(raw.get("role", "?")),
            since=str(raw.get("since", "?")),
            profile=str(raw.get("profile", "")),
        )


@dataclass(frozen=True, slots=True)
class LockProbe:
    exists: bool
    held: bool
    """Some live process holds it (only meaningful when ``exists``)."""
    holder: dict[str, object]
    """What the last holder wrote: pid, host, profile, role, since, released."""


def _read(handle: IO[bytes]) -> dict[str, object]:
    handle.seek(0)
    try:
        raw = json.loads(handle.read().decode("utf-8") or "{}")
    except ValueError:
        return {}
    return raw if isinstance(raw, dict) else {}


def probe_lock(path: Path) -> LockProbe:
    """Whether a process holds the lock now, without taking it for longer than a probe."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return LockProbe(exists=False, held=False, holder={})
    with handle:
        holder = _read(handle)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in _BUSY:
                return LockProbe(exists=True, held=True, holder=holder)
            raise
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return LockProbe(exists=True, held=False, holder=holder)


class EngineLock:
    """One engine per journal. ``acquire`` at start; held until ``release`` or death."""

    def __init__(self, path: Path, handle: IO[bytes], taken_over: LockHolder | None) -> None:
        self.path = path
        self._handle: IO[bytes] | None = handle
        self.taken_over = taken_over
        """The holder that died with the lock, when this acquire took it over."""

    @classmethod
    def acquire(
        cls,
        journal: Path,
        profile: str = "",
        *,
        role: str = "engine",
        wait: float = 0.0,
        clock: Clock | None = None,
        path: Path | None = None,
    ) -> EngineLock:
        """Take the lock, retrying for ``wait`` seconds (so a watchdog's brief probe
        never refuses a start); ``EngineLockedError`` naming the holder otherwise.
        ``path`` overrides the lock file (the watchdog's own single instance)."""
        path = path if path is not None else lock_path(journal)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+b")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in _BUSY:
                    handle.close()
                    raise
                if time.monotonic() >= deadline:
                    holder = LockHolder.of(_read(handle))
                    handle.close()
                    raise EngineLockedError(
                        f"the store {journal} is in use by {holder.line()}; one engine per"
                        " store: stop it first, or send it a request (bastion kill, bastion"
                        " risk halt) instead"
                    ) from None
                time.sleep(0.05)
        previous = _read(handle)
        taken_over = (
            LockHolder.of(previous) if previous and previous.get("released") is False else None
        )
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "profile": profile,
            "role": role,
            "since": (clock if clock is not None else WallClock()).now().isoformat(),
            "released": False,
        }
        cls._write(handle, info)
        return cls(path, handle, taken_over)

    @staticmethod
    def _write(handle: IO[bytes], info: dict[str, object]) -> None:
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(info).encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())

    @staticmethod
    def holder(journal: Path) -> LockHolder | None:
        """The live process holding ``journal``'s lock, or ``None`` when none runs."""
        probe = probe_lock(lock_path(journal))
        if not probe.exists or not probe.held:
            return None
        return LockHolder.of(probe.holder)

    @property
    def held(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        """Let go; the file keeps who ran last, marked released (a clean stop)."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            info = _read(handle)
            info["released"] = True
            self._write(handle, info)
        with contextlib.suppress(OSError):
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()

    def __del__(self) -> None:
        # A lock dropped without release (a test, a crash path) must not leak its file:
        # the OS would release the flock with the file anyway.
        with contextlib.suppress(Exception):
            self.release()

    def __enter__(self) -> EngineLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
