"""A stand-in engine process for watchdog tests: it holds the engine lock and beats.

``FakeEngineProcess(journal, profile)`` starts ``python -m bastion.testing.fake_engine``,
which takes the engine lock beside ``journal``, writes a heartbeat every
``interval`` seconds through ``HeartbeatWriter`` (the same writer the kernel uses) and
prints ``beating`` once the first heartbeat is on disk; the constructor returns after
reading that line, so a test starts from a known state without sleeping. ``kill()``
sends SIGKILL and waits for the process to be gone; ``stop()`` ends it cleanly (the
heartbeat then says ``stopped``). It exits by itself after ``max_seconds``.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["FakeEngineProcess", "main"]

ROOT = Path(__file__).resolve().parents[2]


class FakeEngineProcess:
    def __init__(
        self, journal: Path, profile: str, *, interval: float = 0.05, max_seconds: float = 120
    ) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "bastion.testing.fake_engine",
                "--journal",
                str(journal),
                "--profile",
                profile,
                "--interval",
                str(interval),
                "--max-seconds",
                str(max_seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None  # noqa: S101 - PIPE was asked for
        line = self.proc.stdout.readline()
        if line.strip() != "beating":
            self.kill()
            raise RuntimeError(f"the fake engine did not start: {line!r}")
        self.pid = self.proc.pid

    def kill(self) -> None:
        """SIGKILL, then wait until the kernel has reaped it (its lock is free then)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def main(argv: list[str] | None = None) -> None:
    from bastion.engine.lock import EngineLock
    from bastion.ops.heartbeat import HeartbeatWriter

    parser = argparse.ArgumentParser(prog="fake_engine")
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    lock = EngineLock.acquire(args.journal, args.profile)
    writer = HeartbeatWriter(args.journal, args.profile, min_interval=0.0)
    iteration = 0
    writer.beat(iteration)
    sys.stdout.write("beating\n")
    sys.stdout.flush()
    deadline = time.monotonic() + args.max_seconds
    while not stopping and time.monotonic() < deadline:
        time.sleep(args.interval)
        iteration += 1
        writer.beat(iteration)
    writer.stop(iteration)
    lock.release()


if __name__ == "__main__":
    main()
