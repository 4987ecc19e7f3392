"""The app factory ``actorkit dev`` hands to uvicorn's reloader (re-imported on change)."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from actorkit.cli.load import load_registry
from actorkit.server.run import asgi_app

__all__ = ["create_app"]

ENV_APP = "ACTORKIT_APP"
ENV_STORAGE = "ACTORKIT_STORAGE"
ENV_REGION = "ACTORKIT_REGION"


def create_app() -> Starlette:
    registry = load_registry(os.environ[ENV_APP])
    return asgi_app(
        registry, os.environ.get(ENV_STORAGE), dev=True, region=os.environ.get(ENV_REGION)
    )
