"""The chaos test as a script: kill the engine (SIGKILL) at seeded instants, kill the
venue once, and prove nothing was lost, duplicated or sent twice.

    python bench/chaos.py --kills 20 --seed 7

prints one JSON object: ``kills`` (engine runs ended by SIGKILL), ``venue_kills``,
``fills_bastion`` / ``fills_venue`` (distinct executions), ``lost`` (venue fills not in
Bastion's journal), ``duplicated`` (executions journaled twice, or journaled but unknown
to the venue), ``double_submits`` (client order ids that reached the venue more than
once), ``positions_equal`` (per contract, journal vs venue), ``reconcile_clean`` (the
final reconciliation: contract vs broker, strategy vs contract, fills vs broker), plus
``kill_points`` (how each run ended) and ``seconds``.

How it works: the parent starts ``bastion venue serve`` (a separate process, its own
state file), then starts the engine (this file with ``--worker``) again and again. Each
engine run rebuilds from its journal, logs on over FIX, runs restart recovery and
reconciliation, then trades toward targets that change every 0.6 s (a seeded function
of wall time, so every run wants the same thing at the same moment). Each run dies by
SIGKILL: either the engine kills itself at an instrumented point
(``after_write_ahead``: the order is journaled, not sent; ``after_submit``: sent, the
acknowledgement not journaled; ``after_fill_arrival``: a fill read from the socket, not
journaled), or the parent kills it at a random instant. Once, mid-session, the venue
process is killed and restarted on the same port. A last engine run stops trading,
settles every order and reconciles; then the parent audits the venue's state file
against the engine's journal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KILL_POINTS = ("after_write_ahead", "after_submit", "after_fill_arrival")
TARGET_PERIOD = 0.6


# -- the engine (worker) -------------------------------------------------------------------
def _target(seed: int, now: float) -> int:
    bucket = int(now / TARGET_PERIOD)
    return random.Random(seed * 1_000_003 + bucket).randint(-3, 3)


class _ChaosVenue:
    """The FIX venue with kill points: SIGKILL this process at the n-th time a point is hit."""

    def __init__(self, inner: object, spec: str) -> None:
        self._inner = inner
        point, _, count = spec.partition(":")
        self._point, self._left = point, int(count or "0")

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def _hit(self, point: str) -> None:
        if point == self._point:
            self._left -= 1
            if self._left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)

    def submit(self, order: object) -> object:
        self._hit("after_write_ahead")  # the stack journaled the order before this call
        result = self._inner.submit(order)  # type: ignore[attr-defined]
        self._hit("after_submit")
        return result

    def poll_events(self) -> list[object]:
        from bastion.domain.venue_events import FillReport

        events = self._inner.poll_events()  # type: ignore[attr-defined]
        if any(isinstance(e, FillReport) for e in events):
            self._hit("after_fill_arrival")
        return events


def worker(args: argparse.Namespace) -> int:
    """One engine run: the shipped venue session (``bastion.ops.paper.VenueSession``),
    with the kill points wrapped around its venue."""
    from bastion.config import parse_profile
    from bastion.domain.ids import InstrumentId, StrategyId
    from bastion.domain.targets import Target
    from bastion.ops.paper import VenueSession
    from bastion.venues.fix.profile import fix_venue_for
    from bastion.venues.paper.contracts import DEFAULT_CONTRACTS

    work = Path(args.dir)
    profile = parse_profile(
        {
            "name": "chaos",
            "environment": "paper",
            "strategy_line": "chaos",
            "capital": 10_000_000,
            "account": "PAPER-CHAOS",
            "instruments": ["ES"],
            "store": {"path": str(work / "paper" / "journal.db")},
            "venue": {
                "kind": "fix",
                "host": "127.0.0.1",
                "port": args.port,
                "heartbeat_seconds": 2,
                "contracts": ["ES/202606"],
            },
            "records_dir": str(work / "paper" / "records"),
        },
        "chaos worker",
    )
    contracts = dict(DEFAULT_CONTRACTS)
    fix = fix_venue_for(profile, contracts, "engine", reconnect_initial=0.1, reconnect_max=1.0)
    venue = _ChaosVenue(fix, os.environ.get("BASTION_CHAOS_KILL", ""))
    session = VenueSession(
        profile,
        venue,  # type: ignore[arg-type]
        contracts,
        risk_level="base",
        risk_level_source="chaos test",
        reconcile_every=dt.timedelta(seconds=1),
        poll_seconds=0.02,
    )
    es, strategy = InstrumentId("ES"), StrategyId("chaos")

    def target() -> list[Target]:
        if args.final:
            return []  # the last run stops trading: settle, recover, reconcile
        want = _target(args.seed, time.time())
        return [Target(strategy_id=strategy, instrument_id=es, low=want, high=want)]

    result = session.run(target, seconds=args.seconds, until_met=False)
    if args.final:
        out = {
            "settled": not any("still working" in p for p in result.problems),
            "recovery_complete": bool(result.recoveries)
            and "INCOMPLETE" not in result.recoveries[-1],
            "reconcile_clean": result.reconcile_clean,
            "breaks": result.breaks,
            "unknown": result.unknown,
            "restarts": result.restarts,
            "positions": result.positions,
            "problems": result.problems[-20:],
        }
        (work / "final.json").write_text(json.dumps(out, indent=1))
    return 0


# -- the parent -----------------------------------------------------------------------------
def _start_venue(work: Path, port: int, seed: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [
            sys.executable,
            "-c",
            "from bastion.cli import main; main()",
            "venue",
            "serve",
            "--port",
            str(port),
            "--state",
            str(work / "venue.db"),
            "--seed",
            str(seed),
            "--tick-seconds",
            "0.05",
            "--heartbeat",
            "2",
            "--max-seconds",
            "600",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on"):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the venue did not start: {line!r}")
    return proc, int(line.split(":")[1].split()[0])


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _engine(
    work: Path,
    port: int,
    seed: int,
    seconds: float,
    kill: str,
    *,
    final: bool = False,
    run: int = 0,
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, BASTION_CHAOS_KILL=kill)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--dir",
        str(work),
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--seconds",
        str(seconds),
    ]
    log = (work / f"engine-{run:02d}.err").open("w")  # kept: a crash must be diagnosable
    try:
        return subprocess.Popen(  # noqa: S603
            [*cmd, "--final"] if final else cmd, env=env, cwd=ROOT, stderr=log
        )
    finally:
        log.close()


def _engine_errors(work: Path) -> list[str]:
    """The last lines of every engine run that ended with a traceback."""
    found = []
    for path in sorted(work.glob("engine-*.err")):
        text = path.read_text(errors="replace")
        if "Traceback" in text:
            tail = [line for line in text.splitlines() if line.strip()][-6:]
            found.append(f"{path.name}: " + " | ".join(tail))
    return found


def _audit(work: Path) -> dict[str, object]:
    venue = sqlite3.connect(work / "venue.db")
    venue_fills = {
        r[0]: (r[1], r[2], r[3])
        for r in venue.execute("SELECT exec_id, contract_id, side, quantity FROM fills")
    }
    double = venue.execute("SELECT COUNT(*) FROM received WHERE count > 1").fetchone()[0]
    venue.close()
    journal_path = work / "paper" / "journal.db"
    if not journal_path.exists():
        raise SystemExit(f"chaos: no engine run wrote a journal at {journal_path}; see stderr")
    journal = sqlite3.connect(journal_path)
    rows = journal.execute("SELECT payload FROM journal WHERE event_type = 'fill'").fetchall()
    journal.close()
    seen: dict[str, int] = {}
    for (payload,) in rows:
        fill = json.loads(payload)["fill"]
        if not str(fill["client_order_id"]).startswith("balance:"):
            seen[fill["exec_id"]] = seen.get(fill["exec_id"], 0) + 1
    venue_pos: dict[str, int] = {}
    for contract, side, qty in venue_fills.values():
        venue_pos[contract] = venue_pos.get(contract, 0) + (qty if side == "buy" else -qty)
    return {
        "fills_bastion": len(seen),
        "fills_venue": len(venue_fills),
        "lost": len(set(venue_fills) - set(seen)),
        "duplicated": sum(n - 1 for n in seen.values()) + len(set(seen) - set(venue_fills)),
        "double_submits": int(double),
        "venue_positions": {k: v for k, v in venue_pos.items() if v},
    }


def run(kills: int, seed: int, work: Path) -> dict[str, object]:
    started = time.monotonic()
    rng = random.Random(seed)
    venue, port = _start_venue(work, 0, seed)
    venue_kill_at = kills // 2
    ended: list[str] = []
    killed = venue_kills = 0
    try:
        for i in range(kills):
            point = rng.choice((*KILL_POINTS, "timer", "timer"))
            spec = f"{point}:{rng.randint(1, 3)}" if point != "timer" else ""
            engine = _engine(work, port, seed, 9.0, spec, run=i)
            limit = rng.uniform(0.7, 2.5) if point == "timer" else 6.0
            if i == venue_kill_at:
                time.sleep(0.8)
                venue.kill()
                venue.wait()
                venue_kills += 1
                if venue.stdout is not None:
                    venue.stdout.close()
                time.sleep(0.5)
                venue, port = _start_venue(work, port, seed)
            try:
                engine.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                engine.kill()
                engine.wait()
            killed += engine.returncode == -signal.SIGKILL
            ended.append(
                point
                if engine.returncode == -signal.SIGKILL
                else f"{point}:exit{engine.returncode}"
            )
        final = _engine(work, port, seed, 2.5, "", final=True, run=kills)
        final.wait(timeout=60)
    finally:
        _stop(venue)
    result = json.loads((work / "final.json").read_text()) if (work / "final.json").exists() else {}
    audit = _audit(work)
    bastion_pos = {k: v for k, v in result.get("positions", {}).items() if v}
    return {
        "kills": killed,
        "venue_kills": venue_kills,
        **{k: v for k, v in audit.items() if k != "venue_positions"},
        "positions_equal": bool(result) and bastion_pos == audit["venue_positions"],
        "positions": bastion_pos,
        "reconcile_clean": bool(result.get("reconcile_clean")),
        "breaks": result.get("breaks", []),
        "kill_points": ended,
        "engine_errors": _engine_errors(work),
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", help="working directory (default: a fresh temporary one)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--final", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=6.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.dir:
        work = Path(args.dir)
        work.mkdir(parents=True, exist_ok=True)
        print(json.dumps(run(args.kills, args.seed, work)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bastion-chaos-") as tmp:
        print(json.dumps(run(args.kills, args.seed, Path(tmp))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
