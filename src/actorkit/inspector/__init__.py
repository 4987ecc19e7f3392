"""The inspector: "Chrome devtools for actors", served at ``/inspector``.

A static single-page UI (``static/``, plain ES modules, no build step) over a JSON API under
``/inspector/api`` and a live WebSocket (``/inspector/api/live``). See ``docs/inspector.md``.

Access: on in dev mode (``actorkit dev``, ``registry.asgi(dev=True)``); otherwise off (404)
unless ``ACTORKIT_INSPECTOR_TOKEN`` is set, then every API request needs
``Authorization: Bearer <token>``. The Python console exists only in dev mode.

Example::

    ACTORKIT_INSPECTOR_TOKEN=s3cret actorkit serve app:registry
    curl -H "Authorization: Bearer s3cret" http://127.0.0.1:6420/inspector/api/actors
"""

from __future__ import annotations

from actorkit.inspector.auth import ENV_TOKEN, InspectorAccess
from actorkit.inspector.routes import inspector_routes

__all__ = ["ENV_TOKEN", "InspectorAccess", "inspector_routes"]
