"""Group commit: many actors' write batches share one storage transaction.

While one commit is in flight, new batches queue; the next commit takes all of them. Under
load each fsync therefore covers many acknowledged writes, and under no load a lone write
is committed immediately (no timer, no added latency).
"""

from __future__ import annotations

import asyncio
import logging

from actorkit.errors import StorageError
from actorkit.storage.base import Driver, WriteBatch

__all__ = ["Committer"]

log = logging.getLogger("actorkit.storage")

MAX_GROUP = 2048


class Committer:
    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._queue: list[tuple[WriteBatch, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.commits = 0  # transactions issued (for metrics and benchmarks)
        self.batches = 0

    def submit(self, batch: WriteBatch) -> asyncio.Future[None]:
        """Queue ``batch``; the returned future resolves when it is durable (or fails)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._task is None:
            # Nothing in flight, so committing now keeps submission order. A driver that needs
            # no I/O (memory) applies the batch synchronously: no task, no loop round trip.
            results = self._driver.commit_now([batch])
            if results is not None:
                self.commits += 1
                self.batches += 1
                if results[0] is None:
                    future.set_result(None)
                else:
                    future.set_exception(results[0])
                return future
        self._queue.append((batch, future))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return future

    async def flush(self) -> None:
        """Wait until everything submitted so far is committed."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._queue:
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                try:
                    results = await self._driver.commit([batch for batch, _ in group])
                except Exception as exc:
                    log.exception("storage commit failed")
                    error = exc if isinstance(exc, StorageError) else StorageError(str(exc))
                    results = [error] * len(group)
                self.commits += 1
                self.batches += len(group)
                for (_, future), result in zip(group, results, strict=True):
                    if future.done():
                        continue
                    if result is None:
                        future.set_result(None)
                    else:
                        future.set_exception(result)
        finally:
            self._task = None
