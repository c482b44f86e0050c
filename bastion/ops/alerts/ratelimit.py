"""Alert storms: at most N alerts of each severity per window, the rest summarized.

A flood of info or warning alerts (a break on every instrument, a flapping feed) must
not bury the one critical alert that matters, so each severity has its own allowance.
Alerts over the allowance are held back; once a window has passed since the first one
was held, ``summary`` returns one alert that counts them by kind, names the worst
severity and lists the first summaries. Pure: time comes in as an argument.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque

from bastion.ops.alerts.model import Alert, AlertKind, Severity, make_alert

__all__ = ["RateLimiter"]

_LISTED = 10


class RateLimiter:
    def __init__(self, count: int, window: dt.timedelta) -> None:
        if count < 1 or window <= dt.timedelta(0):
            raise ValueError(f"rate limit needs a positive count and window, got {count}, {window}")
        self.count = count
        self.window = window
        self._sent: dict[Severity, deque[dt.datetime]] = {s: deque() for s in Severity}
        self._held: list[Alert] = []
        self._held_since: dt.datetime | None = None
        self.dropped = 0
        """Alerts lost before they reached the limiter (a full queue); reported too."""

    def admit(self, alert: Alert, now: dt.datetime) -> bool:
        """Whether ``alert`` may go now; if not, it is held for the summary."""
        sent = self._sent[alert.severity]
        while sent and now - sent[0] >= self.window:
            sent.popleft()
        if len(sent) < self.count:
            sent.append(now)
            return True
        self._held.append(alert)
        if self._held_since is None:
            self._held_since = now
        return False

    def note_dropped(self, count: int, now: dt.datetime) -> None:
        if count > 0:
            self.dropped += count
            if self._held_since is None:
                self._held_since = now

    @property
    def held(self) -> int:
        return len(self._held)

    def summary(self, now: dt.datetime, profile: str) -> Alert | None:
        """The summary of what was held back, once a window has passed; else ``None``."""
        since = self._held_since
        if since is None or now - since < self.window:
            return None
        held, dropped = self._held, self.dropped
        self._held, self._held_since, self.dropped = [], None, 0
        kinds = Counter(a.kind.value for a in held)
        worst = max((a.severity for a in held), key=lambda s: s.rank, default=Severity.WARNING)
        parts = [f"{n} {kind}" for kind, n in sorted(kinds.items())]
        if dropped:
            parts.append(f"{dropped} lost to a full queue")
        seconds = (now - since).total_seconds()
        lines = [f"[{a.severity}] {a.summary}" for a in held[:_LISTED]]
        if len(held) > _LISTED:
            lines.append(f"... and {len(held) - _LISTED} more (the outbox has them all)")
        return make_alert(
            AlertKind.ALERTS_SUPPRESSED,
            f"{len(held) + dropped} alerts held back in {seconds:.0f} s by the rate limit:"
            f" {', '.join(parts)}; worst {worst}",
            profile=profile,
            time=now,
            key=f"suppressed@{now:%Y%m%dT%H%M%S%f}",
            severity=max(worst, Severity.WARNING, key=lambda s: s.rank),
            detail="\n".join(lines),
        )
