"""A TCP proxy that injects network faults, for chaos tests and the soak.

    proxy = FaultProxy(("127.0.0.1", server_port), seed=7).start()   # its own thread
    url = f"http://127.0.0.1:{proxy.port}"                          # talk through it
    proxy.set(UP, delay=0.2, max_delay=0.5)   # hold back a fifth of client→server chunks
    proxy.set(BOTH, reset=0.01)               # reset one connection in a hundred chunks
    proxy.blackhole = True                    # new connections: accepted, never answered
    proxy.clear()                             # faults off
    proxy.stop()

Faults, drawn per chunk of bytes read from one side, for that chunk's direction (``UP`` is
towards the upstream server, ``DOWN`` back to the client):

* **delay**: the chunk (and so everything after it in that direction) waits up to
  ``max_delay`` seconds before it is forwarded; order is kept.
* **drop**: from this chunk on, the connection's bytes in this direction are read and
  thrown away; the connection stays open, so the peers only notice by timing out. A
  dropped connection is reset after ``drop_lifetime`` seconds (default 5), as TCP would
  eventually give up on a path that lost every packet (nothing waits forever on a healed
  network).
* **reset**: both sides are closed with an RST (``SO_LINGER`` 0).

``blackhole`` applies to connections accepted while it is on: they are never connected
upstream and never answered. ``drop_all`` and ``reset_all`` act on every open connection.

When the upstream refuses a connection (its server is down), the proxy resets the client
and stops listening until the upstream accepts again: clients then see a refused
connection, as they would without the proxy — a call that certainly was not delivered,
rather than one of unknown outcome. (A frozen server's kernel still accepts, so a
``SIGSTOP`` looks the same with or without the proxy.)

Every random choice comes from ``random.Random`` seeded with ``(seed, connection number,
direction)``, so a seed replays the same faults for the same sequence of connections.
The proxy runs its own event loop in a daemon thread, so it keeps forwarding while the
test's thread blocks (starting a server, for instance); every method is thread-safe.
``counts`` tells how many of each fault were injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

#: Seconds a dropped connection stays open before the proxy resets it.
DROP_LIFETIME = 5.0
CHUNK = 65536


class Direction(enum.Enum):
    UP = "up"  # client → upstream server
    DOWN = "down"  # upstream server → client


UP, DOWN = Direction.UP, Direction.DOWN
BOTH = (UP, DOWN)


@dataclass(frozen=True)
class Faults:
    """Probabilities per chunk of bytes, for one direction."""

    delay: float = 0.0
    max_delay: float = 0.5
    drop: float = 0.0
    reset: float = 0.0


class _Link:
    """One client connection and (unless blackholed) its upstream connection."""

    def __init__(self, number: int, seed: int, client: asyncio.StreamWriter) -> None:
        self.number = number
        self.rngs = {d: random.Random(f"{seed}/{number}/{d.value}") for d in Direction}
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.dropping: set[Direction] = set()
        self.closed = False

    def writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self.client, self.upstream) if w is not None]

    def reset(self) -> None:
        """Close both sides with an RST: unsent bytes are discarded, peers see ECONNRESET."""
        if self.closed:
            return
        self.closed = True
        for writer in self.writers():
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in self.writers():
            writer.close()


class FaultProxy:
    """Forwards ``127.0.0.1:port`` to ``upstream``, injecting faults (see the module doc)."""

    def __init__(
        self,
        upstream: tuple[str, int],
        seed: int = 0,
        port: int = 0,
        drop_lifetime: float = DROP_LIFETIME,
    ) -> None:
        self.upstream = upstream
        self.drop_lifetime = drop_lifetime
        self.seed = seed
        self.port = port
        self.blackhole = False
        self.faults: dict[Direction, Faults] = {d: Faults() for d in Direction}
        self.counts: Counter[str] = Counter()
        self.connections = 0
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._stopped: asyncio.Event | None = None
        self._reopening: asyncio.Task[None] | None = None

    # -- control (any thread) ----------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Listen (on ``port``, or a free one) in a new thread; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(ready))
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, name=f"fault-proxy-{self.seed}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop listening and reset every connection."""
        if self._loop is None or self._thread is None or self._stopped is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)
        self._thread = None

    def set(self, directions: Direction | tuple[Direction, ...] = BOTH, **faults: Any) -> None:
        """Change some fault settings (``Faults`` fields) for ``directions``."""
        for d in (directions,) if isinstance(directions, Direction) else directions:
            self.faults[d] = replace(self.faults[d], **faults)

    def clear(self) -> None:
        """No more faults (connections already dropped stay dropped)."""
        self.blackhole = False
        self.faults = {d: Faults() for d in Direction}

    def drop_all(self, directions: Direction | tuple[Direction, ...] = BOTH) -> None:
        """Every open connection stops forwarding in ``directions``."""
        chosen = (directions,) if isinstance(directions, Direction) else directions
        self._call(lambda: self._drop_all(chosen))

    def reset_all(self) -> None:
        """Reset every open connection."""
        self._call(self._reset_all)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def refusing(self) -> bool:
        """Not listening, because the upstream refused a connection (see the module doc)."""
        return self._reopening is not None

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # -- the loop ------------------------------------------------------------------------------

    def _call(self, fn: Any) -> None:
        assert self._loop is not None
        done = threading.Event()

        def run() -> None:
            try:
                fn()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    def _drop_all(self, directions: tuple[Direction, ...]) -> None:
        for link in list(self._links):
            self._start_dropping(link, directions)

    def _reset_all(self) -> None:
        for link in list(self._links):
            self.counts["reset"] += 1
            link.reset()

    async def _serve(self, ready: threading.Event) -> None:
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        await self._stopped.wait()
        if self._reopening is not None:
            self._reopening.cancel()
        self._server.close()
        self._reset_all()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(self.connections, self.seed, writer)
        self._links.add(link)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self.blackhole:
                self.counts["blackhole"] += 1
                while not link.closed and await reader.read(CHUNK):
                    pass  # swallowed: never forwarded, never answered
                return
            try:
                up_reader, link.upstream = await asyncio.open_connection(*self.upstream)
            except OSError:
                link.reset()  # as the server's refusal would look, one hop later
                self._refuse()
                return
            if link.closed:  # reset_all() while connecting
                link.upstream.transport.abort()
                return
            await asyncio.gather(
                self._pump(link, UP, reader, link.upstream),
                self._pump(link, DOWN, up_reader, writer),
            )
        except (ConnectionError, OSError):
            link.reset()
        finally:
            self._links.discard(link)
            self._tasks.discard(task)
            link.close()

    async def _pump(
        self,
        link: _Link,
        direction: Direction,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        rng = link.rngs[direction]
        try:
            while data := await reader.read(CHUNK):
                if link.closed:
                    return
                if direction in link.dropping:
                    continue
                faults = self.faults[direction]
                roll = rng.random()
                if roll < faults.reset:
                    self.counts["reset"] += 1
                    link.reset()
                    return
                if roll < faults.reset + faults.drop:
                    self._start_dropping(link, (direction,))
                    continue
                if faults.delay and rng.random() < faults.delay:
                    self.counts["delay"] += 1
                    await asyncio.sleep(rng.uniform(0, faults.max_delay))
                    if link.closed or direction in link.dropping:
                        continue
                writer.write(data)
                await writer.drain()
            if not link.closed and direction not in link.dropping and writer.can_write_eof():
                writer.write_eof()  # pass the half-close on
        except (ConnectionError, OSError):
            link.reset()

    def _refuse(self) -> None:
        """Stop listening until the upstream accepts connections again."""
        if self._reopening is not None or self._server is None:
            return
        self.counts["refused"] += 1
        self._server.close()
        self._reopening = asyncio.ensure_future(self._reopen())

    async def _reopen(self) -> None:
        assert self._stopped is not None
        while not self._stopped.is_set():
            try:
                _, probe = await asyncio.open_connection(*self.upstream)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            probe.close()
            try:
                self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
            except OSError:  # our port, taken meanwhile: keep trying
                await asyncio.sleep(0.02)
                continue
            break
        self._reopening = None

    def _start_dropping(self, link: _Link, directions: tuple[Direction, ...]) -> None:
        new = [d for d in directions if d not in link.dropping]
        if not new or link.closed:
            return
        if not link.dropping:
            assert self._loop is not None
            self._loop.call_later(self.drop_lifetime, link.reset)
        link.dropping.update(new)
        self.counts["drop"] += len(new)


__all__ = ["BOTH", "DOWN", "DROP_LIFETIME", "UP", "Direction", "FaultProxy", "Faults"]
