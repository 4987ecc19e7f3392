"""``AsyncClient`` and ``ActorHandle``: the client API, whatever the transport.

Example::

    async with actorkit.AsyncClient("http://127.0.0.1:6420") as client:
        counter = client.get_or_create(Counter, ["my-counter"])
        await counter.increment(5)
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import msgspec

from actorkit.client.transport import AsyncTransport, ResolveMode
from actorkit.errors import ActorError, Code
from actorkit.protocol.keys import Key, KeyLike, normalize_key

if TYPE_CHECKING:
    import httpx

    from actorkit.client.connection import ActorConnection

__all__ = ["ActorHandle", "AsyncClient"]

A = TypeVar("A")


def _actor_name(actor: Any) -> str:
    if isinstance(actor, str):
        return actor
    name = getattr(actor, "name", None)
    if isinstance(actor, type) and isinstance(name, str):
        return name
    raise TypeError(f"expected an actor class or name, got {actor!r}")


@functools.lru_cache(maxsize=4096)
def _return_type(cls: type, action: str) -> Any:
    """The declared return type of ``cls.action``, or None (no conversion)."""
    method = cls.__dict__.get(action) or getattr(cls, action, None)
    fn = getattr(method, "__wrapped__", None)
    if fn is None:
        return None
    try:
        ret = typing.get_type_hints(fn).get("return")
    except Exception:
        return None
    return None if ret in (None, Any, type(None)) else ret


class ActorHandle(Generic[A]):
    """A reference to one actor. Cheap to create; resolves to an actor id on first use.

    Call actions as methods (``await handle.increment(1)``) or by name
    (``await handle.action("increment", 1)``).
    """

    def __init__(
        self,
        client: AsyncClient,
        name: str,
        *,
        key: Key = (),
        mode: ResolveMode | None = "get",
        input: Any = None,
        region: str | None = None,
        actor_id: str | None = None,
        params: Any = None,
        cls: type[A] | None = None,
    ) -> None:
        self._client = client
        self.name = name
        self.key = key
        self._mode = mode  # None: addressed by id only
        self._input = input
        self._region = region
        self._actor_id = actor_id
        self.params = params
        self._cls = cls

    def __repr__(self) -> str:
        return f"<ActorHandle {self.name}{list(self.key)!r} id={self._actor_id}>"

    async def resolve(self) -> str:
        """The actor's id (creating the actor first, for a get-or-create handle)."""
        if self._actor_id is None:
            assert self._mode is not None
            await self._client._ensure_started()
            self._actor_id = await self._client._transport.resolve(
                self.name, self.key, self._mode, self._input, self._region
            )
        return self._actor_id

    async def action(
        self, name: str, /, *args: Any, idempotency_key: str | None = None, **kwargs: Any
    ) -> Any:
        """Call action ``name`` with ``args`` and keyword ``kwargs``; returns its result.
        ``await handle.action("add", text="milk")`` is ``await handle.add(text="milk")``.

        ``idempotency_key``: a repeat of the call with the same key (within the actor's
        ``idempotency_window``) returns the first outcome without running the action again,
        so a call whose reply was lost can be sent again safely. Over HTTP every call
        carries one (generated unless given) and the client's own retries reuse it.
        Example: ``await handle.action("pay", 10, idempotency_key=order_id)``.
        """
        client = self._client
        transport = client._transport
        extra: dict[str, Any] = (
            {} if idempotency_key is None else {"idempotency_key": idempotency_key}
        )
        if kwargs:
            extra["kwargs"] = kwargs
        by_key = getattr(transport, "call_by_key", None)
        if self._actor_id is None and self._mode in ("get", "get_or_create") and by_key:
            # One request instead of two: find (or create) and call (docs/protocol.md).
            await client._ensure_started()
            create = self._mode == "get_or_create"
            self._actor_id, output = await by_key(
                self.name,
                self.key,
                create,
                self._input,
                self._region,
                name,
                list(args),
                self.params,
                **extra,
            )
            return self._converted(name, output)
        actor_id = self._actor_id or await self.resolve()
        if not client._started:
            await client._ensure_started()
        try:
            output = await transport.call(actor_id, name, list(args), self.params, **extra)
        except ActorError as err:
            if err.code != Code.ACTOR_NOT_FOUND or self._mode is None:
                raise
            # The actor was destroyed since we resolved it: find (or recreate) it by key.
            self._actor_id = None
            actor_id = await self.resolve()
            output = await transport.call(actor_id, name, list(args), self.params, **extra)
        return self._converted(name, output)

    def _converted(self, action: str, output: Any) -> Any:
        """``output`` as the action's declared return type, for a typed handle."""
        if self._cls is not None:
            ret = _return_type(self._cls, action)  # type: ignore[arg-type]
            if ret is not None:
                return msgspec.convert(output, ret)
        return output

    def connect(self, params: Any = None) -> ActorConnection[A]:
        """A live connection (actions, events); use ``async with handle.connect(...) as conn``.

        ``params`` go to ``on_before_connect`` / ``create_conn_state`` (default: the handle's).
        """
        from actorkit.client.connection import ActorConnection

        opener = getattr(self._client._transport, "open_link", None)
        if opener is None:
            from actorkit.client.websocket import websocket_opener

            assert self._client.url is not None
            opener = websocket_opener(self._client.url)
        return ActorConnection(self, self.params if params is None else params, opener)

    async def destroy(self) -> None:
        """Destroy the actor and all its data."""
        await self._client._transport.destroy(await self.resolve())

    async def fetch(self, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
        """Raw HTTP to the actor's ``on_request`` hook (HTTP clients only).

        ``kwargs`` go to ``httpx`` (``content=``, ``json=``, ``headers=``, ``params=``…).
        """
        fetch = getattr(self._client._transport, "fetch", None)
        if fetch is None:
            raise TypeError("fetch() needs an HTTP client (AsyncClient(url))")
        response: httpx.Response = await fetch(await self.resolve(), path, method, **kwargs)
        return response

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        return functools.partial(self.action, name)


class AsyncClient:
    """Calls actors. In-process (``registry.test_client()``) or over HTTP (pass a URL).

    Use as an async context manager, or call ``aclose()`` when done.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        transport: AsyncTransport | None = None,
        timeout: float | None = 60.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        if transport is None:
            if url is None:
                raise TypeError("AsyncClient needs a url or a transport")
            from actorkit.client.http import HttpTransport

            transport = HttpTransport(url, timeout=timeout, headers=headers)
        self._transport = transport
        self.url = url
        self._started = False
        self._connections: set[ActorConnection[Any]] = set()

    async def __aenter__(self) -> AsyncClient:
        await self._ensure_started()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _ensure_started(self) -> None:
        if not self._started:
            self._started = True
            await self._transport.start()

    async def aclose(self) -> None:
        """Close connections (and, for a test client, stop its in-process actors)."""
        for conn in list(self._connections):
            await conn.aclose()
        if self._started:
            self._started = False
            await self._transport.aclose()

    # -- handles -------------------------------------------------------------------------

    @overload
    def get(self, actor: type[A], key: KeyLike = None, *, params: Any = None) -> ActorHandle[A]: ...
    @overload
    def get(self, actor: str, key: KeyLike = None, *, params: Any = None) -> ActorHandle[Any]: ...
    def get(self, actor: Any, key: KeyLike = None, *, params: Any = None) -> ActorHandle[Any]:
        """A handle to an existing actor; calls fail with ``actor_not_found`` if none."""
        return self._handle(actor, key, "get", None, None, params)

    @overload
    def get_or_create(
        self,
        actor: type[A],
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> ActorHandle[A]: ...
    @overload
    def get_or_create(
        self,
        actor: str,
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> ActorHandle[Any]: ...
    def get_or_create(
        self,
        actor: Any,
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> ActorHandle[Any]:
        """A handle that creates the actor (with ``input``) on first use if it is missing."""
        return self._handle(actor, key, "get_or_create", input, region, params)

    @overload
    def get_for_id(
        self, actor: type[A], actor_id: str, *, params: Any = None
    ) -> ActorHandle[A]: ...
    @overload
    def get_for_id(
        self, actor: str, actor_id: str | None = None, *, params: Any = None
    ) -> ActorHandle[Any]: ...
    def get_for_id(
        self, actor: Any, actor_id: str | None = None, *, params: Any = None
    ) -> ActorHandle[Any]:
        """A handle to the actor with id ``actor_id``: ``get_for_id(actor_id)``, or with the
        actor's class first for a typed handle, ``get_for_id(Counter, actor_id)``."""
        if actor_id is None:
            if not isinstance(actor, str):
                raise TypeError(f"get_for_id needs an actor id, got {actor!r}")
            return ActorHandle(self, "", mode=None, actor_id=actor, params=params)
        name = _actor_name(actor)
        cls = actor if isinstance(actor, type) else None
        return ActorHandle(self, name, mode=None, actor_id=actor_id, params=params, cls=cls)

    @overload
    async def create(
        self,
        actor: type[A],
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> ActorHandle[A]: ...
    @overload
    async def create(
        self,
        actor: str,
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> ActorHandle[Any]: ...
    async def create(
        self,
        actor: Any,
        key: KeyLike = None,
        *,
        input: Any = None,
        region: str | None = None,
        params: Any = None,
    ) -> ActorHandle[Any]:
        """Create the actor now; fails with ``actor_already_exists`` if the key is taken."""
        handle = self._handle(actor, key, "create", input, region, params)
        await handle.resolve()
        handle._mode = "get"
        return handle

    def _handle(
        self,
        actor: Any,
        key: KeyLike,
        mode: ResolveMode,
        input: Any,
        region: str | None,
        params: Any,
    ) -> ActorHandle[Any]:
        name = _actor_name(actor)
        cls = actor if isinstance(actor, type) else None
        return ActorHandle(
            self,
            name,
            key=normalize_key(key),
            mode=mode,
            input=input,
            region=region,
            params=params,
            cls=cls,
        )

    async def list_actors(
        self, name: Any = None, *, after: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Actors (optionally of one type), ordered by id; page with ``after``."""
        actor_name = None if name is None else _actor_name(name)
        return await self._transport.list_actors(actor_name, after, limit)
