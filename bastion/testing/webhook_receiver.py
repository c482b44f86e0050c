"""A webhook receiver on loopback that records what arrives (the alert tests' far end).

``WebhookReceiver()`` listens on 127.0.0.1 on a port the OS picks, in a thread, and
keeps every request it gets: path, headers and body (parsed as JSON for apprise's
``json://`` targets, as a form for ``form://``). ``url("json")`` is the apprise URL that
posts to it. ``wait_for(predicate, timeout)`` blocks until a recorded request matches,
woken by each arrival (a condition variable, never a polling sleep); the timeout is a
safety net, not the signal. ``fail_next(n)`` answers the next ``n`` requests with HTTP
500, to exercise retries. Only loopback: it never listens on another address.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["Received", "WebhookReceiver"]


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    status: int
    """What the receiver answered (500 while ``fail_next`` was in force)."""
    fields: dict[str, Any] = field(default_factory=dict)
    """The body as JSON (``json://``) or as a form (``form://``); empty if neither."""

    @property
    def title(self) -> str:
        return str(self.fields.get("title", ""))

    @property
    def message(self) -> str:
        return str(self.fields.get("message", ""))

    @property
    def text(self) -> str:
        """Title and message together, for searching."""
        return f"{self.title}\n{self.message}"

    def line(self, name: str) -> str | None:
        """The value of a ``name: value`` line of the message (alerts render these)."""
        prefix = f"{name}: "
        for row in self.message.splitlines():
            if row.startswith(prefix):
                return row[len(prefix) :]
        return None


def _parse(raw: bytes, content_type: str) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    if "form" in content_type:
        return {k: v[-1] for k, v in urllib.parse.parse_qs(text).items()}
    return {}


class WebhookReceiver:
    def __init__(self, port: int = 0) -> None:
        """``port``: 0 lets the OS pick one (the usual); a given port serves a target
        that was down before (a delivery the outbox kept for a retry)."""
        self._lock = threading.Condition()
        self._received: list[Received] = []
        self._failures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with receiver._lock:
                    status = 500 if receiver._failures > 0 else 200
                    receiver._failures = max(0, receiver._failures - 1)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                item = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    raw,
                    status,
                    _parse(raw, self.headers.get("Content-Type", "")),
                )
                with receiver._lock:
                    receiver._received.append(item)
                    receiver._lock.notify_all()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )
        self._thread.start()

    def url(self, scheme: str = "json", path: str = "/alerts") -> str:
        """The apprise URL that posts here (``json``, ``form`` or ``xml``)."""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def accepted(self) -> list[Received]:
        """Requests answered 200 (the ones a person would have seen)."""
        return [r for r in self.received if r.status == 200]

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 30.0
    ) -> list[Received]:
        """Block until ``predicate(accepted requests)`` holds; the accepted requests.
        Raises ``TimeoutError`` (with what did arrive) if it never does."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                accepted = [r for r in self._received if r.status == 200]
                if predicate(accepted):
                    return accepted
                left = deadline - time.monotonic()
                if left <= 0:
                    titles = [r.title for r in self._received]
                    raise TimeoutError(f"no matching webhook within {timeout} s; got {titles}")
                self._lock.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
