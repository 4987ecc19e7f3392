"""System routes: ``/health`` and ``/openapi.json``."""

from __future__ import annotations

import contextlib
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
        membership = node.membership
        status = "ok"
        if node.closing:
            status = "draining"
        elif not membership.serving:
            status = "unavailable"
        if membership.shared:
            with contextlib.suppress(Exception):  # storage away: report what we last knew
                await membership.refresh()
        me = membership.me
        response = encode_response(
            request,
            {
                "status": status,
                "version": __version__,
                "actors_awake": len(node.instances),
                "connections_hibernating": sum(len(s) for s in node.hibernating.values()),
                "node": {
                    "id": me.id,
                    "url": me.url,
                    "region": me.region,
                    "cluster": membership.shared,
                    "unavailable_reason": membership.fenced_reason,
                },
                "peers": [
                    {
                        "id": m.id,
                        "url": m.url,
                        "region": m.region,
                        "live": m.live,
                        "lease_left": round(m.lease_left, 3),
                        "actor_types": list(m.actor_types),
                    }
                    for m in membership.peers()
                ],
            },
        )
        if status != "ok":  # a load balancer that only reads the status sends no more here
            response.status_code = 503
        return response

    @endpoint(spec.OPENAPI)
    async def openapi(request: Request) -> Response:
        return JSONResponse(build_openapi(request.app.routes, __version__))

    return [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
