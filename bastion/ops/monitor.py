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
blocks or raises, and a failure inside a listener is logged and swallowed.
"""

from __future__ import annotations

import logging

from bastion.config import Profile
from bastion.engine.engine import Engine, Heartbeat
from bastion.ops.alerts.mapping import AlertFeed
from bastion.ops.alerts.notify import Notifier, open_notifier
from bastion.ops.heartbeat import HeartbeatWriter

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
    ) -> None:
        self.engine = engine
        self.notifier = notifier if notifier is not None else open_notifier(profile)
        self._own_notifier = notifier is None
        self.heartbeat = HeartbeatWriter(
            profile.store.path, profile.name, min_interval=heartbeat_interval
        )
        settings = profile.alerts
        self.feed = AlertFeed(
            profile.name,
            self.notifier,
            after_seq=engine.store.last_seq,
            disconnect_seconds=settings.disconnect_seconds,
            clock_skew_seconds=settings.clock_skew_seconds,
        )
        self._close_timeout = close_timeout
        self.failures = 0

    def after_pass(self, beat: Heartbeat) -> None:
        try:
            self.heartbeat.beat(beat.iterations)
            self.feed.catch_up(self.engine.store)
            self.feed.tick(self.engine.clock.now())
        except Exception:
            self.failures += 1
            log.exception("engine monitor failed after pass %d", beat.iterations)

    def close(self) -> None:
        try:
            self.feed.catch_up(self.engine.store)
            self.heartbeat.stop(self.engine.heartbeat.iterations)
        except Exception:
            self.failures += 1
            log.exception("engine monitor failed while closing")
        finally:
            if self._own_notifier:
                self.notifier.close(timeout=self._close_timeout)
            else:
                self.notifier.flush(self._close_timeout)


def attach_monitor(
    engine: Engine, profile: Profile, *, notifier: Notifier | None = None
) -> Monitor:
    """Heartbeat and alerts for ``engine`` from now on (see the module docstring)."""
    monitor = Monitor(engine, profile, notifier=notifier)
    engine.pass_listeners.append(monitor.after_pass)
    engine.close_listeners.append(monitor.close)
    return monitor
