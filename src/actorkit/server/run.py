"""Building the app for a registry and running it under uvicorn."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from actorkit.server.app import build_app

if TYPE_CHECKING:
    from actorkit._runtime.registry import Registry

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "asgi_app", "serve", "uvicorn_options"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6420
SHUTDOWN_GRACE = 30.0


def asgi_app(
    registry: Registry,
    storage: str | None = None,
    *,
    dev: bool = False,
    region: str | None = None,
    cors_origins: Sequence[str] | None = None,
) -> Starlette:
    """The ASGI app serving ``registry`` on ``storage`` (default ``sqlite:///.actorkit``)."""
    from actorkit._runtime.node import Node
    from actorkit.local import local_client
    from actorkit.storage import DEFAULT_STORAGE, driver_from_url

    driver = driver_from_url(storage or DEFAULT_STORAGE)
    node = Node(registry, driver, dev=dev, region=region, client_factory=local_client)
    return build_app(node, dev=dev, cors_origins=cors_origins)


def uvicorn_options() -> dict[str, Any]:
    """uvloop + httptools when installed; uvicorn's pure-Python fallbacks otherwise."""
    # On SIGTERM/SIGINT uvicorn stops accepting, waits this long for in-flight requests,
    # then runs the lifespan shutdown, where every actor sleeps and its state is saved.
    opts: dict[str, Any] = {"lifespan": "on", "timeout_graceful_shutdown": SHUTDOWN_GRACE}
    try:
        import uvloop  # noqa: F401

        opts["loop"] = "uvloop"
    except ImportError:
        opts["loop"] = "asyncio"
    try:
        import httptools  # noqa: F401

        opts["http"] = "httptools"
    except ImportError:
        opts["http"] = "h11"
    return opts


def serve(
    registry: Registry,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    storage: str | None = None,
    dev: bool = False,
    region: str | None = None,
    log_level: str = "info",
    cors_origins: Sequence[str] | None = None,
) -> None:
    """Serve ``registry`` over HTTP until interrupted (blocking)."""
    import uvicorn

    app = asgi_app(registry, storage, dev=dev, region=region, cors_origins=cors_origins)
    logging.getLogger("actorkit").setLevel(log_level.upper())
    uvicorn.run(app, host=host, port=port, log_level=log_level, **uvicorn_options())
