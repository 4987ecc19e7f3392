"""The server's side of authentication: run the ``authenticate`` hooks at every entry point
before anything creates or wakes an actor (``actorkit._runtime.auth`` has the hooks).

Each route calls ``admit`` (or, for sockets, ``connect_gate``/``admit_socket``) first. An
actor addressed by id is named from its stored record (or its awake instance), which does
not wake it. Nothing here costs anything when no hook is configured.

In a cluster a call forwarded to the owner node is authenticated again there, so it carries
the client's headers along (``client_headers``); calls made by actors never do. A call that
actor code on another node makes carries the cluster secret instead (``ACTORKIT_CLUSTER_SECRET``,
the same on every node), and is not authenticated, like any call an actor makes in-process.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from starlette.types import Scope
from starlette.websockets import WebSocket

from actorkit._runtime import context
from actorkit._runtime.auth import AuthRequest, Intent, authenticate, headers_from_asgi
from actorkit.errors import ActorError
from actorkit.protocol.keys import normalize_key

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = [
    "NODE_SECRET_HEADER",
    "admit",
    "admit_socket",
    "client_headers",
    "connect_gate",
    "forwardable",
]

#: Proof that a forwarded call was made by actor code on another node of the cluster.
NODE_SECRET_HEADER = "x-actorkit-cluster-secret"

#: Close code for a raw WebSocket refused before it opened (the client sees HTTP 403).
CLOSE_POLICY = 1008

# Headers a forwarding node sets itself (or that belong to one hop only).
_NOT_FORWARDED = {
    "accept",
    "accept-encoding",
    "connection",
    "content-length",
    "content-type",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
}

# The headers of the request this context authenticated (set only when hooks exist).
_admitted: ContextVar[Mapping[str, str] | None] = ContextVar("actorkit_admitted", default=None)


async def admit(
    node: Node,
    scope: Scope,
    intent: Intent,
    *,
    actor_id: str | None = None,
    name: str | None = None,
    key: Any = None,
    action: str | None = None,
    params: Any = None,
) -> None:
    """Authenticate the request ``scope`` for ``intent``; raises the refusal's ``ActorError``.

    With ``actor_id`` and no ``name``, the actor's name and key are read from storage (an
    unknown id is ``actor_not_found``); the actor is not woken. ``key`` is checked and
    normalized (``"a"`` is ``("a",)``) when given with ``name``.
    """
    if not node.registry.authenticates:
        return
    headers = headers_from_asgi(scope.get("headers") or [])
    trusts = getattr(node.forwarder, "trusts", None)
    if trusts is not None and trusts(headers.get(NODE_SECRET_HEADER)):
        return  # actor code on a peer node: the application's own call
    if actor_id is not None and name is None:
        record = await node.get_record(actor_id)
        name, key = record.name, record.key
    elif name is not None and intent != "list":
        key = normalize_key(key, node.limits)
    peer = scope.get("client")
    request = AuthRequest(
        intent=intent,
        actor_name=name,
        key=key,
        actor_id=actor_id,
        action=action,
        params=params,
        headers=headers,
        client=(str(peer[0]), int(peer[1])) if peer else None,
    )
    await authenticate(node.registry, request)
    _admitted.set(headers)


def connect_gate(
    node: Node, scope: Scope, actor_id: str
) -> Callable[[Any], Awaitable[None]] | None:
    """For a connection socket: a check of its ``init`` params (``None`` without hooks)."""
    if not node.registry.authenticates:
        return None

    async def gate(params: Any) -> None:
        await admit(node, scope, "connect", actor_id=actor_id, params=params)

    return gate


async def admit_socket(node: Node, ws: WebSocket, intent: Intent) -> bool:
    """Authenticate a raw WebSocket before it is accepted (params: ``?params=<json>``);
    a refusal closes it with 1008 and the code as reason, and returns False."""
    if not node.registry.authenticates:
        return True
    try:
        params: Any = json.loads(ws.query_params.get("params") or "{}")
    except ValueError:
        params = None  # the route itself refuses malformed params
    try:
        await admit(node, ws.scope, intent, actor_id=ws.path_params["actor_id"], params=params)
    except ActorError as err:
        await ws.close(CLOSE_POLICY, err.code)
        return False
    return True


def forwardable(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` without those that belong to one hop, or that actorkit sets itself."""
    return {
        name: value
        for name, value in headers.items()
        if name.lower() not in _NOT_FORWARDED
        and not name.lower().startswith(("x-actorkit-", "sec-websocket-"))
    }


def client_headers() -> dict[str, str]:
    """The headers to forward with a call to another node: those of the client request
    this context authenticated — none when no hook ran, or when an actor makes the call
    (an actor turn is in the call chain)."""
    admitted = _admitted.get()
    if admitted is None or context.call_chain.get():
        return {}
    return forwardable(admitted)
