"""The app factory ``actorkit dev`` hands to uvicorn's reloader (re-imported on change).

If the app cannot be imported (a syntax error mid-edit), the factory does not fail: the
worker serves ``app_not_loaded`` (503, with the error) to every request until the next
change is saved and the reloader starts a new worker. Failing would leave the reloader's
socket open with nobody answering, and requests would hang.
"""

from __future__ import annotations

import logging
import os
import traceback

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from actorkit.cli.load import load_registry
from actorkit.errors import ActorError, Code
from actorkit.server.run import asgi_app

__all__ = ["create_app", "not_loaded_app"]

ENV_APP = "ACTORKIT_APP"
ENV_STORAGE = "ACTORKIT_STORAGE"
ENV_REGION = "ACTORKIT_REGION"

log = logging.getLogger("actorkit.server")


def create_app() -> Starlette:
    target = os.environ[ENV_APP]
    try:
        registry = load_registry(target)
    except Exception as exc:
        log.error("cannot load %s; fix it and save to reload:\n%s", target, traceback.format_exc())
        return not_loaded_app(target, exc)
    return asgi_app(
        registry, os.environ.get(ENV_STORAGE), dev=True, region=os.environ.get(ENV_REGION)
    )


def not_loaded_app(target: str, exc: BaseException) -> Starlette:
    """An app that answers every HTTP request with 503 ``app_not_loaded`` naming ``exc``."""
    error = ActorError(
        "internal",
        Code.APP_NOT_LOADED,
        f"the app {target} could not be loaded: {type(exc).__name__}: {exc}; "
        "fix it and save, and the dev server reloads",
        {"app": target, "exception": type(exc).__name__, "detail": str(exc)},
    )

    async def refuse(request: Request) -> JSONResponse:
        return JSONResponse(error.to_wire(), status_code=503, headers={"retry-after": "1"})

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", refuse, methods=methods)])
