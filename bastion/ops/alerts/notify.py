"""Delivery that cannot hurt trading: a bounded queue, one worker thread, retries.

``Notifier.send(alert)`` is what the engine calls. It never blocks and never raises: it
filters by severity, puts the alert on a bounded queue and returns; a full queue drops
the alert and counts it (the next rate-limit summary says so). The worker thread, and
only it, does the slow parts:

1. takes each alert into the outbox (redacted title and body; a key already taken is
   skipped, so a replayed journal never alerts twice);
2. passes it through the rate limiter; held-back alerts are kept as ``suppressed`` and
   a summary alert follows once the window has passed;
3. delivers it to each target whose threshold it meets, through a ``Transport``
   (``AppriseTransport``: one apprise object per target, so a retry never repeats a
   delivery that went through elsewhere);
4. retries failed deliveries with exponential backoff (``retry_initial_seconds``
   doubling to ``retry_max_seconds``, ``retry_attempts`` in all), journaled in the
   outbox with the last error; it also adopts pending deliveries of processes that died.

Secrets: every title, body and error text passes the profile's ``Redactor`` (which
also knows the alert URLs, since they carry tokens) before it is written or sent.

``pump(now)`` is one pass of the worker; tests drive it with their own clock instead of
starting the thread (``start=False``).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from bastion.clock import Clock, WallClock
from bastion.config import AlertsConfig, Profile
from bastion.ops.alerts.model import ALWAYS_DELIVERED, Alert, Severity, render
from bastion.ops.alerts.outbox import Outbox, outbox_path
from bastion.ops.alerts.ratelimit import RateLimiter
from bastion.secrets import Redactor, resolve_secret

__all__ = [
    "AppriseTransport",
    "Notifier",
    "Transport",
    "TransportTarget",
    "open_notifier",
    "targets_of",
]

log = logging.getLogger(__name__)

_ADOPT_EVERY = dt.timedelta(seconds=60)


class Transport(Protocol):
    def deliver(self, target: str, title: str, body: str, severity: Severity) -> str | None:
        """Deliver to one named target; ``None`` when it went through, else why not."""
        ...


@dataclass(frozen=True, slots=True)
class TransportTarget:
    name: str
    url: str
    """The resolved apprise URL. Secret: never logged, never written."""
    min_severity: Severity


class AppriseTransport:
    """Targets through apprise (Telegram, email, Slack, webhooks, ...)."""

    def __init__(self, targets: list[TransportTarget]) -> None:
        import apprise

        self._apprise: dict[str, apprise.Apprise] = {}
        self._types = {
            Severity.INFO: apprise.NotifyType.INFO,
            Severity.WARNING: apprise.NotifyType.WARNING,
            Severity.CRITICAL: apprise.NotifyType.FAILURE,
        }
        for target in targets:
            obj = apprise.Apprise()
            if not obj.add(target.url):
                # The URL is a secret: name the target, never the URL.
                from bastion.errors import ConfigError

                raise ConfigError(
                    f"alerts target {target.name}: apprise cannot read its URL; expected an"
                    " apprise URL such as tgram://TOKEN/CHAT or json://host:port/path"
                )
            self._apprise[target.name] = obj

    def deliver(self, target: str, title: str, body: str, severity: Severity) -> str | None:
        obj = self._apprise.get(target)
        if obj is None:
            return f"no target named {target} in this process"
        try:
            ok = bool(obj.notify(body=body, title=title, notify_type=self._types[severity]))
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is a failed delivery
            return f"{type(exc).__name__}: {exc}"
        return None if ok else "the target refused the message or could not be reached"


def targets_of(
    settings: AlertsConfig, environ: Mapping[str, str] | None = None
) -> list[TransportTarget]:
    """The profile's targets with their URLs resolved from the environment (a one-line
    ``ConfigError`` naming the variable when one is not set)."""
    out = []
    for target in settings.targets:
        if target.url_env is not None:
            url = resolve_secret(target.url_env, environ).reveal()
        else:
            url = target.url or ""
        threshold = Severity(target.min_severity or settings.min_severity)
        out.append(TransportTarget(target.name, url, threshold))
    return out


@dataclass(frozen=True, slots=True)
class ReadUpTo:
    """A marker in the alert queue: the journal was mapped up to ``seq``."""

    seq: int


class Notifier:
    """The alert sink the engine holds. ``send`` never blocks and never raises."""

    def __init__(
        self,
        profile: str,
        settings: AlertsConfig,
        *,
        targets: list[TransportTarget],
        transport: Transport,
        outbox: Outbox,
        redactor: Redactor,
        clock: Clock | None = None,
        start: bool = True,
    ) -> None:
        self.profile = profile
        self.settings = settings
        self.targets = {t.name: t for t in targets}
        self.transport = transport
        self.outbox = outbox
        self._redact = _with_urls(redactor, targets)
        self.clock: Clock = clock if clock is not None else WallClock()
        self.limiter = RateLimiter(
            settings.rate_limit_count, dt.timedelta(seconds=settings.rate_limit_window_seconds)
        )
        self._floor = min((t.min_severity for t in targets), key=lambda s: s.rank, default=None)
        self._queue: queue.Queue[Alert | ReadUpTo] = queue.Queue(maxsize=settings.queue_size)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._dropped = 0
        self._unfinished = 0
        self._busy = False
        self._stop = threading.Event()
        self._last_adopt: dt.datetime | None = None
        self.errors = 0
        """Worker passes that failed (logged); the worker lives on."""
        self._thread: threading.Thread | None = None
        if start and targets:
            self._thread = threading.Thread(target=self._run, name="bastion-alerts", daemon=True)
            self._thread.start()

    # -- the engine's side ---------------------------------------------------------------
    def wants(self, alert: Alert) -> bool:
        """Whether any target takes ``alert`` (its severity, or an always-sent kind)."""
        if self._floor is None:
            return False
        return alert.kind in ALWAYS_DELIVERED or alert.severity.at_least(self._floor)

    def send(self, alert: Alert) -> None:
        try:
            if not self.wants(alert):
                return
            with self._lock:
                self._unfinished += 1
            self._queue.put_nowait(alert)
        except queue.Full:
            with self._lock:
                self._dropped += 1
                self._unfinished -= 1
            log.warning("alert queue full: dropped a %s alert", alert.kind)
        except Exception:
            log.exception("alert could not be queued")

    def mark_read(self, seq: int) -> None:
        """The feed has mapped the journal up to ``seq``. Queued behind the alerts sent
        before it, so the outbox records it only once they are all taken: a restart
        resumes after it and loses nothing (``bastion.ops.monitor``). Never blocks."""
        try:
            with self._lock:
                self._unfinished += 1
            self._queue.put_nowait(ReadUpTo(seq))
        except queue.Full:
            with self._lock:
                self._unfinished -= 1  # the next mark covers this one

    # -- the worker's side -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self._idle_seconds()
                try:
                    first: Alert | ReadUpTo | None = self._queue.get(timeout=wait)
                except queue.Empty:
                    first = None
                self.pump(first=first)
            except Exception:
                self.errors += 1
                log.exception("alert worker pass failed")
                time.sleep(1.0)

    def _idle_seconds(self) -> float:
        nxt = self.outbox.next_due()
        wait = 1.0
        if nxt is not None:
            wait = min(wait, max(0.0, (nxt - self.clock.now()).total_seconds()))
        return max(wait, 0.01)

    def pump(self, now: dt.datetime | None = None, *, first: Alert | ReadUpTo | None = None) -> int:
        """One worker pass: take queued alerts, deliver what is due, emit a due summary.
        Returns how many delivery attempts it made."""
        with self._lock:
            self._busy = True
        try:
            current = now if now is not None else self.clock.now()
            taken = [first] if first is not None else []
            while True:
                try:
                    taken.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            with self._lock:
                dropped, self._dropped = self._dropped, 0
            self.limiter.note_dropped(dropped, current)
            for alert in taken:
                try:
                    if isinstance(alert, ReadUpTo):
                        self.outbox.read_up_to(alert.seq)
                    else:
                        self._take(alert, current, limited=True)
                finally:
                    with self._lock:
                        self._unfinished -= 1
            summary = self.limiter.summary(current, self.profile)
            if summary is not None:
                self._take(summary, current, limited=False)
            if self._last_adopt is None or current - self._last_adopt >= _ADOPT_EVERY:
                self._last_adopt = current
                self.outbox.adopt_orphans()
            return self._deliver_due(current)
        finally:
            with self._lock:
                self._busy = False
                self._changed.notify_all()

    def _take(self, alert: Alert, now: dt.datetime, *, limited: bool) -> None:
        title, body = render(alert)
        title, body = self._redact(title), self._redact(body)
        admitted = not limited or alert.kind in ALWAYS_DELIVERED or self.limiter.admit(alert, now)
        always = alert.kind in ALWAYS_DELIVERED
        targets = (
            [
                n
                for n, t in self.targets.items()
                if always or alert.severity.at_least(t.min_severity)
            ]
            if admitted
            else []
        )
        self.outbox.add(
            alert,
            title,
            body,
            targets,
            status="queued" if admitted else "suppressed",
            now=now,
        )

    def _deliver_due(self, now: dt.datetime) -> int:
        attempts = 0
        for item in self.outbox.due(now):
            attempts += 1
            try:
                error = self.transport.deliver(
                    item.target, item.title, item.body, Severity(item.severity)
                )
            except Exception as exc:  # noqa: BLE001 - a transport bug is a failed delivery
                error = f"{type(exc).__name__}: {exc}"
            if error is None:
                self.outbox.sent(item.key, item.target, self.clock.now())
                continue
            error = self._redact(error)
            tried = item.attempts + 1
            retry_at = None
            if tried < self.settings.retry_attempts:
                delay = min(
                    self.settings.retry_max_seconds,
                    self.settings.retry_initial_seconds * 2 ** (tried - 1),
                )
                retry_at = now + dt.timedelta(seconds=delay)
            self.outbox.failed(item.key, item.target, error, retry_at)
            log.warning(
                "alert delivery to %s failed (attempt %d): %s%s",
                item.target,
                tried,
                error,
                "" if retry_at else "; giving up",
            )
        return attempts

    # -- shutting down -------------------------------------------------------------------------
    def flush(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until everything queued was taken and tried once
        and nothing is due now; ``True`` if so. Retries due later are not waited for."""
        if self._thread is None:
            self.pump()
            return True
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                nxt = self.outbox.next_due()
                idle = (
                    self._unfinished == 0
                    and not self._busy
                    and (nxt is None or nxt > self.clock.now())
                )
                left = deadline - time.monotonic()
                if idle or left <= 0:
                    return idle
                self._changed.wait(min(left, 0.5))

    def close(self, timeout: float = 5.0) -> None:
        """Flush (bounded), stop the worker and close the outbox. Pending retries stay in
        the outbox for the next notifier to adopt."""
        self.flush(timeout)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(timeout, 1.0) + 2.0)
        self.outbox.close()


def _with_urls(redactor: Redactor, targets: list[TransportTarget]) -> Callable[[str], str]:
    """The profile's redactor, plus the resolved alert URLs (they carry tokens)."""
    urls = Redactor(secrets=[t.url for t in targets if t.url])

    def both(text: str) -> str:
        return redactor(urls(text))

    return both


def open_notifier(
    profile: Profile,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
    environ: Mapping[str, str] | None = None,
    start: bool = True,
) -> Notifier:
    """The profile's notifier: targets resolved from the environment, the outbox beside
    the journal. A profile without targets gets a notifier that sends nothing."""
    from bastion.ops.records import redactor_for

    settings = profile.alerts
    targets = targets_of(settings, environ)
    chosen: Transport = transport if transport is not None else AppriseTransport(targets)
    outbox = Outbox(outbox_path(profile.store.path))
    return Notifier(
        profile.name,
        settings,
        targets=targets,
        transport=chosen,
        outbox=outbox,
        redactor=redactor_for(profile, environ),
        clock=clock,
        start=start,
    )
