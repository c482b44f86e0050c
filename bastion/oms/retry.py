"""Retries and the loop breaker (R5.5).

Every venue refusal arrives as a ``Reason`` (adapters map their codes once, in their
``errors`` module). ``RetryTracker.on_failure`` applies the reason's policy
(``bastion.domain.reasons.retry_policy``):

- a non-retryable reason is never retried;
- a retryable one is retried after ``backoff * 2**(attempt-1)`` seconds, at most
  ``max_attempts`` times;
- one intent failing ``loop_threshold`` times in a row, whatever the reasons, is a
  loop: the breaker trips for its instrument (``Verdict.TRIP``), and the caller halts
  that instrument (``LockBook.lock(..., LockSource.BREAKER, ...)``) and alerts.

``RestartCounter`` counts process restarts in the store's state. If the engine comes
back ``limit`` times in a row to the same journal position (the same state restored,
failing again before it could record anything new), it reports a restart loop so the
runner stops and alerts instead of spinning.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bastion.domain.ids import InstrumentId
from bastion.domain.reasons import Reason, retry_policy

__all__ = ["RestartCounter", "RetryDecision", "RetryTracker", "Verdict"]


class Verdict(StrEnum):
    RETRY = "retry"
    GIVE_UP = "give_up"  # not retryable, or attempts used up
    TRIP = "trip"  # a loop: halt the instrument and alert


@dataclass(frozen=True, slots=True)
class RetryDecision:
    verdict: Verdict
    attempt: int
    not_before: dt.datetime | None = None
    message: str = ""


@dataclass(slots=True)
class _Intent:
    attempts: int = 0
    reasons: list[Reason] = field(default_factory=list)
    not_before: dt.datetime | None = None
    """After a retryable failure: no new attempt before this time (its backoff)."""


class StateStore(Protocol):
    def get_state(self, key: str) -> str | None: ...

    def set_state(self, key: str, value: str) -> None: ...


_RETRIES = "oms.retries"


class RetryTracker:
    """Attempts per intent and the backoff after the last one. With a ``state`` store
    they are persisted on every change (a failure, or a success that clears a count)
    and read back on start, so a restart neither forgets a loop, nor grants a fresh set
    of retries, nor cuts a backoff short (R5.5, durable intent)."""

    def __init__(self, *, loop_threshold: int = 5, state: StateStore | None = None) -> None:
        self.loop_threshold = loop_threshold
        self._intents: dict[str, _Intent] = {}
        self.retries = 0
        self.trips: list[tuple[InstrumentId, str]] = []
        self._state = state
        raw = state.get_state(_RETRIES) if state is not None else None
        for intent, saved in (json.loads(raw) if raw else {}).items():
            attempts, reasons = saved[0], saved[1]
            until = saved[2] if len(saved) > 2 else None
            self._intents[intent] = _Intent(
                int(attempts),
                [Reason(r) for r in reasons],
                dt.datetime.fromisoformat(until) if until else None,
            )

    def _save(self) -> None:
        if self._state is not None:
            data = {
                k: [
                    v.attempts,
                    [str(r) for r in v.reasons],
                    v.not_before.isoformat() if v.not_before else None,
                ]
                for k, v in self._intents.items()
            }
            self._state.set_state(_RETRIES, json.dumps(data, sort_keys=True))

    def on_failure(
        self, intent: str, instrument_id: InstrumentId, reason: Reason, now: dt.datetime
    ) -> RetryDecision:
        state = self._intents.setdefault(intent, _Intent())
        state.attempts += 1
        state.reasons.append(reason)
        policy = retry_policy(reason)
        delay = policy.backoff_seconds * 2 ** (state.attempts - 1)
        state.not_before = now + dt.timedelta(seconds=delay) if policy.retryable else None
        self._save()
        if state.attempts >= self.loop_threshold:
            why = f"{intent} failed {state.attempts} times ({', '.join(state.reasons)})"
            self.trips.append((instrument_id, why))
            return RetryDecision(Verdict.TRIP, state.attempts, message=why)
        if not policy.retryable:
            return RetryDecision(
                Verdict.GIVE_UP, state.attempts, message=f"{reason}: {policy.description}"
            )
        if state.attempts > policy.max_attempts:
            return RetryDecision(
                Verdict.GIVE_UP,
                state.attempts,
                message=f"{reason}: {policy.max_attempts} retries used",
            )
        self.retries += 1
        return RetryDecision(Verdict.RETRY, state.attempts, state.not_before, f"{reason}")

    def on_success(self, intent: str) -> None:
        if self._intents.pop(intent, None) is not None:
            self._save()

    def not_before(self, intent: str) -> dt.datetime | None:
        """The end of the intent's backoff, if it is in one (survives a restart)."""
        found = self._intents.get(intent)
        return None if found is None else found.not_before

    def attempts(self, intent: str) -> int:
        found = self._intents.get(intent)
        return 0 if found is None else found.attempts


_RESTARTS = "oms.restarts"


@dataclass(frozen=True, slots=True)
class RestartVerdict:
    restarts: int
    same_state_in_a_row: int
    loop: bool


class RestartCounter:
    def __init__(self, state: StateStore, *, limit: int = 3) -> None:
        self._state = state
        self.limit = limit

    def note_start(self, journal_seq: int) -> RestartVerdict:
        raw = self._state.get_state(_RESTARTS)
        data = json.loads(raw) if raw else {"restarts": -1, "seq": -1, "same": 0}
        same = data["same"] + 1 if data["seq"] == journal_seq else 0
        restarts = data["restarts"] + 1
        self._state.set_state(
            _RESTARTS, json.dumps({"restarts": restarts, "seq": journal_seq, "same": same})
        )
        return RestartVerdict(restarts, same, same >= self.limit)
