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

        return asgi_app(
            self,
            storage,
            dev=dev,
            region=region,
            cors_origins=cors_origins,
            advertise_url=advertise_url,
            lease_seconds=lease_seconds,
        )

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
