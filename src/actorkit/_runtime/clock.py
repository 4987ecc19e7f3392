"""The one source of time for the runtime, so tests can control it."""

from __future__ import annotations

import asyncio
import heapq
import time
from typing import Protocol

__all__ = ["Clock", "MockClock", "SystemClock", "settle"]


class Clock(Protocol):
    """Wall-clock time for schedules and monotonic waiting for timeouts."""

    def now(self) -> float:
        """Seconds since the epoch (what schedules are stored in)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class MockClock:
    """A clock that only moves when told to, so timeouts and schedules test instantly.

    Example::

        clock = MockClock()
        async with registry.test_client(clock=clock) as client:
            await client.get_or_create(Room, "a").ping()
            await clock.advance(31)          # the idle room goes to sleep
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self._now + seconds, self._seq, future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline passes, in order.

        Runnable tasks get to run first, so timers started just before are counted.
        """
        await settle()
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
                await settle()
        self._now = target
        await settle()


async def settle(rounds: int = 50) -> None:
    """Let ready tasks run until the event loop has nothing immediate left to do."""
    for _ in range(rounds):
        await asyncio.sleep(0)
