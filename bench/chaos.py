"""The chaos test as a script: kill the engine (SIGKILL) at seeded instants, kill the
venue once, and prove nothing was lost, duplicated or executed twice.

    python bench/chaos.py --kills 25 --seed 7 [--busy 2]

prints one JSON object and exits 1 when anything is wrong (``ok`` says the same):

- ``kills``: engine runs ended by SIGKILL *after the engine had logged on* (a run
  killed before its logon proves nothing and is not counted; the test goes on until
  ``--kills`` runs were killed logged on), ``kill_attempts``, ``not_logged_on``;
- ``venue_kills``: the venue process killed and restarted on its port (once);
- ``fills_bastion`` / ``fills_venue`` (distinct executions), ``lost`` (venue fills not
  in Bastion's journal), ``duplicated`` (executions journaled twice, or journaled but
  unknown to the venue);
- ``double_submits``: client order ids that reached the venue more than once, plus
  every intent (an instrument order, or a contract order without one) the venue
  executed beyond its quantity (``beyond_quantity`` lists them);
- ``positions_equal`` (per contract, journal vs venue), ``reconcile_clean`` (the final
  run's reconciliation: targets, contract vs broker, strategy vs contract, fills);
- ``final_settled``: the final run reached its target (flat), with nothing working,
  within ``--settle`` seconds; ``kill_points``, ``engine_errors``, ``seconds``.

How it works: the parent starts ``bastion venue serve`` (a separate process, its own
state file), then starts the engine (this file with ``--worker``) again and again. Each
engine run is the shipped session (``bastion.ops.paper.VenueSession``, the kernel's
engine): it rebuilds from its journal, logs on over FIX (and says so in a marker file),
runs restart recovery and reconciliation, then trades toward targets that change every
0.6 s (a seeded function of wall time, so every run wants the same thing at the same
moment). Each run dies by SIGKILL: either the engine kills itself at an instrumented
point (``after_write_ahead``: the order is journaled, not sent; ``after_submit``: sent,
the acknowledgement not journaled; ``after_fill_arrival``: a fill read from the socket,
not journaled), or the parent kills it at a random instant after its logon. Once,
mid-session, the venue process is killed and restarted on the same port. A last engine
run trades to flat and stays until the targets are met, nothing works and the
reconciliation is clean (``--settle`` seconds at most); then the parent audits the
venue's state file against the engine's journal.

``--busy N`` runs N CPU-bound busy loops beside the test (a loaded machine).
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
LOGON_WAIT = 90.0
"""Seconds a run may take to log on (a busy machine starts Python slowly)."""
POINT_WAIT = 8.0
"""Seconds after its logon a run may take to reach its kill point before it is killed."""


# -- the engine (worker) -------------------------------------------------------------------
def _target(seed: int, now: float) -> int:
    bucket = int(now / TARGET_PERIOD)
    return random.Random(seed * 1_000_003 + bucket).randint(-3, 3)


class _ChaosVenue:
    """The FIX venue with kill points (SIGKILL this process at the n-th time a point is
    hit) and a logon marker (a file written the first time the session is up)."""

    def __init__(self, inner: object, spec: str, logon: Path | None) -> None:
        self._inner = inner
        point, _, count = spec.partition(":")
        self._point, self._left = point, int(count or "0")
        self._logon = logon

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def _up(self) -> bool:
        """Whether the session is up; the first time it is, write the logon marker."""
        up = bool(self._inner.is_connected)  # type: ignore[attr-defined]
        if up and self._logon is not None:
            self._logon.write_text(str(os.getpid()))
            self._logon = None
        return up

    @property
    def is_connected(self) -> bool:
        return self._up()

    def connect(self) -> bool:
        self._inner.connect()  # type: ignore[attr-defined]
        return self._up()

    def _hit(self, point: str) -> None:
        if point == self._point:
            self._left -= 1
            if self._left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)

    def submit(self, order: object) -> object:
        self._up()
        self._hit("after_write_ahead")  # the stack journaled the order before this call
        result = self._inner.submit(order)  # type: ignore[attr-defined]
        self._hit("after_submit")
        return result

    def poll_events(self) -> list[object]:
        from bastion.domain.venue_events import FillReport

        events = self._inner.poll_events()  # type: ignore[attr-defined]
        self._up()
        if any(isinstance(e, FillReport) for e in events):
            self._hit("after_fill_arrival")
        return events


def worker(args: argparse.Namespace) -> int:
    """One engine run: the shipped venue session (``bastion.ops.paper.VenueSession``),
    with the kill points and the logon marker wrapped around its venue."""
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
    logon = work / f"logon-{args.run:02d}"
    venue = _ChaosVenue(fix, os.environ.get("BASTION_CHAOS_KILL", ""), logon)
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
        want = 0 if args.final else _target(args.seed, time.time())
        return [Target(strategy_id=strategy, instrument_id=es, low=want, high=want)]

    # The final run trades to flat and stays until that is done and reconciled clean.
    result = session.run(target, seconds=args.seconds, until_met=args.final)
    if args.final:
        out = {
            "targets_met": result.targets_met,
            "state": result.state,
            "recovery_complete": bool(result.recoveries)
            and "INCOMPLETE" not in result.recoveries[-1],
            "reconcile_clean": result.reconcile_clean,
            "breaks": result.breaks,
            "unknown": result.unknown,
            "restarts": result.restarts,
            "positions": result.positions,
            "venue_positions": result.venue_positions,
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
            "3600",
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
        "--run",
        str(run),
    ]
    log = (work / f"engine-{run:02d}.err").open("w")  # kept: a crash must be diagnosable
    try:
        return subprocess.Popen(  # noqa: S603
            [*cmd, "--final"] if final else cmd, env=env, cwd=ROOT, stderr=log
        )
    finally:
        log.close()


def _wait_for(path: Path, proc: subprocess.Popen[bytes], seconds: float) -> bool:
    """Whether ``path`` appeared before ``proc`` ended and within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        if proc.poll() is not None:
            return path.exists()
        time.sleep(0.02)
    return path.exists()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _engine_errors(work: Path) -> list[str]:
    """The last lines of every engine run that ended with a traceback."""
    found = []
    for path in sorted(work.glob("engine-*.err")):
        text = path.read_text(errors="replace")
        if "Traceback" in text:
            tail = [line for line in text.splitlines() if line.strip()][-6:]
            found.append(f"{path.name}: " + " | ".join(tail))
    return found


def _intents(journal: sqlite3.Connection) -> tuple[dict[str, str], dict[str, tuple[str, int]]]:
    """(client order id -> the intent it serves, intent -> (what it is, quantity)) from
    the journal's order records: an instrument order, or a contract order without one."""
    instrument: dict[str, int] = {}
    contract: dict[str, tuple[str | None, int]] = {}
    broker: dict[str, str | None] = {}
    rows = journal.execute(
        "SELECT event_type, payload FROM journal WHERE event_type IN"
        " ('instrument_order.created', 'contract_order.created', 'broker_order.created')"
    )
    for etype, payload in rows:
        record = json.loads(payload)
        if etype == "instrument_order.created":
            instrument[record["order_id"]] = int(record["quantity"])
        elif etype == "contract_order.created":
            contract[record["order_id"]] = (record.get("parent_id"), int(record["quantity"]))
        else:
            broker[record["client_order_id"]] = record.get("parent_id")
    intent_of: dict[str, str] = {}
    sizes: dict[str, tuple[str, int]] = {}
    for coid, parent in broker.items():
        if parent is None or parent not in contract:
            continue
        grand, quantity = contract[parent]
        if grand is not None and grand in instrument:
            intent_of[coid] = grand
            sizes[grand] = ("instrument order", instrument[grand])
        else:
            intent_of[coid] = parent
            sizes[parent] = ("contract order", quantity)
    return intent_of, sizes


def _audit(work: Path) -> dict[str, object]:
    venue = sqlite3.connect(work / "venue.db")
    venue_fills = {
        r[0]: (r[1], r[2], r[3], r[4])
        for r in venue.execute(
            "SELECT exec_id, client_order_id, contract_id, side, quantity FROM fills"
        )
    }
    repeated = [r[0] for r in venue.execute("SELECT client_order_id FROM received WHERE count > 1")]
    venue.close()
    journal_path = work / "paper" / "journal.db"
    if not journal_path.exists():
        raise SystemExit(f"chaos: no engine run wrote a journal at {journal_path}; see stderr")
    journal = sqlite3.connect(journal_path)
    rows = journal.execute("SELECT payload FROM journal WHERE event_type = 'fill'").fetchall()
    intent_of, sizes = _intents(journal)
    journal.close()
    seen: dict[str, int] = {}
    for (payload,) in rows:
        fill = json.loads(payload)["fill"]
        if not str(fill["client_order_id"]).startswith("balance:"):
            seen[fill["exec_id"]] = seen.get(fill["exec_id"], 0) + 1
    venue_pos: dict[str, int] = {}
    executed: dict[str, int] = {}
    for coid, contract, side, qty in venue_fills.values():
        venue_pos[contract] = venue_pos.get(contract, 0) + (qty if side == "buy" else -qty)
        intent = intent_of.get(coid)
        if intent is not None:
            executed[intent] = executed.get(intent, 0) + qty
    beyond = [
        f"{sizes[i][0]} {i}: executed {n} of {sizes[i][1]}"
        for i, n in sorted(executed.items())
        if n > sizes[i][1]
    ]
    return {
        "fills_bastion": len(seen),
        "fills_venue": len(venue_fills),
        "lost": len(set(venue_fills) - set(seen)),
        "duplicated": sum(n - 1 for n in seen.values()) + len(set(seen) - set(venue_fills)),
        "double_submits": len(repeated) + len(beyond),
        "repeated_client_order_ids": repeated,
        "beyond_quantity": beyond,
        "venue_positions": {k: v for k, v in venue_pos.items() if v},
    }


def _busy_loops(count: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


class _Kills:
    """The kill loop's state: the venue process, and how each engine run ended."""

    def __init__(self, kills: int, seed: int, work: Path) -> None:
        self.kills, self.seed, self.work = kills, seed, work
        self.rng = random.Random(seed)
        self.venue, self.port = _start_venue(work, 0, seed)
        self.ended: list[str] = []
        self.counted = self.attempts = self.not_logged_on = self.venue_kills = 0

    def kill_venue(self) -> None:
        """Once, mid-session: the venue process dies and comes back on its port."""
        time.sleep(0.8)
        self.venue.kill()
        self.venue.wait()
        self.venue_kills += 1
        if self.venue.stdout is not None:
            self.venue.stdout.close()
        time.sleep(0.5)
        self.venue, self.port = _start_venue(self.work, self.port, self.seed)

    def one_run(self) -> None:
        run_no = self.attempts
        self.attempts += 1
        point = self.rng.choice((*KILL_POINTS, "timer", "timer"))
        spec = f"{point}:{self.rng.randint(1, 3)}" if point != "timer" else ""
        delay = self.rng.uniform(0.7, 2.5)
        engine = _engine(self.work, self.port, self.seed, 600.0, spec, run=run_no)
        if not _wait_for(self.work / f"logon-{run_no:02d}", engine, LOGON_WAIT):
            _kill(engine)
            self.not_logged_on += 1
            self.ended.append(f"{point}:not_logged_on")
            return
        if self.counted == self.kills // 2 and not self.venue_kills:
            self.kill_venue()
        try:
            engine.wait(timeout=delay if point == "timer" else POINT_WAIT)
            label = point
        except subprocess.TimeoutExpired:
            label = point if point == "timer" else f"{point}:not_reached"
            _kill(engine)
        if engine.returncode == -signal.SIGKILL:
            self.counted += 1
            self.ended.append(label)
        else:
            self.ended.append(f"{label}:exit{engine.returncode}")

    def final(self, settle: float) -> bool:
        """The last run: to flat, settled and reconciled, within ``settle`` seconds."""
        final = _engine(self.work, self.port, self.seed, settle, "", final=True, run=self.attempts)
        try:
            final.wait(timeout=settle + LOGON_WAIT)
        except subprocess.TimeoutExpired:
            _kill(final)
            return False
        return final.returncode == 0


def run(kills: int, seed: int, work: Path, *, settle: float = 120.0) -> dict[str, object]:
    started = time.monotonic()
    chaos = _Kills(kills, seed, work)
    try:
        while chaos.counted < kills and chaos.attempts < kills * 3:
            chaos.one_run()
        final_ran = chaos.final(settle)
    finally:
        _stop(chaos.venue)
    result = json.loads((work / "final.json").read_text()) if (work / "final.json").exists() else {}
    audit = _audit(work)
    bastion_pos = {k: v for k, v in result.get("positions", {}).items() if v}
    figures: dict[str, object] = {
        "seed": seed,
        "kills": chaos.counted,
        "kill_attempts": chaos.attempts,
        "not_logged_on": chaos.not_logged_on,
        "venue_kills": chaos.venue_kills,
        **{k: v for k, v in audit.items() if k != "venue_positions"},
        "positions_equal": bool(result) and bastion_pos == audit["venue_positions"],
        "positions": bastion_pos,
        "venue_positions": audit["venue_positions"],
        "reconcile_clean": bool(result.get("reconcile_clean")),
        "final_settled": final_ran and bool(result.get("targets_met")),
        "breaks": result.get("breaks", []),
        "kill_points": chaos.ended,
        "engine_errors": _engine_errors(work),
        "seconds": round(time.monotonic() - started, 1),
    }
    failures = _failures(figures, kills)
    figures["ok"] = not failures
    figures["failures"] = failures
    return figures


def _failures(figures: dict[str, object], kills: int) -> list[str]:
    """Everything that makes the run a failure, in words."""
    out = []
    if int(figures["kills"]) < kills:  # type: ignore[call-overload]
        out.append(f"only {figures['kills']} of {kills} kills after logon")
    if figures["venue_kills"] != 1:
        out.append("the venue was not killed once")
    out.extend(
        f"{key}: {figures[key]}" for key in ("lost", "duplicated", "double_submits") if figures[key]
    )
    if not figures["positions_equal"]:
        out.append(f"positions differ: {figures['positions']} vs {figures['venue_positions']}")
    if not figures["reconcile_clean"]:
        out.append(f"reconciliation not clean: {figures['breaks']}")
    if not figures["final_settled"]:
        out.append("the final run did not reach flat and settle")
    if figures["engine_errors"]:
        out.append("an engine run ended with a traceback")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=25, help="SIGKILLs after logon (25)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound busy loops beside it")
    parser.add_argument(
        "--settle", type=float, default=120.0, help="seconds the final run may take (120)"
    )
    parser.add_argument("--dir", help="working directory (default: a fresh temporary one)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--final", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=6.0, help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.kills < 1 or args.busy < 0 or args.settle <= 0:
        parser.error("--kills must be at least 1, --busy 0 or more, --settle positive")
    busy = _busy_loops(args.busy)
    try:
        if args.dir:
            work = Path(args.dir)
            work.mkdir(parents=True, exist_ok=True)
            figures = run(args.kills, args.seed, work, settle=args.settle)
        else:
            with tempfile.TemporaryDirectory(prefix="bastion-chaos-") as tmp:
                figures = run(args.kills, args.seed, Path(tmp), settle=args.settle)
    finally:
        for loop in busy:
            loop.kill()
            loop.wait()
    figures["busy_loops"] = args.busy
    print(json.dumps(figures))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
