"""The endpoint wrapper every route uses: errors become ``{group, code, message, metadata}``."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from actorkit.errors import ActorError, internal_error
from actorkit.server.encoding import error_response

__all__ = ["Endpoint", "endpoint"]

log = logging.getLogger("actorkit.server")

Endpoint = Callable[[Request], Awaitable[Response]]


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
            except Exception:
                log.exception("unhandled error in %s %s", request.method, request.url.path)
                return error_response(request, internal_error())

        handle.__openapi__ = openapi or {}  # type: ignore[attr-defined]
        return handle

    return wrap
