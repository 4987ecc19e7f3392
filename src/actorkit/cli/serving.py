"""``actorkit serve`` and ``actorkit dev``."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from actorkit.cli.extras import require
from actorkit.cli.load import load_registry

__all__ = ["DEV_SHUTDOWN_GRACE", "run_dev", "run_serve"]

#: Seconds a reloading dev worker waits for calls in flight (they then fail cleanly with
#: ``actor_stopping``): a reload, and the requests queued behind it, wait no longer.
DEV_SHUTDOWN_GRACE = 3.0


def _banner(host: str, port: int, storage: str, dev: bool) -> None:
    base = f"http://{host}:{port}"
    lines = [
        f"actorkit {'dev' if dev else 'serve'} — {base}",
        f"  actions   POST {base}/actors/{{id}}/actions/{{action}}",
        f"  health    {base}/health",
        f"  openapi   {base}/openapi.json",
        f"  storage   {storage}",
    ]
    if dev or os.environ.get("ACTORKIT_INSPECTOR_TOKEN"):
        lines.insert(-1, f"  inspector {base}/inspector/")
    try:
        from rich.console import Console

        console = Console(stderr=True)
        console.print(f"[bold green]{lines[0]}[/]")
        for line in lines[1:]:
            console.print(f"[cyan]{line}[/]")
    except ImportError:
        print("\n".join(lines), file=sys.stderr)


def _configure_logging(level: str, pretty: bool) -> None:
    handler: logging.Handler
    if pretty:
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, rich_tracebacks=True)
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("actorkit")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def run_serve(args: argparse.Namespace) -> int:
    require("server", "serve")

    from actorkit.server.run import asgi_app, default_advertise_url, run_uvicorn, storage_usable
    from actorkit.storage import DEFAULT_STORAGE

    registry = load_registry(args.app)
    storage = args.storage or DEFAULT_STORAGE
    if not storage_usable(storage):
        return 1
    app = asgi_app(
        registry,
        storage,
        dev=False,
        region=args.region,
        cors_origins=args.cors_origin,
        advertise_url=args.advertise_url or default_advertise_url(args.host, args.port),
        lease_seconds=args.lease_seconds,
    )
    _configure_logging(args.log_level, pretty=False)
    _banner(args.host, args.port, storage, dev=False)
    run_uvicorn(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def run_dev(args: argparse.Namespace) -> int:
    require("server", "dev")
    require("cli", "dev")
    import uvicorn

    from actorkit.cli.devapp import ENV_APP, ENV_REGION, ENV_STORAGE
    from actorkit.server.run import storage_usable, uvicorn_options
    from actorkit.storage import DEFAULT_STORAGE

    registry = load_registry(args.app)  # fail fast, with a clear message, before reloading
    storage = args.storage or DEFAULT_STORAGE
    if not storage_usable(storage):
        return 1
    os.environ[ENV_APP] = args.app
    os.environ[ENV_STORAGE] = storage
    if args.region:
        os.environ[ENV_REGION] = args.region
    if args.cors_origin:
        from actorkit.server.app import CORS_ENV

        os.environ[CORS_ENV] = ",".join(args.cors_origin)  # read by the reloaded app
    _configure_logging("debug" if args.verbose else "info", pretty=True)
    _banner(args.host, args.port, storage, dev=True)
    uvicorn.run(
        "actorkit.cli.devapp:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        reload=not args.no_reload,
        reload_dirs=[os.getcwd()],
        log_level="info",
        use_colors=True,
        **{**uvicorn_options(registry.limits), "timeout_graceful_shutdown": DEV_SHUTDOWN_GRACE},
    )
    return 0
