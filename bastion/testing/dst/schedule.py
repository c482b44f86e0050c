"""A fault schedule: what goes wrong at which step of a simulated run, drawn from a seed.

A ``Schedule`` is plain data (a seed, a number of steps, the execution algo, and a
sorted tuple of ``Fault``), so a run is a pure function of it: the same schedule gives
the same run, byte for byte. ``generate(seed)`` draws one; ``Schedule.to_json`` and
``Schedule.from_json`` carry one to a command line or a regression test; ``render``
prints one a person can read. Shrinking (``shrink.py``) removes faults from a schedule
and keeps everything else, which is why the market's path is drawn from the seed alone
and never from the faults.

Every fault kind the issue lists is here: crashes at any journal record boundary (after
a number of commits, or right after the next record of a chosen type), disconnects,
dropped / duplicated / reordered / late reports, fills after a cancel, partial fills
(a thin book), retryable and final rejects, venue halts, price limits, margin calls,
target changes, kill requests, operator halts and resumes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from enum import StrEnum

from bastion.domain.reasons import Reason, retry_policy

__all__ = [
    "CRASH_RECORDS",
    "DEFAULT_STEPS",
    "REJECT_REASONS",
    "STRATEGIES",
    "Fault",
    "FaultKind",
    "Schedule",
    "generate",
]

DEFAULT_STEPS = 200
STRATEGIES = ("A", "B")
"""The strategies trading the one instrument (their orders net and cross)."""
MAX_TARGET = 4

CRASH_RECORDS = (
    "broker_order.created",  # written ahead, not sent
    "broker_order.submitted",  # sent and taken, the acknowledgement not journaled
    "broker_order.transition",
    "fill",  # a fill journaled, what follows it not
    "order.stopped",  # an order stopped, its cancels not sent
    "instrument_order.created",
    "contract_order.created",
    "family.completed",
    "note",
    "algo.state",  # an algo's memory journaled, its action not taken
)
"""Journal record types a crash can be aimed at (``FaultKind.CRASH_AT``)."""

REJECT_REASONS = (
    Reason.HALTED,
    Reason.RATE_LIMITED,
    Reason.CONNECTION,
    Reason.INSUFFICIENT_MARGIN,
    Reason.PRICE_OUTSIDE_BAND,
    Reason.INVALID_ORDER,
    Reason.POSITION_LIMIT,
    Reason.UNKNOWN,
)
"""What an injected reject says; the first three are retryable, the rest final."""


class FaultKind(StrEnum):
    CRASH = "crash"  # (commits, lose): crash after that many more commits (0: now)
    CRASH_AT = "crash_at"  # (record type index, lose): crash right after that record
    DISCONNECT = "disconnect"  # (tenths of a second, lose)
    DROP = "drop"  # (count): the next reports never arrive
    DUPLICATE = "duplicate"  # (count)
    REORDER = "reorder"  # (count)
    LATENCY = "latency"  # (ack ms, fill ms, steps): late acts and late reports
    FILL_AFTER_CANCEL = "fill_after_cancel"  # (lots, 0 = all): next cancel, then a fill
    THIN_BOOK = "thin_book"  # (steps): one lot at the touch, so orders fill in parts
    REJECT = "reject"  # (reason index): the next order reaching the exchange is rejected
    HALT = "halt"  # (tenths of a second): an exchange halt
    PRICE_LIMIT = "price_limit"  # (direction, steps): locked at the band's edge
    MARGIN_CALL = "margin_call"  # (steps): cash drops until margin is over the high mark
    TARGET = "target"  # (strategy index, lots)
    KILL = "kill"  # an operator's kill request (another process)
    OPERATOR_HALT = "operator_halt"  # the account halted by an operator
    OPERATOR_RESUME = "operator_resume"  # resumed (refused while a kill is pending)


@dataclass(frozen=True, slots=True, order=True)
class Fault:
    step: int
    kind: FaultKind
    args: tuple[int, ...] = ()

    def arg(self, index: int, default: int = 0) -> int:
        return self.args[index] if index < len(self.args) else default

    @property
    def label(self) -> str:
        """The kind, with rejects split into retryable and final (for the figures)."""
        if self.kind is FaultKind.REJECT:
            reason = REJECT_REASONS[self.arg(0) % len(REJECT_REASONS)]
            return "reject_retryable" if retry_policy(reason).retryable else "reject_final"
        return str(self.kind)

    def render(self) -> str:
        k, a = self.kind, self.arg
        record = CRASH_RECORDS[a(0) % len(CRASH_RECORDS)]
        reason = REJECT_REASONS[a(0) % len(REJECT_REASONS)]
        text = {
            FaultKind.CRASH: f"crash after {a(0)} commits, reports {'lost' if a(1) else 'kept'}",
            FaultKind.CRASH_AT: f"crash right after the next {record} record, reports"
            f" {'lost' if a(1) else 'kept'}",
            FaultKind.DISCONNECT: f"disconnect for {a(0) / 10:g} s, reports"
            f" {'lost' if a(1) else 'replayed'}",
            FaultKind.DROP: f"drop the next {a(0)} reports",
            FaultKind.DUPLICATE: f"duplicate the next {a(0)} reports",
            FaultKind.REORDER: f"reorder the next {a(0)} reports",
            FaultKind.LATENCY: f"ack latency {a(0)} ms, fill latency {a(1)} ms for {a(2)} steps",
            FaultKind.FILL_AFTER_CANCEL: "the next cancel is followed by a fill of"
            + (f" {a(0)} lots" if a(0) else " all that remained"),
            FaultKind.THIN_BOOK: f"one lot at the touch for {a(0)} steps",
            FaultKind.REJECT: f"reject the next order ({reason})",
            FaultKind.HALT: f"exchange halt for {a(0) / 10:g} s",
            FaultKind.PRICE_LIMIT: f"limit {'up' if a(0) > 0 else 'down'} for {a(1)} steps",
            FaultKind.MARGIN_CALL: f"margin call for {a(0)} steps",
            FaultKind.TARGET: f"target of {STRATEGIES[a(0) % len(STRATEGIES)]} -> {a(1):+d}",
            FaultKind.KILL: "operator: kill",
            FaultKind.OPERATOR_HALT: "operator: halt the account",
            FaultKind.OPERATOR_RESUME: "operator: resume the account",
        }[k]
        return f"step {self.step:>3}: {text}"


@dataclass(frozen=True, slots=True)
class Schedule:
    seed: int
    steps: int
    faults: tuple[Fault, ...]
    algo: str = "market"

    def with_faults(self, faults: tuple[Fault, ...] | list[Fault]) -> Schedule:
        return Schedule(self.seed, self.steps, tuple(sorted(faults)), self.algo)

    @property
    def crashes(self) -> int:
        return sum(1 for f in self.faults if f.kind in (FaultKind.CRASH, FaultKind.CRASH_AT))

    def render(self) -> str:
        head = f"seed {self.seed}, {self.steps} steps, algo {self.algo}, {len(self.faults)} faults"
        return "\n".join([head, *(f"  {f.render()}" for f in self.faults)])

    def to_json(self) -> str:
        return json.dumps(
            {
                "seed": self.seed,
                "steps": self.steps,
                "algo": self.algo,
                "faults": [[f.step, str(f.kind), *f.args] for f in self.faults],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Schedule:
        """A schedule from ``to_json``'s text; ``ValueError`` naming what is wrong."""
        try:
            data = json.loads(text)
            faults = tuple(
                sorted(
                    Fault(int(row[0]), FaultKind(row[1]), tuple(int(x) for x in row[2:]))
                    for row in data["faults"]
                )
            )
            return cls(
                int(data["seed"]), int(data["steps"]), faults, str(data.get("algo", "market"))
            )
        except (KeyError, TypeError, IndexError, json.JSONDecodeError) as exc:
            raise ValueError(
                f"not a fault schedule ({exc}); expected the JSON a failure prints"
            ) from None
        except ValueError as exc:
            raise ValueError(f"not a fault schedule: {exc}") from None


# What the generator draws besides crashes and targets, with weights.
_WEIGHTS: tuple[tuple[FaultKind, int], ...] = (
    (FaultKind.DISCONNECT, 6),
    (FaultKind.DROP, 5),
    (FaultKind.DUPLICATE, 5),
    (FaultKind.REORDER, 5),
    (FaultKind.LATENCY, 6),
    (FaultKind.FILL_AFTER_CANCEL, 6),
    (FaultKind.THIN_BOOK, 4),
    (FaultKind.REJECT, 7),
    (FaultKind.HALT, 3),
    (FaultKind.PRICE_LIMIT, 3),
    (FaultKind.MARGIN_CALL, 3),
)


def _args(kind: FaultKind, rng: random.Random) -> tuple[int, ...]:  # noqa: PLR0911 - one per kind
    if kind is FaultKind.DISCONNECT:
        return (rng.randint(1, 40), rng.randint(0, 1))
    if kind in (FaultKind.DROP, FaultKind.DUPLICATE, FaultKind.REORDER):
        return (rng.randint(1, 3),)
    if kind is FaultKind.LATENCY:
        ack = rng.choice((0, 0, 200, 1000, 5000))
        fill = rng.choice((0, 300, 2000, 4000)) if ack else rng.choice((300, 2000, 4000))
        return (ack, fill, rng.randint(4, 30))
    if kind is FaultKind.FILL_AFTER_CANCEL:
        return (rng.choice((0, 0, 1)),)
    if kind is FaultKind.THIN_BOOK:
        return (rng.randint(2, 20),)
    if kind is FaultKind.REJECT:
        return (rng.randrange(len(REJECT_REASONS)),)
    if kind is FaultKind.HALT:
        return (rng.randint(5, 150),)
    if kind is FaultKind.PRICE_LIMIT:
        return (rng.choice((-1, 1)), rng.randint(3, 20))
    if kind is FaultKind.MARGIN_CALL:
        return (rng.randint(3, 20),)
    return ()


def _crash(step: int, rng: random.Random) -> Fault:
    lose = int(rng.random() < 0.5)
    if rng.random() < 0.5:
        return Fault(step, FaultKind.CRASH, (rng.choice((0, 1, 2, 3, 5, 8, 13, 21)), lose))
    return Fault(step, FaultKind.CRASH_AT, (rng.randrange(len(CRASH_RECORDS)), lose))


def generate(seed: int, steps: int = DEFAULT_STEPS) -> Schedule:
    """The schedule for ``seed``: at least one crash, targets that move all the time, and
    about one other fault every eight steps."""
    rng = random.Random(seed * 2_654_435_761 + 97)  # noqa: S311 - simulation, not secrets
    faults = [_crash(rng.randrange(steps), rng) for _ in range(rng.randint(1, 4))]
    faults.extend(
        Fault(rng.randint(0, 5), FaultKind.TARGET, (index, rng.randint(-MAX_TARGET, MAX_TARGET)))
        for index in range(len(STRATEGIES))
    )
    kinds = [k for k, _ in _WEIGHTS]
    weights = [w for _, w in _WEIGHTS]
    for step in range(steps):
        if rng.random() < 0.15:
            faults.append(
                Fault(
                    step,
                    FaultKind.TARGET,
                    (rng.randrange(len(STRATEGIES)), rng.randint(-MAX_TARGET, MAX_TARGET)),
                )
            )
        if rng.random() < 0.12:
            kind = rng.choices(kinds, weights)[0]
            faults.append(Fault(step, kind, _args(kind, rng)))
    if rng.random() < 0.35:
        at = rng.randrange(steps)
        faults.append(Fault(at, FaultKind.KILL))
        if rng.random() < 0.8:
            faults.append(Fault(min(steps - 1, at + rng.randint(1, 60)), FaultKind.OPERATOR_RESUME))
    if rng.random() < 0.25:
        at = rng.randrange(steps)
        faults.append(Fault(at, FaultKind.OPERATOR_HALT))
        faults.append(Fault(min(steps - 1, at + rng.randint(1, 40)), FaultKind.OPERATOR_RESUME))
    algo = "best" if rng.random() < 0.5 else "market"
    return Schedule(seed, steps, tuple(sorted(faults)), algo)
