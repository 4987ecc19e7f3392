"""``Registry``: the actor classes of an application, and the entry points that serve them.

It sits above the runtime, the client and the server: the runtime's registry
(``actorkit._runtime.registry``) holds the actor definitions; this one adds the in-process
test client, the ASGI app and ``run()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from actorkit._runtime import registry as runtime

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from actorkit._runtime.clock import Clock
    from actorkit.client.base import AsyncClient

__all__ = ["Registry"]


class Registry(runtime.Registry):
    """The actor classes of an application, and the entry points that serve them.

    Example::

        registry = Registry(Counter, ChatRoom)

        async with registry.test_client() as client:      # in-process, no sockets
            await client.get_or_create(Counter, "a").increment(1)

        registry.run()                                    # http://127.0.0.1:6420

    ``Registry(*actors, limits=Limits(...), authenticate=fn)``: ``fn(request: AuthRequest)``
    runs before any actor is created or woken for a client of the server, for every actor
    type, ahead of a class's own ``@staticmethod authenticate`` (see ``docs/auth.md``).
    """

    # The entry points import on use: ``import actorkit`` stays light, and the server needs
    # the ``server`` extra.

    _served: Starlette | None = None  # the app ``asgi()`` returned last

    def test_client(
        self, storage: str = "memory://", *, clock: Clock | None = None, dev: bool = True
    ) -> AsyncClient:
        """An ``AsyncClient`` served in-process (no sockets), for tests and scripts.

        Use it as ``async with registry.test_client() as client: ...``; the actors stop and
        storage closes when the block exits.
        """
        from actorkit._runtime.node import Node
        from actorkit.client.base import AsyncClient
        from actorkit.local import LocalTransport, local_client
        from actorkit.storage import driver_from_url

        node = Node(
            self, driver_from_url(storage), clock=clock, dev=dev, client_factory=local_client
        )
        return AsyncClient(transport=LocalTransport(node, owns_node=True))

    def asgi(
        self,
        storage: str | None = None,
        *,
        dev: bool = False,
        region: str | None = None,
        cors_origins: Sequence[str] | None = None,
        advertise_url: str | None = None,
        lease_seconds: float | None = None,
    ) -> Starlette:
        """An ASGI app serving these actors (mount it into FastAPI/Starlette, or run it).

        ``storage`` defaults to ``sqlite:///.actorkit``; ``cors_origins`` lets browser pages
        from those origins call the API. With ``postgresql://…`` storage the process joins
        a cluster; ``advertise_url`` is where other nodes reach it (see
        ``docs/cluster.md``). Needs ``actorkit[server]``.
        """
        from actorkit.server.run import asgi_app

        self._served = asgi_app(
            self,
            storage,
            dev=dev,
            region=region,
            cors_origins=cors_origins,
            advertise_url=advertise_url,
            lease_seconds=lease_seconds,
        )
        return self._served

    def client(self) -> AsyncClient:
        """An ``AsyncClient`` served in-process by the node of the app ``asgi()`` returned
        (the last one, if it was called more than once): for your own routes next to the
        mounted app, with no HTTP round trip. Same API as ``AsyncClient(url)``.

        Example (a FastAPI or Starlette route)::

            actors = registry.asgi()
            app.mount("/api", actors)

            async def visit(request):
                counter = registry.client().get_or_create(Counter, "visits")
                return JSONResponse(await counter.increment())

        The node starts on first use if the app has not started it yet; closing the client
        closes its connections and leaves the node running (the app's lifespan stops it).
        """
        app = self._served
        if app is None:
            raise RuntimeError(
                "registry.client() calls the actors of the app registry.asgi() returned: "
                "call registry.asgi() first (or use registry.test_client() in tests)"
            )
        from actorkit.client.base import AsyncClient
        from actorkit.local import LocalTransport

        starter = app.state.ensure_started
        return AsyncClient(transport=LocalTransport(app.state.node, start=starter))

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 6420,
        storage: str | None = None,
        *,
        dev: bool = False,
        region: str | None = None,
        cors_origins: Sequence[str] | None = None,
        advertise_url: str | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        """Serve these actors over HTTP with uvicorn until interrupted (cluster settings as
        for ``asgi``)."""
        from actorkit.server.run import serve

        serve(
            self,
            host=host,
            port=port,
            storage=storage,
            dev=dev,
            region=region,
            cors_origins=cors_origins,
            advertise_url=advertise_url,
            lease_seconds=lease_seconds,
        )
