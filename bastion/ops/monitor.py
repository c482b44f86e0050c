"""The engine's outward signs of life, attached to any engine the kernel built.

``attach_monitor(engine, profile)`` makes the engine, at the end of every pass of its
loop (``Engine.pass_listeners``):

- write its heartbeat file beside the journal (time, iteration count, pid, host; at
  most once a second), which the watchdog (``bastion watchdog``) and process control
  read (R9.1);
- turn the journal records written since the last pass into alerts (``AlertFeed``) and
  hand them to the profile's notifier, whose worker thread delivers them; a disconnect
  that lasts past ``alerts.disconnect_seconds`` alerts from the pass's clock (R9.5).

On ``Engine.close`` it maps the last records, writes a final heartbeat saying the
engine stopped on purpose (so the watchdog stays quiet) and flushes the notifier for a
bounded time (what is not delivered stays in the outbox for the next run).

The same call serves every mode that runs an engine for an operator: a sim session, a
session against a venue process, and the one-shot commands that build their own engine
(``bastion kill`` and ``flatten --immediate`` when no engine runs, smoke orders,
``bastion recover``). A backtest is research and alerts nobody.

Nothing here can stop trading: a failed heartbeat write is counted, the notifier never
blocks or raises, and a failure inside a listener is logged in one line and swallowed;
only a journal that refuses a write (reading a batched journal commits its batch) is
the engine's error, raised as it would have been at the engine's own next write.
"""

from __future__ import annotations

import logging
import time

from bastion.config import Profile
from bastion.engine.engine import Engine, Heartbeat
from bastion.errors import JournalError
from bastion.ops.alerts.mapping import AlertFeed
from bastion.ops.alerts.notify import Notifier, open_notifier
from bastion.ops.heartbeat import HeartbeatWriter
from bastion.store import StoreMode

__all__ = ["Monitor", "attach_monitor"]

log = logging.getLogger(__name__)


class Monitor:
    """The heartbeat writer and the alert feed of one engine."""

    def __init__(
        self,
        engine: Engine,
        profile: Profile,
        *,
        notifier: Notifier | None = None,
        heartbeat_interval: float = 1.0,
        close_timeout: float = 5.0,
        after_seq: int | None = None,
    ) -> None:
        self.engine = engine
        self.notifier = notifier if notifier is not None else open_notifier(profile)
        self._own_notifier = notifier is None
        self.heartbeat = HeartbeatWriter(
            profile.store.path, profile.name, min_interval=heartbeat_interval
        )
        settings = profile.alerts
        if after_seq is None:
            # From the last entry whose alerts the outbox took (a crash between a record
            # and the pass that would have alerted it loses nothing), unless that belongs
            # to another journal (a rotated one): then from now.
            last = engine.store.last_seq
            taken = self.notifier.outbox.journal_seq()
            after_seq = taken if taken is not None and taken <= last else last
        self.feed = AlertFeed(
            profile.name,
            self.notifier,
            after_seq=after_seq,
            disconnect_seconds=settings.disconnect_seconds,
            clock_skew_seconds=settings.clock_skew_seconds,
        )
        self._close_timeout = close_timeout
        self._marked = after_seq
        # A batched journal (a sim session) commits in batches; reading it commits the
        # batch, so its records are read at most once a second of wall time, not every
        # pass. A live journal commits every record and is read every pass.
        batched = getattr(engine.store, "mode", None) is StoreMode.BACKTEST
        self._every = 1.0 if batched else 0.0
        self._next_read = 0.0
        self.failures = 0

    def after_pass(self, beat: Heartbeat) -> None:
        try:
            self.heartbeat.beat(beat.iterations)
            now = time.monotonic()
            if now >= self._next_read:
                self._next_read = now + self._every
                self.feed.catch_up(self.engine.store)
                if self.feed.seq != self._marked:
                    self._marked = self.feed.seq
                    self.notifier.mark_read(self._marked)
            self.feed.tick(self.engine.clock.now())
        except JournalError:
            raise  # the journal refused a write (reading commits a batch): the engine stops
        except Exception as exc:  # noqa: BLE001 - monitoring must never stop the loop
            self._failed(f"after pass {beat.iterations}", exc)

    def _failed(self, when: str, exc: Exception) -> None:
        # One line each, the first few only.
        self.failures += 1
        if self.failures <= 3:
            log.warning("engine monitor failed %s: %s", when, exc)

    def close(self) -> None:
        try:
            self.feed.catch_up(self.engine.store)
            self.notifier.mark_read(self.feed.seq)
            self.heartbeat.stop(self.engine.heartbeat.iterations)
        except JournalError:
            pass  # the engine is closing on this very error, and reports it
        except Exception as exc:  # noqa: BLE001 - closing must still close the store
            self._failed("while closing", exc)
        finally:
            if self._own_notifier:
                self.notifier.close(timeout=self._close_timeout)
            else:
                self.notifier.flush(self._close_timeout)


def attach_monitor(
    engine: Engine,
    profile: Profile,
    *,
    notifier: Notifier | None = None,
    after_seq: int | None = None,
) -> Monitor:
    """Heartbeat and alerts for ``engine`` from now on, or from the journal entries after
    ``after_seq`` (see the module docstring)."""
    monitor = Monitor(engine, profile, notifier=notifier, after_seq=after_seq)
    engine.pass_listeners.append(monitor.after_pass)
    engine.close_listeners.append(monitor.close)
    return monitor
