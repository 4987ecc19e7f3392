"""The blocking ``Client``: the ``AsyncClient`` API without ``await``.

It drives an ``AsyncClient`` on a private event-loop thread (a portal), so both share every
line of addressing, retry and error logic.

Example::

    with actorkit.Client("http://127.0.0.1:6420") as client:
        counter = client.get_or_create(Counter, ["my-counter"])
        counter.increment(5)          # → 5
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from actorkit.client.base import ActorHandle, AsyncClient
from actorkit.client.portal import Portal
from actorkit.client.transport import AsyncTransport
from actorkit.protocol.keys import KeyLike

if TYPE_CHECKING:
    import httpx

    from actorkit.client.sync_connection import SyncActorConnection

__all__ = ["Client", "SyncActorHandle"]

A = TypeVar("A")


class SyncActorHandle(Generic[A]):
    """A blocking handle: ``handle.increment(1)`` returns the action's result."""

    def __init__(self, portal: Portal, handle: ActorHandle[A]) -> None:
        self._portal = portal
        self._handle = handle
        self.name = handle.name
        self.key = handle.key

    def __repr__(self) -> str:
        return repr(self._handle).replace("<ActorHandle", "<SyncActorHandle", 1)

    def resolve(self) -> str:
        """The actor's id (creating the actor first, for a get-or-create handle)."""
        return self._portal.call(self._handle.resolve())

    def action(
        self, name: str, /, *args: Any, idempotency_key: str | None = None, **kwargs: Any
    ) -> Any:
        """Call action ``name`` with ``args`` and keyword ``kwargs``; returns its result.

        ``idempotency_key``: see ``ActorHandle.action``."""
        return self._portal.call(
            self._handle.action(name, *args, idempotency_key=idempotency_key, **kwargs)
        )

    def destroy(self) -> None:
        """Destroy the actor and all its data."""
        self._portal.call(self._handle.destroy())

    def connect(self, params: Any = None) -> SyncActorConnection[A]:
        """A live connection: ``with handle.connect(params) as conn: conn.send("hi")``."""
        from actorkit.client.sync_connection import SyncActorConnection

        return SyncActorConnection(self._portal, self._handle.connect(params))

    def fetch(self, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
        """Raw HTTP to the actor's ``on_request`` hook; returns the ``httpx.Response``."""
        return self._portal.call(self._handle.fetch(path, method, **kwargs))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return functools.partial(self.action, name)


class Client:
    """Blocking twin of ``AsyncClient`` (same methods, no ``await``).

    Use as a context manager, or call ``close()`` when done.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        transport: AsyncTransport | None = None,
        timeout: float | None = 60.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._portal = Portal()
        self._async = AsyncClient(url, transport=transport, timeout=timeout, headers=headers)
        self.url = url

    def __enter__(self) -> Client:
        self._portal.call(self._async._ensure_started())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close connections and the client's thread."""
        try:
            self._portal.call(self._async.aclose())
        finally:
            self._portal.close()

    def _wrap(self, handle: ActorHandle[A]) -> SyncActorHandle[A]:
        return SyncActorHandle(self._portal, handle)

    @overload
    def get(
        self, actor: type[A], key: KeyLike = None, *, params: Any = None
    ) -> SyncActorHandle[A]: ...
    @overload
    def get(
        self, actor: str, key: KeyLike = None, *, params: Any = None
    ) -> SyncActorHandle[Any]: ...
    def get(self, actor: Any, key: KeyLike = None, *, params: Any = None) -> SyncActorHandle[Any]:
        """A handle to an existing actor; calls fail with ``actor_not_found`` if none."""
        return self._wrap(self._async.get(actor, key, params=params))

    @overload
    def get_or_create(
        self,
        actor: type[A],
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> SyncActorHandle[A]: ...
    @overload
    def get_or_create(
        self,
        actor: str,
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> SyncActorHandle[Any]: ...
    def get_or_create(
        self,
        actor: Any,
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> SyncActorHandle[Any]:
        """A handle that creates the actor (with ``input``) on first use if it is missing."""
        return self._wrap(
            self._async.get_or_create(actor, key, input=input, region=region, params=params)
        )

    @overload
    def get_for_id(
        self, actor: type[A], actor_id: str, *, params: Any = None
    ) -> SyncActorHandle[A]: ...
    @overload
    def get_for_id(
        self, actor: str, actor_id: str | None = None, *, params: Any = None
    ) -> SyncActorHandle[Any]: ...
    def get_for_id(
        self, actor: Any, actor_id: str | None = None, *, params: Any = None
    ) -> SyncActorHandle[Any]:
        """A handle to the actor with id ``actor_id``: ``get_for_id(actor_id)``, or
        ``get_for_id(Counter, actor_id)`` for a typed handle."""
        return self._wrap(self._async.get_for_id(actor, actor_id, params=params))

    @overload
    def create(
        self,
        actor: type[A],
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> SyncActorHandle[A]: ...
    @overload
    def create(
        self,
        actor: str,
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> SyncActorHandle[Any]: ...
    def create(
        self,
        actor: Any,
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> SyncActorHandle[Any]:
        """Create the actor now; fails with ``actor_already_exists`` if the key is taken."""
        handle = self._portal.call(
            self._async.create(actor, key, input=input, region=region, params=params)
        )
        return self._wrap(handle)

    def list_actors(
        self, name: Any = None, *, after: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Actors (optionally of one type), ordered by id; page with ``after``."""
        return self._portal.call(self._async.list_actors(name, after=after, limit=limit))
