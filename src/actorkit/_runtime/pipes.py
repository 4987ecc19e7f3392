"""``QueuePipe``: the outgoing side of one socket, bounded in bytes.

Invariants:
- Every byte the pipe holds counts against ``limit``: the frames queued and the frame being
  sent, whether the writer task sends it or ``send_now`` does from the task that produced
  it (an action's reply). A frame that would pass the limit closes the socket with
  ``CLOSE_SLOW_CONSUMER`` and abandons a send stuck on a client that does not read, so no
  kind of frame — event, reply, error, ping — can grow a server's memory.
- Frames leave in the order they were written; the close follows the frames queued before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

from actorkit.protocol.messages import CLOSE_INTERNAL, CLOSE_SLOW_CONSUMER, Codec

__all__ = ["QueuePipe"]


class QueuePipe:
    """Outgoing frames of one socket, bounded in bytes, written by ``run()`` in order."""

    def __init__(
        self,
        codec: Codec,
        limit: int,
        send: Callable[[bytes], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
    ) -> None:
        self.codec = codec
        self.limit = limit
        self._send = send
        self._close = close
        self._queue: deque[bytes] = deque()
        self._queued = 0  # bytes in _queue
        self._inflight = 0  # bytes of the frame being sent
        self._sender: asyncio.Task[object] | None = None  # the task inside _send, if any
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.closing: tuple[int, str] | None = None
        self.on_hibernate: Callable[[], None] | None = None  # set by the session
        self.on_closing: Callable[[], None] | None = None  # set by the transport

    def start(self) -> asyncio.Task[None]:
        """Start writing frames in the background; the task ends once the socket is closed."""
        self._task = asyncio.ensure_future(self.run())
        return self._task

    @property
    def buffered(self) -> int:
        """Bytes held: queued, and being sent."""
        return self._queued + self._inflight

    def write(self, data: bytes) -> bool:
        """Queue ``data``; False if the pipe is closing or ``data`` passed the limit."""
        if self.closing is not None or not self._admit(len(data)):
            return False
        self._queue.append(data)
        self._queued += len(data)
        self._wake.set()
        return True

    async def send_now(self, data: bytes) -> None:
        """Like ``write``, but an idle pipe sends from the caller's task (one hop fewer)."""
        busy = self._queue or self._sender is not None or self.closing is not None
        if busy or self._task is None:
            self.write(data)
        elif self._admit(len(data)):
            await self._send_one(data)

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued have been sent."""
        if self.closing is None:
            self.closing = (code, reason)
            self._wake.set()
            if self.on_closing is not None:
                self.on_closing()

    async def run(self) -> None:
        """Send queued frames until closed; then close the socket."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._sender is not None:
                continue  # another task is sending; it wakes us when done
            while self._queue:
                data = self._queue.popleft()
                self._queued -= len(data)
                await self._send_one(data)
            if self.closing is not None:
                with contextlib.suppress(Exception):
                    await self._close(*self.closing)
                return

    async def finish(self, timeout: float) -> None:
        """Give the queued frames and the close ``timeout`` seconds to be written, then stop
        writing: a client that does not read cannot keep a task (or its frames) alive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (task := self._task) is not None and not task.done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait({task}, timeout=remaining)
        if self._task is not None:
            self._task.cancel()
        self._abandon_send()

    # -- internals ---------------------------------------------------------------------------

    def _admit(self, size: int) -> bool:
        """Whether ``size`` more bytes fit; if not, close for falling behind."""
        if self._queued + self._inflight + size <= self.limit:
            return True
        self._queue.clear()
        self._queued = 0
        self.close(CLOSE_SLOW_CONSUMER, "slow consumer: outgoing buffer full")
        if self._abandon_send() and self._task is not None:
            self._task = asyncio.ensure_future(self.run())  # it was the writer: restart it
        return False

    def _abandon_send(self) -> bool:
        """Cancel a send stuck on a socket the client does not read; True if it was the
        writer task's."""
        sender = self._sender
        if sender is None or sender is asyncio.current_task():
            return False
        sender.cancel()
        return sender is self._task

    async def _send_one(self, data: bytes) -> None:
        self._sender = asyncio.current_task()
        self._inflight = len(data)
        try:
            await self._send(data)
        except Exception:  # the socket is gone; the transport reports the close
            self._queue.clear()
            self._queued = 0
            self.close(CLOSE_INTERNAL, "send failed")
        finally:
            self._sender = None
            self._inflight = 0
            self._wake.set()
