"""The endpoint wrapper every route uses: errors become ``{group, code, message, metadata}``."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from actorkit.errors import ActorError, StorageError, internal_error, storage_failure
from actorkit.server.encoding import error_response

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["Endpoint", "Starter", "endpoint"]

log = logging.getLogger("actorkit.server")

Endpoint = Callable[[Request], Awaitable[Response]]


class Starter:
    """Starts the node once, on first need; ``started`` is a cheap check for hot paths."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.started = False
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        if self.started:
            return
        async with self._lock:
            if not self.started:
                await self.node.start()
                self.started = True

    async def stop(self) -> None:
        await self.node.stop()
        self.started = False


def endpoint(
    openapi: dict[str, Any] | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """Wrap a Starlette endpoint: ``ActorError`` → its status; anything else → 500.

    ``openapi`` is the endpoint's OpenAPI operation (keyed by lower-case HTTP method), read
    by :mod:`actorkit.server.openapi`.
    """

    def wrap(fn: Endpoint) -> Endpoint:
        @functools.wraps(fn)
        async def handle(request: Request) -> Response:
            try:
                return await fn(request)
            except ActorError as err:
                return error_response(request, err)
            except StorageError as exc:
                return error_response(request, storage_failure(exc))
            except Exception:
                log.exception("unhandled error in %s %s", request.method, request.url.path)
                return error_response(request, internal_error())

        handle.__openapi__ = openapi or {}  # type: ignore[attr-defined]
        return handle

    return wrap
