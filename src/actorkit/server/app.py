"""``build_app``: the ASGI application that serves a ``Node`` over HTTP.

Routes come from ``ROUTE_FACTORIES`` — a list another module may append to (e.g. WebSocket
routes) — plus any ``routes=`` passed in. The node starts with the ASGI lifespan, or on the
first request when the app is mounted inside another app (whose lifespan does not reach
mounted apps).

Example::

    node = Node(registry, driver_from_url("sqlite:///.actorkit"), client_factory=local_client)
    app = build_app(node)
    uvicorn.run(app, port=6420)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from actorkit.errors import ActorError, Code
from actorkit.inspector.routes import inspector_routes
from actorkit.server.connect import connect_routes
from actorkit.server.encoding import error_response
from actorkit.server.endpoint import Starter
from actorkit.server.errors import method_not_allowed, route_not_found
from actorkit.server.fastpath import ActionFastPath
from actorkit.server.routes_actors import actor_routes
from actorkit.server.routes_system import system_routes

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["CORS_ENV", "ROUTE_FACTORIES", "ActorkitApp", "RouteFactory", "build_app"]

#: Environment variable with the origins allowed to call the API from a browser (CORS).
CORS_ENV = "ACTORKIT_CORS_ORIGINS"

RouteFactory = Callable[["Node", Starter], Sequence[BaseRoute]]

# Each factory gets the node and a ``Starter``: ``await ensure_started()`` before touching
# the node. Append to add routes to every app built afterwards.
ROUTE_FACTORIES: list[RouteFactory] = [
    system_routes,
    actor_routes,
    connect_routes,
    inspector_routes,
]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err = route_not_found(request.url.path)
    elif exc.status_code == 405:
        err = method_not_allowed(request.method, request.url.path)
    else:
        err = ActorError("request", Code.INVALID_REQUEST, str(exc.detail))
    response = error_response(request, err)
    if exc.status_code not in (404, 405):
        response.status_code = exc.status_code
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        response.headers["allow"] = ", ".join(_allowed_methods(request))
    return response


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts for this path (Starlette reports only the first)."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(request.url.path):
            methods |= route.methods
    return sorted(methods)


class ActorkitApp(Starlette):
    """A Starlette app whose hot route (action calls) skips the middleware stack."""

    fast_path: ActionFastPath

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._dispatch(scope, receive, send)
        except asyncio.CancelledError:
            # The server cancels the requests still running when its shutdown grace runs
            # out: answer with a clean error body rather than the server's bare 500.
            task = asyncio.current_task()
            if scope["type"] != "http" or task is None:
                raise
            task.uncancel()
            response = error_response(Request(scope), shutdown_interrupted())
            try:
                await response(scope, receive, send)
            except Exception:  # the reply had started: the server closes the connection
                raise asyncio.CancelledError from None

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Middleware added by the user (CORS, auth…) must see every request: then action
        # calls take the normal route (whose endpoint is the same fast-path handler).
        target = None if self.user_middleware else self.fast_path.route(scope)
        if target is None:
            await super().__call__(scope, receive, send)
        else:
            await self.fast_path.handle(scope, receive, send, *target)


def shutdown_interrupted() -> ActorError:
    """A request the server's shutdown cancelled: it may or may not have been applied."""
    return ActorError(
        "actor",
        Code.ACTOR_STOPPING,
        "the server shut down before this call finished (it ran past the shutdown grace); "
        "whether it was applied is unknown: retry it (with the same Idempotency-Key)",
        {"retryable": True, "outcome": "unknown"},
    )


def build_app(
    node: Node,
    *,
    dev: bool = False,
    routes: Sequence[BaseRoute] = (),
    cors_origins: Sequence[str] | None = None,
) -> ActorkitApp:
    """The ASGI app serving ``node``: actor routes, ``/health``, ``/openapi.json``.

    ``cors_origins`` (default: ``ACTORKIT_CORS_ORIGINS``, comma-separated) lets browser pages
    served from those origins call the HTTP API (``["*"]`` for any origin).
    """
    ensure_started = Starter(node)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ensure_started()
        try:
            yield
        finally:
            await ensure_started.stop()

    table: list[BaseRoute] = list(routes)
    for factory in ROUTE_FACTORIES:
        table.extend(factory(node, ensure_started))
    app = ActorkitApp(
        debug=False,
        routes=table,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.fast_path = next(
        r.endpoint for r in table if isinstance(r, Route) and isinstance(r.endpoint, ActionFastPath)
    )
    if cors_origins is None:
        cors_origins = os.environ.get(CORS_ENV, "").split(",")
    origins = [o.strip() for o in cors_origins if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["*"],
            allow_headers=["*"],
            max_age=600,
        )
    app.state.node = node
    app.state.dev = dev
    app.state.ensure_started = ensure_started
    return app
