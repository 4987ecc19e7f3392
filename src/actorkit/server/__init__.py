"""The HTTP server: an ASGI app (Starlette) serving a node, run by uvicorn.

Needs the ``server`` extra (``pip install 'actorkit[server]'``).
"""

from __future__ import annotations

from actorkit.server.app import ROUTE_FACTORIES, build_app
from actorkit.server.run import asgi_app, serve

__all__ = ["ROUTE_FACTORIES", "asgi_app", "build_app", "serve"]
