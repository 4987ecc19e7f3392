"""``SyncActorConnection``: the blocking twin of ``ActorConnection``.

Example::

    with actorkit.Client("http://127.0.0.1:6420") as client:
        with client.get_or_create("chat_room", "lobby").connect({"user": "ann"}) as conn:
            conn.on("message", print)          # callbacks run on the client's thread
            conn.send("hello")
            for msg in conn.events("message"):
                ...

Without ``with``, the first action opens the connection (``conn = handle.connect(params)``
then ``conn.send("hello")``); ``Client.close()`` closes it. Calls made while it connects
wait for it, bounded, as in ``ActorConnection``.
"""

from __future__ import annotations

import functools
import queue
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from actorkit.client.connection import ActorConnection, ConnectionStatus
from actorkit.client.portal import Portal
from actorkit.errors import ActorError

__all__ = ["SyncActorConnection"]

A = TypeVar("A")

_CLOSED = object()


class SyncActorConnection(Generic[A]):
    """A live connection without ``await``; reconnects and resumes like the async one.

    Callbacks given to ``on``/``once``/``on_open``/``on_close``/``on_error`` run on the
    client's private event-loop thread: keep them short.
    """

    def __init__(self, portal: Portal, conn: ActorConnection[A]) -> None:
        self._portal = portal
        self._conn = conn

    def __enter__(self) -> SyncActorConnection[A]:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def id(self) -> str | None:
        return self._conn.id

    @property
    def status(self) -> ConnectionStatus:
        return self._conn.status

    def open(self) -> None:
        """Connect now; raises ``ActorError`` if the actor refuses."""
        self._portal.call(self._conn.open())

    def close(self) -> None:
        self._portal.call(self._conn.aclose())

    def action(
        self, name: str, /, *args: Any, idempotency_key: str | None = None, **kwargs: Any
    ) -> Any:
        """Call action ``name`` with ``args`` and keyword ``kwargs`` over the connection."""
        return self._portal.call(
            self._conn.action(name, *args, idempotency_key=idempotency_key, **kwargs)
        )

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return functools.partial(self.action, name)

    def _on_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def run() -> Any:
            return fn(*args)

        return self._portal.call(run())

    def _remover(self, off: Callable[[], None]) -> Callable[[], None]:
        loop = self._portal._loop

        def remove() -> None:
            if not loop.is_closed():  # after Client.close() there is nothing to remove
                loop.call_soon_threadsafe(off)

        return remove

    def on(self, event: str, callback: Callable[..., Any]) -> Callable[[], None]:
        """Call ``callback(*args)`` for each ``event``; returns a function that unsubscribes."""
        return self._remover(self._on_loop(self._conn.on, event, callback))

    def once(self, event: str, callback: Callable[..., Any]) -> Callable[[], None]:
        return self._remover(self._on_loop(self._conn.once, event, callback))

    def on_open(self, callback: Callable[[], Any]) -> Callable[[], None]:
        return self._remover(self._on_loop(self._conn.on_open, callback))

    def on_close(self, callback: Callable[[int, str], Any]) -> Callable[[], None]:
        return self._remover(self._on_loop(self._conn.on_close, callback))

    def on_error(self, callback: Callable[[ActorError], Any]) -> Callable[[], None]:
        return self._remover(self._on_loop(self._conn.on_error, callback))

    def events(self, event: str, timeout: float | None = None) -> Iterator[Any]:
        """Iterate over ``event`` (blocking); subscribes at once, ends when the connection
        closes. ``timeout``: seconds to wait for each event before ``TimeoutError``.
        """
        items: queue.SimpleQueue[Any] = queue.SimpleQueue()

        def closed(code: int, reason: str) -> None:
            if self._conn.status is ConnectionStatus.CLOSED:
                items.put(_CLOSED)

        off = self.on(event, lambda *args: items.put(args[0] if len(args) == 1 else args))
        stop = self.on_close(closed)
        return self._iterate(items, event, timeout, [off, stop])

    @staticmethod
    def _iterate(
        items: queue.SimpleQueue[Any],
        event: str,
        timeout: float | None,
        cleanup: list[Callable[[], None]],
    ) -> Iterator[Any]:
        try:
            while True:
                try:
                    item = items.get(timeout=timeout)
                except queue.Empty:
                    raise TimeoutError(f"no {event!r} event within {timeout} s") from None
                if item is _CLOSED:
                    return
                yield item
        finally:
            for fn in cleanup:
                fn()
