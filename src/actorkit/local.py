"""In-process transport: calls a ``Node`` directly, with the wire's copy semantics.

It joins the runtime to the client (``registry.test_client()``, ``Actor.client``), so it
lives above both: the client package never imports the runtime.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from actorkit._runtime.sessions import ConnectionSession, QueuePipe
from actorkit.client.base import AsyncClient
from actorkit.client.connection import LinkClosed
from actorkit.client.transport import ResolveMode
from actorkit.errors import ActorError, StorageError, storage_failure, validation_error
from actorkit.protocol.messages import MSGPACK_SUBPROTOCOL, Codec, codec_for
from actorkit.protocol.records import record_to_dict

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["LocalLink", "LocalTransport", "local_client"]


def local_client(node: Node) -> AsyncClient:
    """A client served by ``node`` in this process; ``Node(..., client_factory=local_client)``.

    The node's owner starts and stops it: closing this client leaves the node running.
    """
    return AsyncClient(transport=LocalTransport(node, inside=True))


def _copy_args(args: Any) -> list[Any]:
    # Arguments cross as builtins, exactly as they would over the wire.
    try:
        out = msgspec.to_builtins(args)
    except (TypeError, ValueError) as exc:
        raise validation_error(f"arguments cannot be serialized: {exc}") from None
    assert isinstance(out, list)
    return out


def _builtins(value: Any, what: str) -> Any:
    try:
        return msgspec.to_builtins(value)
    except (TypeError, ValueError) as exc:
        raise validation_error(f"{what} cannot be serialized: {exc}") from None


def _storage_error(exc: StorageError) -> ActorError:
    # The transport contract is "raises ActorError": a StorageError (unreachable storage,
    # unreadable or too new data) must not escape to the caller as a bare exception.
    return storage_failure(exc)


class LocalTransport:
    """Serves a client from a node in this process (``registry.test_client()``,
    ``registry.client()``).

    ``owns_node``: the client starts the node and stops it when closed. ``start``: how to
    start a node someone else owns (the server app's starter, so the node starts once
    whichever of the app and the client needs it first). ``inside``: the node's own client
    (actors'), for which internal actions exist.
    """

    def __init__(
        self,
        node: Node,
        *,
        owns_node: bool = False,
        start: Callable[[], Awaitable[None]] | None = None,
        inside: bool = False,
    ) -> None:
        self.node = node
        self._owns_node = owns_node
        self._start = start
        self._inside = inside  # the node's own client (actors'): internal actions exist

    async def start(self) -> None:
        if self._owns_node:
            await self.node.start()
        elif self._start is not None:
            await self._start()

    async def aclose(self) -> None:
        if self._owns_node:
            await self.node.stop()

    async def resolve(
        self, name: str, key: tuple[str, ...], mode: ResolveMode, input: Any, region: str | None
    ) -> str:
        try:
            record = await self.node.resolve(name, key, mode, _builtins(input, "input"), region)
        except StorageError as exc:
            raise _storage_error(exc) from exc
        return record.id

    async def call(
        self,
        actor_id: str,
        action: str,
        args: list[Any],
        params: Any,
        idempotency_key: str | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        try:
            return await self.node.call(
                actor_id,
                action,
                _copy_args(list(args)),
                params=_builtins(params, "params"),
                idempotency_key=idempotency_key,
                kwargs=_builtins(kwargs, "keyword arguments") if kwargs else None,
                inside=self._inside,
            )
        except StorageError as exc:
            raise _storage_error(exc) from exc

    async def destroy(self, actor_id: str) -> None:
        try:
            await self.node.destroy(actor_id)
        except StorageError as exc:
            raise _storage_error(exc) from exc

    async def open_link(self, actor_id: str) -> LocalLink:
        """An in-process socket for ``handle.connect()`` (msgpack frames, as on the wire)."""
        return LocalLink(self.node, actor_id, codec_for(MSGPACK_SUBPROTOCOL))

    async def list_actors(
        self, name: str | None, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        records = await self.node.list_actors(name, after=after, limit=limit)
        return [record_to_dict(r) for r in records]


class LocalLink:
    """An in-process socket to a node's connection session (same frames as a WebSocket)."""

    def __init__(self, node: Node, actor_id: str, codec: Codec) -> None:
        self.codec = codec
        self._inbox: asyncio.Queue[bytes | LinkClosed] = asyncio.Queue()
        self._incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._closed: LinkClosed | None = None
        pipe = QueuePipe(codec, node.limits.max_conn_buffer_bytes, self._deliver, self._shut)
        self._session = ConnectionSession(node, actor_id, pipe)
        self._tasks = [
            pipe.start(),
            asyncio.ensure_future(self._serve()),
        ]

    async def _serve(self) -> None:
        while (frame := await self._incoming.get()) is not None:
            await self._session.feed(frame)

    async def _deliver(self, data: bytes) -> None:
        self._inbox.put_nowait(data)

    async def _shut(self, code: int, reason: str) -> None:
        """The server closed the socket."""
        if self._closed is None:
            self._closed = LinkClosed(code, reason)
            self._inbox.put_nowait(self._closed)
            self._incoming.put_nowait(None)
            self._session.closed(clean=False)

    async def send(self, data: bytes) -> None:
        if self._closed is not None:
            raise self._closed
        self._incoming.put_nowait(data)

    async def recv(self) -> bytes | str:
        item = await self._inbox.get()
        if isinstance(item, LinkClosed):
            self._inbox.put_nowait(item)
            raise item
        return item

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """The client closes the socket (``1000``/``1001``: a goodbye, not a breakage)."""
        if self._closed is None:
            self._closed = LinkClosed(code, reason)
            self._inbox.put_nowait(self._closed)
            self._incoming.put_nowait(None)
            self._session.closed(clean=code in (1000, 1001))
        await asyncio.gather(self._tasks[1], return_exceptions=True)
