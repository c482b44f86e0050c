"""One engine per store: an exclusive OS file lock beside the journal (R9.1).

Every engine the kernel builds on a journal file takes the lock ``<journal>.engine.lock``
(``fcntl.flock``, exclusive, non-blocking) and writes its host, PID, role and start time
into it. A second engine on the same store is refused in one line naming the holder.
The operating system releases the lock when its process dies, however it dies, so a
lock left by a dead process is taken over at once; the takeover is reported (the
kernel journals it) with the dead holder's details.

Operator commands that do not run an engine (``bastion kill``, ``risk halt/resume``,
``reconcile``, reports) never take the lock: they ask ``holder()`` whether an engine is
running, and if one is, they leave a request the engine applies at its next pass.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from bastion.errors import UserError

__all__ = ["EngineLock", "EngineLockedError", "LockHolder", "lock_path"]


class EngineLockedError(UserError):
    """Another live engine holds the store."""


@dataclass(frozen=True, slots=True)
class LockHolder:
    host: str
    pid: int
    role: str
    since: str

    def line(self) -> str:
        return f"{self.role} engine, pid {self.pid} on {self.host}, since {self.since}"


def lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".engine.lock")


def _read(path: Path) -> LockHolder | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8") or "{}")
        return LockHolder(str(raw["host"]), int(raw["pid"]), str(raw["role"]), str(raw["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class EngineLock:
    def __init__(self, journal: Path, role: str) -> None:
        self.journal = journal
        self.path = lock_path(journal)
        self.role = role
        self._fd: int | None = None
        self.taken_over: LockHolder | None = None
        """The dead holder whose lock this one took over, if any."""

    def acquire(self) -> EngineLock:
        """Take the lock or raise ``EngineLockedError`` naming the live holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read(self.path)
            who = holder.line() if holder is not None else "another process"
            raise EngineLockedError(
                f"the store {self.journal} is in use by {who};"
                " one engine per store: stop it first, or send it a request (bastion kill,"
                " bastion risk halt) instead"
            ) from None
        previous = _read(self.path)
        me = os.getpid()
        if previous is not None and (previous.pid != me or previous.host != socket.gethostname()):
            self.taken_over = previous
        record = {
            "host": socket.gethostname(),
            "pid": me,
            "role": self.role,
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(record).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.ftruncate(fd, 0)  # a clean stop leaves nothing to take over
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @staticmethod
    def holder(journal: Path) -> LockHolder | None:
        """The live engine holding ``journal``, or ``None`` when no engine runs."""
        path = lock_path(journal)
        if not path.exists():
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read(path) or LockHolder("?", 0, "unknown", "?")
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)
