"""Building the app for a registry and running it under uvicorn."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from actorkit.server.app import build_app

if TYPE_CHECKING:
    from actorkit._runtime.registry import Registry
    from actorkit.options import Limits

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "ENV_ADVERTISE_URL",
    "ENV_CLUSTER_SECRET",
    "ENV_LEASE_SECONDS",
    "ENV_NODE_ID",
    "ENV_REGION",
    "ENV_SHUTDOWN_GRACE",
    "ENV_STORAGE",
    "MAX_REQUEST_HEAD_BYTES",
    "asgi_app",
    "default_advertise_url",
    "run_uvicorn",
    "serve",
    "storage_usable",
    "uvicorn_options",
]

log = logging.getLogger("actorkit.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6420
SHUTDOWN_GRACE = 30.0
#: Bytes of one request's line and headers (cookies and ``X-Actorkit-Params`` included);
#: a longer head is refused while it arrives.
MAX_REQUEST_HEAD_BYTES = 64 * 1024


#: Environment variables for the settings ``asgi_app`` is not given (the CLI's flags too).
ENV_STORAGE = "ACTORKIT_STORAGE"
ENV_REGION = "ACTORKIT_REGION"
ENV_ADVERTISE_URL = "ACTORKIT_ADVERTISE_URL"
ENV_LEASE_SECONDS = "ACTORKIT_LEASE_SECONDS"
#: A secret every node of a cluster shares: calls that actor code forwards to a peer carry
#: it, and skip the peer's ``authenticate`` hooks (docs/auth.md).
ENV_CLUSTER_SECRET = "ACTORKIT_CLUSTER_SECRET"
ENV_NODE_ID = "ACTORKIT_NODE_ID"
#: Seconds a stopping server waits for requests in flight (default 30); those still running
#: then end with a 503 ``actor_stopping`` and the actors sleep.
ENV_SHUTDOWN_GRACE = "ACTORKIT_SHUTDOWN_GRACE"


def asgi_app(
    registry: Registry,
    storage: str | None = None,
    *,
    dev: bool = False,
    region: str | None = None,
    cors_origins: Sequence[str] | None = None,
    advertise_url: str | None = None,
    lease_seconds: float | None = None,
    node_id: str | None = None,
) -> Starlette:
    """The ASGI app serving ``registry`` on ``storage`` (default ``sqlite:///.actorkit``).

    With a shared storage (``postgresql://…``) the node joins a cluster: ``advertise_url``
    is the base URL other nodes reach it at, ``lease_seconds`` its membership lease
    (default 10). Each setting not given is read from its ``ACTORKIT_…`` variable.
    """
    from actorkit._runtime.membership import DEFAULT_LEASE_SECONDS
    from actorkit._runtime.node import Node
    from actorkit.local import local_client
    from actorkit.server.forward import HttpForwarder
    from actorkit.storage import DEFAULT_STORAGE, driver_from_url

    env = os.environ
    driver = driver_from_url(storage or env.get(ENV_STORAGE) or DEFAULT_STORAGE)
    lease = lease_seconds or float(env.get(ENV_LEASE_SECONDS) or DEFAULT_LEASE_SECONDS)
    advertise_url = (advertise_url or env.get(ENV_ADVERTISE_URL) or "").rstrip("/") or None
    if driver.shared and advertise_url is None:
        log.warning(
            "no advertise URL (--advertise-url / %s): other nodes cannot forward to this one",
            ENV_ADVERTISE_URL,
        )
    node = Node(
        registry,
        driver,
        dev=dev,
        region=region or env.get(ENV_REGION),
        client_factory=local_client,
        forwarder=HttpForwarder(secret=env.get(ENV_CLUSTER_SECRET)),
        advertise_url=advertise_url,
        lease_seconds=lease,
        node_id=node_id or env.get(ENV_NODE_ID),
    )
    return build_app(node, dev=dev, cors_origins=cors_origins)


def storage_usable(storage: str) -> bool:
    """Open and close ``storage`` once; if that fails, print one line naming the problem
    to stderr and return False — so a server that cannot use its storage exits with status
    1 and a clear reason instead of a failed start-up's traceback."""
    from actorkit.errors import StorageError
    from actorkit.storage import driver_from_url

    async def check() -> None:
        driver = driver_from_url(storage)
        await driver.open()
        await driver.close()

    try:
        asyncio.run(check())
    except (StorageError, ValueError, OSError) as exc:
        print(f"actorkit: cannot open storage {_redacted(storage)}: {exc}", file=sys.stderr)
        return False
    return True


def _redacted(url: str) -> str:
    """``url`` without a password."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def default_advertise_url(host: str, port: int) -> str:
    """Where other nodes reach a server bound to ``host:port`` (a wildcard bind advertises
    this machine's host name)."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def uvicorn_options(limits: Limits | None = None) -> dict[str, Any]:
    """uvloop + httptools when installed; uvicorn's pure-Python fallbacks otherwise.

    With ``limits`` (the registry's), uvicorn's own caps are set from them, for what must be
    refused before it is buffered: a WebSocket message larger than ``max_message_bytes`` is
    refused with close 1009 as soon as its header arrives (the session's own check comes
    after uvicorn read it whole), and a request head over ``MAX_REQUEST_HEAD_BYTES`` with 431
    while it arrives. Bodies need no cap here: uvicorn stops reading a body the app does not
    consume, and the app reads each up to its own limit.
    """
    # On SIGTERM/SIGINT uvicorn stops accepting, waits this long for in-flight requests,
    # then runs the lifespan shutdown, where every actor sleeps and its state is saved.
    grace = float(os.environ.get(ENV_SHUTDOWN_GRACE) or SHUTDOWN_GRACE)
    opts: dict[str, Any] = {"lifespan": "on", "timeout_graceful_shutdown": grace}
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
    if limits is not None:
        opts["ws_max_size"] = limits.max_message_bytes
        if opts["http"] == "httptools":  # it has no cap of its own on a request's head
            opts["http"] = "actorkit.server.httphead:BoundedHttpToolsProtocol"
        else:
            opts["h11_max_incomplete_event_size"] = MAX_REQUEST_HEAD_BYTES
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
    advertise_url: str | None = None,
    lease_seconds: float | None = None,
    node_id: str | None = None,
) -> None:
    """Serve ``registry`` over HTTP until interrupted (blocking).

    Exits with status 1 and one line on stderr if the storage cannot be opened.
    """
    from actorkit.storage import DEFAULT_STORAGE

    if not storage_usable(storage or os.environ.get(ENV_STORAGE) or DEFAULT_STORAGE):
        raise SystemExit(1)
    app = asgi_app(
        registry,
        storage,
        dev=dev,
        region=region,
        cors_origins=cors_origins,
        advertise_url=advertise_url
        or os.environ.get(ENV_ADVERTISE_URL)
        or default_advertise_url(host, port),
        lease_seconds=lease_seconds,
        node_id=node_id,
    )
    logging.getLogger("actorkit").setLevel(log_level.upper())
    run_uvicorn(app, host=host, port=port, log_level=log_level)


def run_uvicorn(app: Starlette, *, host: str, port: int, log_level: str) -> None:
    """Run ``app`` under uvicorn until SIGINT/SIGTERM, then shut down gracefully.

    On shutdown a cluster node drains *before* uvicorn stops listening and closes its
    connections: every actor sleeps and is released, requests that arrive meanwhile are
    handed to other nodes, and the node leaves the cluster. So peers never send a call to a
    connection that is being closed (which would leave its outcome unknown).
    """
    import uvicorn

    class DrainingServer(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            starter = getattr(app.state, "ensure_started", None)
            # Alone, a node has no one to hand requests to: it stops listening at once.
            if starter is not None and starter.started and starter.node.driver.shared:
                try:
                    await starter.node.drain()
                except Exception:
                    log.exception("draining the node failed")
            await super().shutdown(sockets)

    opts = uvicorn_options(app.state.node.limits)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, **opts)
    DrainingServer(config).run()
