"""Deterministic simulation tests over many seeds (``bastion.testing.dst``).

    python bench/dst.py --seeds 1000 --seed-base 0

runs each seed's generated fault schedule against the kernel's engine and the sim venue
on a simulated clock, and prints ONE JSON object: the seeds, the mean steps, crashes,
orders and fills per seed, the faults applied by kind, what the venue's faults hid from
Bastion or made up (reports dropped, lost, duplicated, fills after a cancel), the
invariant checks made, the failures, and the wall time. It exits 1 on any failure; each
failure carries its seed, the one-line command that replays it exactly, and its
schedule shrunk by delta debugging (``shrunk``, and ``shrunk_json`` for ``--replay``).

    python bench/dst.py --replay '{"seed":7,"steps":40,...}'

runs one schedule as given (a shrunk one from a failure) and prints its result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed of 0 or more, got {value}")
    return value


def main() -> int:
    from bastion.testing.dst.batch import run_seeds
    from bastion.testing.dst.runner import run
    from bastion.testing.dst.schedule import DEFAULT_STEPS, Schedule

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=_positive, default=100, help="how many seeds (100)")
    parser.add_argument("--seed-base", type=_seed, default=0, help="the first seed (0)")
    parser.add_argument(
        "--steps", type=_positive, default=DEFAULT_STEPS, help=f"steps per seed ({DEFAULT_STEPS})"
    )
    parser.add_argument(
        "--jobs",
        type=_positive,
        default=min(2, os.cpu_count() or 1),
        help="worker processes (results do not depend on it)",
    )
    parser.add_argument("--no-shrink", action="store_true", help="report failures unshrunk")
    parser.add_argument(
        "--replay", metavar="JSON", help="run one schedule (a failure's shrunk_json)"
    )
    args = parser.parse_args()
    if args.replay is not None:
        try:
            schedule = Schedule.from_json(args.replay)
        except ValueError as exc:
            parser.error(f"--replay: {exc}")
        result = run(schedule)
        failure = result.failure
        print(
            json.dumps(
                {
                    "seed": schedule.seed,
                    "steps": schedule.steps,
                    "crashes": result.crashes,
                    "faults_by_kind": dict(sorted(result.faults.items())),
                    "failure": None
                    if failure is None
                    else {"invariant": failure.invariant, "detail": failure.detail},
                }
            )
        )
        return 0 if failure is None else 1
    batch = run_seeds(
        range(args.seed_base, args.seed_base + args.seeds),
        jobs=args.jobs,
        steps=args.steps,
        shrink_failures=not args.no_shrink,
    )
    print(json.dumps(batch.as_dict()))
    return 1 if batch.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
