"""A short, seeded fuzz run against the paper venue: no crash, no hang, no traceback,
and the venue restarts from its input log into exactly the state it had.

Invariants: the fuzzer logs on properly and its mutated NewOrderSingle, cancel, replace
and session messages reach the application layer (orders are acknowledged, filled and
rejected; business and session rejects come back); every TestRequest after a batch is
answered; the venue logs no error and no traceback and never drops a client for an
internal error; hijack and intruder connections along the way are refused; the digest
of the state when the venue stopped equals the digest of a replay of its state file;
the stream of planned messages depends only on the seed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.testing.fix_fuzzer import run_fuzz
from bastion.testing.fix_mutator import FixMutator
from bastion.testing.paper_server import PaperServerThread
from bastion.venues.paper.server import ServerConfig, replayed_digest

SEED = 20260302


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[_Errors]:
    handler = _Errors()
    logger = logging.getLogger("bastion")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_fuzz_short_run_no_crash_no_hang_and_replay_rebuilds_the_state(
    tmp_path: Path, errors: _Errors
) -> None:
    venue = PaperServerThread(ServerConfig(state_path=tmp_path / "venue.db", tick_seconds=0.05))
    try:
        figures = run_fuzz(venue.port, seed=SEED, messages=3000, hang_timeout=30, side_every=500)
        assert venue.alive
        internal_errors = venue.server.internal_errors
    finally:
        live = venue.stop()
    assert figures.messages == 3000
    assert figures.hangs == 0, figures.unexpected
    assert figures.unexpected == []
    assert internal_errors == 0
    assert [r.getMessage() for r in errors.records] == []
    answers = figures.answers
    assert answers["execution_report"] > 0
    assert answers["order_rejected"] > 0
    assert answers["business_reject"] > 0
    assert sum(n for k, n in answers.items() if k.startswith("session_reject")) > 0
    assert all(kind.endswith(":refused") for kind in figures.side)
    assert sum(figures.side.values()) == 6
    inputs, replayed = replayed_digest(tmp_path / "venue.db")
    assert inputs > 0
    assert replayed == live


def test_fuzz_message_stream_depends_only_on_the_seed() -> None:
    first, second, other = FixMutator(SEED), FixMutator(SEED), FixMutator(SEED + 1)
    a = [first.next_message() for _ in range(2000)]
    b = [second.next_message() for _ in range(2000)]
    c = [other.next_message() for _ in range(2000)]
    assert a == b
    assert a != c
