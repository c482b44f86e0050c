"""Fuzz the paper venue over FIX and print the figures as JSON.

It starts ``bastion venue serve`` as its own process (wall clock, moving prices, state
in a temporary directory, stderr kept in a file), logs on as ``BASTION.ENGINE`` and
sends ``--messages`` seeded, mutated messages (``bastion.testing.fix_mutator``), with a
TestRequest after every batch to catch a hang and, every ``--side-every`` messages, a
second connection that must be refused (an intruder, a hijack, junk, a digit flood).
Then it stops the venue with SIGTERM, reads the digest of the state it stopped with,
and replays the state file into a fresh venue to compare digests.

Figures: messages sent (and how many mutated), the venue's answers by kind (session
rejects by SessionRejectReason, business rejects, order and cancel rejects, execution
reports, closes), logons, hangs, side connections, crashes (the venue process died, or
a traceback, an internal error or an unhandled message in its log), seconds, messages
per second, the venue's peak memory, and whether the state digests are equal.

Usage: ``python bench/fuzz_fix.py [--messages 100000] [--seed 7]``
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bastion.testing.fix_fuzzer import run_fuzz
from bastion.venues.paper.server import replayed_digest

ROOT = Path(__file__).resolve().parents[1]


def _peak_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--hang-timeout", type=float, default=30.0)
    parser.add_argument("--side-every", type=int, default=2500)
    args = parser.parse_args()
    # The fuzzer's own session complains about every Reject the venue sends: that is
    # the point, and its figures count them; keep them off this process's stderr.
    logging.getLogger("bastion").addHandler(logging.NullHandler())
    work = Path(tempfile.mkdtemp(prefix="bastion-fuzz-"))
    state, stderr_path = work / "venue.db", work / "venue.stderr"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [
                sys.executable,
                "-c",
                "from bastion.cli import main; main()",
                "venue",
                "serve",
                "--port",
                "0",
                "--state",
                str(state),
                "--max-seconds",
                "86400",
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening on"):
            proc.kill()
            raise SystemExit(f"the venue did not start: {line!r}")
        port = int(line.split(":")[1].split()[0])
        figures = run_fuzz(
            port,
            seed=args.seed,
            messages=args.messages,
            batch=args.batch,
            hang_timeout=args.hang_timeout,
            side_every=args.side_every,
        )
        alive = proc.poll() is None
        peak = _peak_rss_mb(proc.pid)
        if alive:
            proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    log = stderr_path.read_text(errors="replace")
    stopped = [x for x in out.splitlines() if x.startswith("stopped; state digest")]
    live_digest = stopped[0].split()[-1] if stopped else None
    inputs, replayed = replayed_digest(state)
    crashes = {
        "venue_died": not alive,
        "exit_status": proc.returncode,
        "tracebacks": log.count("Traceback"),
        "internal_errors": log.count("failed to process input"),
        "unhandled_messages": log.count("not handled:"),
    }
    result = {
        **figures.as_dict(),
        "messages_per_second": round(figures.messages / figures.seconds, 1),
        "crashes": crashes,
        "venue_peak_rss_mb": peak,
        "inputs_logged": inputs,
        "state_digest_equal": live_digest == replayed,
        "state_digest": replayed,
        "venue_log_lines": log.count("\n"),
    }
    print(json.dumps(result, indent=1))
    clean = (
        alive
        and proc.returncode == 0
        and not any(crashes[k] for k in ("tracebacks", "internal_errors", "unhandled_messages"))
        and figures.hangs == 0
        and live_digest == replayed
    )
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
