"""The HTTP server: an ASGI app (Starlette) serving a node, run by uvicorn.

Needs the ``server`` extra (``pip install 'actorkit[server]'``). The app is built by
``actorkit.server.app.build_app`` from ``actorkit.server.app.ROUTE_FACTORIES``;
``actorkit.server.run`` has ``asgi_app`` and ``serve`` (what ``registry.asgi()`` and
``registry.run()`` call).
"""

# Imports nothing: the inspector builds on this package's helpers (encoding, endpoint,
# errors) and the app mounts the inspector, so importing the app here would make each
# package import the other.
