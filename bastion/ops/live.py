"""The asyncio live runner: the same core objects as a backtest, on a wall clock.

The deterministic core (``Engine``, ``StackHandler``, ``OrderManager``) is synchronous
and single-threaded. This runner owns the event loop around it: bars (or, later,
quotes from a broker feed) arrive from an async source; between them a poll task
drains venue events every ``poll_interval`` so acknowledgements and fills that arrive
on their own schedule (latency) are applied promptly. Nothing else touches the core,
so no lock is needed: every core call runs on the loop's thread, one at a time.

For now the venue is the in-process sim venue driven in real time, or faster with a
``ReplayClock`` that maps wall time onto the bars' own timestamps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterable

from bastion.backtest.runner import BarRunner, InstrumentBar

__all__ = ["LiveRunner", "ReplayClock", "replay"]


class ReplayClock:
    """Wall time mapped onto market time: ``start`` plus elapsed wall time x ``speed``."""

    def __init__(self, start: dt.datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("ReplayClock needs a timezone-aware start")
        if speed <= 0:
            raise ValueError(f"replay speed must be positive, got {speed}")
        self._start = start
        self._speed = speed
        self._origin = time.monotonic()

    def now(self) -> dt.datetime:
        elapsed = (time.monotonic() - self._origin) * self._speed
        return self._start + dt.timedelta(seconds=elapsed)

    def wall_seconds_until(self, when: dt.datetime) -> float:
        return max(0.0, (when - self.now()).total_seconds() / self._speed)


async def replay(bars: Iterable[InstrumentBar], clock: ReplayClock) -> AsyncIterator[InstrumentBar]:
    """Yield each bar when the replay clock reaches its end time."""
    for item in bars:
        wait = clock.wall_seconds_until(item.bar.end)
        if wait > 0:
            await asyncio.sleep(wait)
        yield item


class LiveRunner:
    def __init__(self, engine: BarRunner, *, poll_interval: float = 0.05) -> None:
        self.engine = engine
        self.poll_interval = poll_interval
        self.polls = 0

    async def _poll(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.engine.stack.drain()
            self.polls += 1
            try:
                await asyncio.wait_for(stop.wait(), self.poll_interval)
            except TimeoutError:
                continue

    async def run(self, source: AsyncIterator[InstrumentBar]) -> None:
        stop = asyncio.Event()
        poller = asyncio.create_task(self._poll(stop))
        try:
            async for item in source:
                self.engine.on_bar(item)
        finally:
            stop.set()
            await poller
            self.engine.stack.drain()
