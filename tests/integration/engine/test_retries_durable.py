"""Invariant (durable intent, R5.5): the attempts an intent used survive a restart. An
engine that comes back after a venue refused an order neither forgets the count (a loop
that spans restarts still trips the breaker) nor grants the intent a fresh set of
retries, nor cuts the backoff after the refusal short; a success clears the count, and
that is durable too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bastion.domain.reasons import Reason
from bastion.ops.paper import targets_for
from tests.integration.engine.test_duties import SP_H, _kernel, _passes

INTENT = "s:SP500:buy"


def test_retry_attempts_survive_a_restart_and_a_fill_clears_them(tmp_path: Path) -> None:
    engine, sim, clock = _kernel(tmp_path)
    engine.iterate([])
    sim.faults.reject_next(Reason.HALTED, "halted for a moment")
    wanted = targets_for("s", {"SP500": 1}, clock.now())
    _passes(engine, clock, 1, targets=wanted)
    assert engine.stack.retries.attempts(INTENT) == 1
    engine.close()  # the process ends: nothing in memory survives

    again, _sim2, clock2 = _kernel(tmp_path, start=clock.now() + dt.timedelta(seconds=1))
    assert again.stack.retries.attempts(INTENT) == 1  # read back from the store
    sent = again.stack.retries.not_before(INTENT)
    assert sent is not None  # the halt's 30 s backoff, read back too
    _passes(again, clock2, 10, targets=wanted)  # inside the backoff: nothing is sent
    assert again.oms.book.positions.contract_position(SP_H) == 0
    assert clock2.now() < sent
    _passes(again, clock2, 30, targets=wanted)  # after it, the retry fills
    assert again.oms.book.positions.contract_position(SP_H) == 1
    assert again.stack.retries.attempts(INTENT) == 0
    again.close()
    third, _, _ = _kernel(tmp_path, start=clock2.now())
    assert third.stack.retries.attempts(INTENT) == 0
    third.close()
