"""System routes: ``/health`` and ``/openapi.json``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from actorkit.server import openapi_specs as spec
from actorkit.server.encoding import encode_response
from actorkit.server.endpoint import endpoint
from actorkit.server.openapi import build_openapi

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["system_routes"]


def system_routes(node: Node, _ensure: object = None) -> Sequence[BaseRoute]:
    from actorkit import __version__

    @endpoint(spec.HEALTH)
    async def health(request: Request) -> Response:
        return encode_response(
            request,
            {
                "status": "ok",
                "version": __version__,
                "actors_awake": len(node.instances),
                "connections_hibernating": sum(len(s) for s in node.hibernating.values()),
            },
        )

    @endpoint(spec.OPENAPI)
    async def openapi(request: Request) -> Response:
        return JSONResponse(build_openapi(request.app.routes, __version__))

    return [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
