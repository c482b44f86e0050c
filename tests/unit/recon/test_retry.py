"""Retries follow each reason's policy and a loop trips the breaker (R5.5).

Invariants: a non-retryable reason is never retried; a retryable one backs off
exponentially up to its attempt limit; the same intent failing again and again trips
the breaker; the same state restored and failing again is reported as a restart loop.
"""

from __future__ import annotations

import datetime as dt

from bastion.domain.ids import InstrumentId
from bastion.domain.reasons import Reason
from bastion.oms.retry import RestartCounter, RetryTracker, Verdict

ES = InstrumentId("ES")
T0 = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)


class _State:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get_state(self, key: str) -> str | None:
        return self.data.get(key)

    def set_state(self, key: str, value: str) -> None:
        self.data[key] = value


def test_retry_non_retryable_reason_is_never_retried() -> None:
    tracker = RetryTracker()
    decision = tracker.on_failure("C1", ES, Reason.INSUFFICIENT_MARGIN, T0)
    assert decision.verdict is Verdict.GIVE_UP
    assert tracker.retries == 0


def test_retry_retryable_reason_backs_off_then_gives_up() -> None:
    tracker = RetryTracker(loop_threshold=100)
    delays = []
    for _ in range(5):
        decision = tracker.on_failure("C1", ES, Reason.RATE_LIMITED, T0)
        assert decision.verdict is Verdict.RETRY
        assert decision.not_before is not None
        delays.append((decision.not_before - T0).total_seconds())
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert tracker.on_failure("C1", ES, Reason.RATE_LIMITED, T0).verdict is Verdict.GIVE_UP


def test_retry_same_intent_failing_in_a_loop_trips_the_breaker() -> None:
    tracker = RetryTracker(loop_threshold=3)
    tracker.on_failure("C1", ES, Reason.CONNECTION, T0)
    tracker.on_failure("C1", ES, Reason.CONNECTION, T0)
    decision = tracker.on_failure("C1", ES, Reason.CONNECTION, T0)
    assert decision.verdict is Verdict.TRIP
    assert tracker.trips == [(ES, decision.message)]
    tracker.on_success("C1")
    assert tracker.attempts("C1") == 0


def test_restart_counter_same_state_restored_is_a_loop() -> None:
    state = _State()
    counter = RestartCounter(state, limit=2)
    assert not counter.note_start(10).loop
    assert not counter.note_start(10).loop
    verdict = counter.note_start(10)
    assert verdict.loop
    assert verdict.restarts == 2
    assert not counter.note_start(11).loop


def test_retry_backoff_survives_a_restart_and_old_state_still_loads() -> None:
    state = _State()
    tracker = RetryTracker(loop_threshold=100, state=state)
    decision = tracker.on_failure("C1", ES, Reason.HALTED, T0)
    assert decision.verdict is Verdict.RETRY
    restarted = RetryTracker(loop_threshold=100, state=state)
    assert restarted.not_before("C1") == decision.not_before
    assert restarted.attempts("C1") == 1
    state.data["oms.retries"] = '{"C2": [2, ["halted", "halted"]]}'  # as stored before
    older = RetryTracker(loop_threshold=100, state=state)
    assert older.attempts("C2") == 2
    assert older.not_before("C2") is None
