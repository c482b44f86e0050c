"""Invariant: the watchdog's judgement is exact and fail-closed. A heartbeat is written
atomically and at most once per interval; an unreadable one is never "fine"; one engine
holds the lock at a time and a second is refused naming the holder; ``assess`` calls an
engine dead when its lock is free but its heartbeat says running, silent once the
heartbeat is ``timeout`` old (not a microsecond before), and says nothing for an engine
that never ran or stopped on purpose."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bastion.clock import SimClock, utc
from bastion.engine.lock import EngineLock, LockProbe, lock_path, probe_lock
from bastion.errors import UserError
from bastion.ops.heartbeat import (
    Heartbeat,
    HeartbeatWriter,
    heartbeat_path,
    read_heartbeat,
)
from bastion.ops.watchdog import Verdict, assess

T0 = utc(2026, 3, 2, 14, 30)
TIMEOUT = dt.timedelta(seconds=30)
HELD = LockProbe(exists=True, held=True, holder={"pid": 1})
FREE = LockProbe(exists=True, held=False, holder={"pid": 1})
NONE = LockProbe(exists=False, held=False, holder={})


def _beat(at: dt.datetime = T0, state: str = "running", host: str = "here") -> Heartbeat:
    return Heartbeat(at, 7, 4242, host, "p", T0 - dt.timedelta(hours=1), state)


def test_heartbeat_writer_throttles_writes_and_stop_says_stopped(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    clock = SimClock(T0)
    writer = HeartbeatWriter(journal, "p", clock=clock, min_interval=3600)
    assert writer.beat(1)
    assert not writer.beat(2)  # within the interval: no write
    beat, why = read_heartbeat(heartbeat_path(journal))
    assert beat is not None, why
    assert (beat.iteration, beat.profile, beat.state) == (1, "p", "running")
    assert writer.stop(3)
    beat, _ = read_heartbeat(heartbeat_path(journal))
    assert beat is not None
    assert (beat.iteration, beat.state) == (3, "stopped")
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


@pytest.mark.parametrize("content", ["", "{", '{"time": "x"}', '{"time": "2026-03-02T14:30:00"}'])
def test_read_heartbeat_unreadable_is_none_with_reason(tmp_path: Path, content: str) -> None:
    path = tmp_path / "journal-heartbeat.json"
    path.write_text(content)
    beat, why = read_heartbeat(path)
    assert beat is None
    assert why


def test_engine_lock_second_holder_refused_and_probe_sees_it(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    assert not probe_lock(lock_path(journal)).exists
    lock = EngineLock.acquire(journal, "p", wait=0)
    probe = probe_lock(lock_path(journal))
    assert (probe.exists, probe.held, probe.holder["profile"]) == (True, True, "p")
    with pytest.raises(UserError, match="is in use by engine pid"):
        EngineLock.acquire(journal, "p", wait=0.1)
    lock.release()
    probe = probe_lock(lock_path(journal))
    assert (probe.exists, probe.held) == (True, False)
    assert json.loads(lock_path(journal).read_text())["role"] == "engine"


@pytest.mark.parametrize(
    ("beat", "lock", "at", "verdict"),
    [
        (None, NONE, T0, Verdict.NEVER_RAN),
        (_beat(state="stopped"), FREE, T0 + dt.timedelta(days=1), Verdict.STOPPED),
        (_beat(), HELD, T0 + TIMEOUT - dt.timedelta(microseconds=1), Verdict.RUNNING),
        (_beat(), HELD, T0 + TIMEOUT, Verdict.SILENT),
        (_beat(), FREE, T0 + dt.timedelta(seconds=1), Verdict.DEAD),
        (_beat(host="elsewhere"), NONE, T0 + TIMEOUT, Verdict.SILENT),
        (_beat(host="elsewhere"), NONE, T0, Verdict.RUNNING),
        (_beat(state="stopped"), HELD, T0, Verdict.RUNNING),  # a new engine is starting
    ],
)
def test_assess_verdicts(
    beat: Heartbeat | None, lock: LockProbe, at: dt.datetime, verdict: Verdict
) -> None:
    seen = assess(beat, "missing", lock, at, TIMEOUT, host="here", pid_alive=lambda _: True)
    assert seen.verdict is verdict, seen.reason


def test_assess_without_lock_file_uses_the_pid_on_this_host() -> None:
    dead = assess(_beat(), "", NONE, T0, TIMEOUT, host="here", pid_alive=lambda _: False)
    assert dead.verdict is Verdict.DEAD
    assert "pid 4242" in dead.reason


def test_assess_lock_held_without_heartbeat_silent_after_timeout() -> None:
    lock = LockProbe(exists=True, held=True, holder={"pid": 9, "since": T0.isoformat()})
    early = assess(None, "no heartbeat file", lock, T0 + dt.timedelta(seconds=5), TIMEOUT)
    assert early.verdict is Verdict.RUNNING
    late = assess(None, "no heartbeat file", lock, T0 + TIMEOUT, TIMEOUT)
    assert late.verdict is Verdict.SILENT
