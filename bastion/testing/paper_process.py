"""The paper venue as a real process (``bastion venue serve``) on a port the OS picks."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["PaperVenueProcess"]

ROOT = Path(__file__).resolve().parents[2]


class PaperVenueProcess:
    """Start ``bastion venue serve`` with its state at ``state``; read back its port."""

    def __init__(
        self,
        state: Path,
        port: int = 0,
        *,
        tick_seconds: float = 0.05,
        max_seconds: int = 60,
        control: bool = False,
        extra: tuple[str, ...] = (),
    ) -> None:
        """``control``: the venue accepts the test kit's control messages (quotes set
        by the test: pair it with a long ``tick_seconds`` so the feed leaves them).
        ``extra`` adds options to ``bastion venue serve`` (``--allow RAW1``, limits)."""
        self.state = state
        self.proc = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [
                sys.executable,
                "-c",
                "from bastion.cli import main; main()",
                "venue",
                "serve",
                "--port",
                str(port),
                "--state",
                str(state),
                "--tick-seconds",
                str(tick_seconds),
                "--heartbeat",
                "2",
                "--max-seconds",
                str(max_seconds),
                *(["--control"] if control else []),
                *extra,
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None  # noqa: S101 - PIPE was asked for
        line = self.proc.stdout.readline()
        if not line.startswith("listening on"):
            self.kill()
            raise RuntimeError(f"the paper venue did not start: {line!r}")
        self.port = int(line.split(":")[1].split()[0])

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
