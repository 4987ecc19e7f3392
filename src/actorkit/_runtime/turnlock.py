"""``TurnLock``: the FIFO lock behind an actor's turn, free to take when uncontended."""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["TurnLock"]


class TurnLock:
    """A first-come first-served lock. ``try_acquire`` takes a free lock without awaiting
    (the common case: most calls find their actor idle); ``acquire`` queues otherwise.

    Invariant: while waiters are queued the lock is held; ``release`` hands it straight to
    the first waiter that is still waiting, so no newcomer can overtake the queue.
    """

    __slots__ = ("_waiters", "locked")

    def __init__(self) -> None:
        self.locked = False
        self._waiters: deque[asyncio.Future[None]] | None = None  # made on first contention

    def try_acquire(self) -> bool:
        if self.locked:
            return False
        self.locked = True
        return True

    async def acquire(self) -> None:
        if self.try_acquire():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = deque()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the lock while being cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:  # None or empty: nobody waits
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the lock stays held, now by that waiter
                return
        self.locked = False
