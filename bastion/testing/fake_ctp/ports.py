"""The fake counter's sessions: ``CtpTraderPort`` and ``CtpMdPort`` as the adapter uses
them, answering through the adapter's real Spi with real structs.

A callback is queued as a recipe (method name, arguments with struct specs) and the
struct is built only when the callback is made, as CTP's struct lives only during its
callback. Delivery is synchronous by default (the callback runs inside the request:
deterministic, for the conformance suite); ``threaded`` sessions deliver on their own
thread, as CTP does.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bastion.testing.fake_ctp.structs import make

if TYPE_CHECKING:
    from bastion.testing.fake_ctp.counter import FakeCtpCounter as Counter

__all__ = ["Call", "FakeMdApi", "FakeTraderApi", "Struct"]


@dataclass(frozen=True, slots=True)
class Struct:
    """A struct to build at delivery: the binding class and its fields."""

    cls: type
    fields: dict[str, object]


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    args: tuple[object, ...]


class _Session:
    def __init__(self, counter: Counter, *, threaded: bool) -> None:
        self.counter = counter
        self.spi: Any = None
        self.connected = False
        self.logged_in = False
        self._threaded = threaded
        self._queue: queue.Queue[Call | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.delivered = 0

    def deliver(self, call: Call) -> None:
        if self.spi is None:
            return
        if not self._threaded:
            self._call(call)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fake-ctp", daemon=True)
            self._thread.start()
        self._queue.put(call)

    def _run(self) -> None:
        while (call := self._queue.get()) is not None:
            self._call(call)

    def _call(self, call: Call) -> None:
        args = [make(a.cls, a.fields) if isinstance(a, Struct) else a for a in call.args]
        self.delivered += 1
        getattr(self.spi, call.method)(*args)

    def close(self) -> None:
        self.connected = self.logged_in = False
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None
        self.spi = None


class FakeTraderApi(_Session):
    """One trader session at the fake counter (one per adapter ``start``)."""

    def __init__(self, counter: Counter, *, threaded: bool = False) -> None:
        super().__init__(counter, threaded=threaded)
        self.front_id = 0
        self.session_id = 0
        self.private_resume = 0
        self.fronts: list[str] = []

    def start(self, spi: Any, fronts: list[str], private_resume: int) -> None:
        self.spi, self.fronts, self.private_resume = spi, list(fronts), private_resume
        self.counter.attach(self)

    def _flow(self, code: int | None) -> int | None:
        if not self.connected:
            return -1
        return code

    def authenticate(self, field: Any, request_id: int) -> int:
        return self.counter.authenticate(self, field, request_id)

    def login(self, field: Any, request_id: int) -> int:
        return self.counter.login(self, field, request_id)

    def query_settlement_confirm(self, field: Any, request_id: int) -> int:
        return self.counter.query(self, "settlement", request_id)

    def confirm_settlement(self, field: Any, request_id: int) -> int:
        return self.counter.confirm_settlement(self, request_id)

    def insert_order(self, field: Any, request_id: int) -> int:
        return self.counter.insert_order(self, field, request_id)

    def order_action(self, field: Any, request_id: int) -> int:
        return self.counter.order_action(self, field, request_id)

    def query_account(self, field: Any, request_id: int) -> int:
        return self.counter.query(self, "account", request_id)

    def query_positions(self, field: Any, request_id: int) -> int:
        return self.counter.query(self, "positions", request_id)

    def query_orders(self, field: Any, request_id: int) -> int:
        return self.counter.query(self, "orders", request_id)

    def query_trades(self, field: Any, request_id: int) -> int:
        return self.counter.query(self, "trades", request_id)

    def query_instrument(self, field: Any, request_id: int) -> int:
        return self.counter.query(self, "instrument", request_id, str(field.InstrumentID))

    def front_limits(self) -> tuple[int, int]:
        return self.counter.query_rate, self.counter.order_rate

    def stop(self) -> None:
        self.counter.detach(self)
        self.close()


class FakeMdApi(_Session):
    """One market-data session at the fake counter."""

    def __init__(self, counter: Counter, *, threaded: bool = False) -> None:
        super().__init__(counter, threaded=threaded)
        self.subscribed: set[str] = set()

    def start(self, spi: Any, fronts: list[str]) -> None:
        self.spi = spi
        self.counter.attach_md(self)

    def login(self, field: Any, request_id: int) -> int:
        return self.counter.md_login(self, request_id)

    def subscribe(self, instruments: Sequence[str]) -> int:
        return self.counter.md_subscribe(self, list(instruments))

    def stop(self) -> None:
        self.counter.detach_md(self)
        self.close()
