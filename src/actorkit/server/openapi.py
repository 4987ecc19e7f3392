"""``/openapi.json``: the OpenAPI document, generated from the app's route table.

Every route whose endpoint was made with ``@endpoint(openapi)`` contributes its operations,
so adding a route documents it (a test checks that routes and document agree).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Route

from actorkit.server.openapi_specs import SCHEMAS

__all__ = ["build_openapi", "documented_operations"]

_CONVERTER = re.compile(r"{([^}:]+):[^}]+}")


def openapi_path(path: str) -> str:
    """``/actors/{id}/request/{path:path}`` → ``/actors/{id}/request/{path}``."""
    return _CONVERTER.sub(r"{\1}", path)


def documented_operations(routes: Iterable[BaseRoute]) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        ops = getattr(route.endpoint, "__openapi__", None)
        if ops:
            paths.setdefault(openapi_path(route.path), {}).update(ops)
    return paths


def build_openapi(routes: Iterable[BaseRoute], version: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "actorkit",
            "version": version,
            "description": "Stateful actors over HTTP. See docs/protocol.md.",
        },
        "paths": documented_operations(routes),
        "components": {"schemas": SCHEMAS},
    }
