"""A pure-ASGI fast path for the hot route, ``POST /actors/{id}/actions/{action}``.

Same contract as the Starlette endpoint in routes_actors.py (same body limit, content types,
params, errors, encodings) without building a Request, routing through the route table or
the exception middleware. Every other request goes to the wrapped app unchanged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette._utils import get_route_path
from starlette.types import Receive, Scope, Send

from actorkit._runtime import context
from actorkit.errors import ActorError, StorageError, internal_error, storage_failure
from actorkit.server.auth import NODE_SECRET_HEADER, admit
from actorkit.server.bodies import (
    IDEMPOTENCY_HEADER,
    PARAMS_HEADER,
    action_args,
    action_kwargs,
    check_not_cross_site,
    parse_params,
)
from actorkit.server.encoding import (
    JSON,
    MSGPACK,
    check_declared_length,
    client_gone,
    decode_payload,
    encode_payload,
    over_limit,
    reply_in_msgpack,
)
from actorkit.server.endpoint import Starter
from actorkit.server.errors import http_status
from actorkit.server.forward import CHAIN_HEADER, HOPS_HEADER, parse_hops

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["ActionFastPath"]

log = logging.getLogger("actorkit.server")

_PARAMS = PARAMS_HEADER.encode()
_CHAIN = CHAIN_HEADER.encode()
_HOPS = HOPS_HEADER.encode()
_IDEMPOTENCY = IDEMPOTENCY_HEADER.encode()
_NODE_SECRET = NODE_SECRET_HEADER.encode()
_MEDIA = {JSON: JSON.encode(), MSGPACK: MSGPACK.encode()}


class ActionFastPath:
    """Answers action calls: as the route's ASGI endpoint, and ahead of routing
    (``ActorkitApp`` asks ``route(scope)`` first)."""

    def __init__(self, node: Node, ensure_started: Starter) -> None:
        self.node = node
        self.ensure_started = ensure_started
        self.limit = node.limits.max_message_bytes
        self.__openapi__: dict[str, Any] = {}  # set by the route (see openapi.py)

    def route(self, scope: Scope) -> tuple[str, str] | None:
        """``(actor_id, action)`` if ``scope`` is an action call, else None."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        parts = get_route_path(scope).split("/")
        if len(parts) != 5 or parts[1] != "actors" or parts[3] != "actions":
            return None
        return (parts[2], parts[4]) if parts[2] and parts[4] else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As the ``/actors/{actor_id}/actions/{action}`` route's ASGI endpoint."""
        params = scope["path_params"]
        await self.handle(scope, receive, send, params["actor_id"], params["action"])

    def _from_peer_actor(self, secret: str) -> bool:
        """Whether ``secret`` is the cluster's (``ACTORKIT_CLUSTER_SECRET``): the call was
        made by actor code on a peer node, so the app's internal actions exist for it."""
        trusts = getattr(self.node.forwarder, "trusts", None)
        return trusts is not None and bool(trusts(secret))

    async def handle(
        self, scope: Scope, receive: Receive, send: Send, actor_id: str, action: str
    ) -> None:
        """Answer the action call ``route(scope)`` found."""
        content_type = ""
        accept: str | None = None
        length: str | None = None
        params: str | None = None
        chain: str | None = None  # set when another node forwarded the call
        key: str | None = None  # Idempotency-Key
        secret: str | None = None  # a peer node's: actor code there made the call
        hops = 0
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"content-length":
                length = value.decode("latin-1")
            elif name == _PARAMS:
                params = value.decode("latin-1")
            elif name == _CHAIN:
                chain = value.decode("latin-1")
            elif name == _HOPS:
                hops = parse_hops(value)
            elif name == _IDEMPOTENCY:
                key = value.decode("latin-1")
            elif name == _NODE_SECRET:
                secret = value.decode("latin-1")
        msgpack = reply_in_msgpack(accept, content_type)
        reply: Any
        try:
            check_not_cross_site(content_type, scope["headers"])
            if not self.ensure_started.started:
                await self.ensure_started()
            body = await self._read(receive, length)
            data = decode_payload(content_type, body)
            args = action_args(data)
            kwargs = action_kwargs(data)
            conn_params = parse_params(params, self.node.limits, data or {})
            if chain:
                context.call_chain.set(context.import_chain(self.node.id, chain))
            if self.node.registry.authenticates:
                await admit(
                    self.node, scope, "call", actor_id=actor_id, action=action, params=conn_params
                )
            output = await self.node.call(
                actor_id,
                action,
                args,
                params=conn_params,
                hops=hops,
                idempotency_key=key,
                kwargs=kwargs,
                inside=secret is not None and self._from_peer_actor(secret),
            )
            reply, status = {"output": output}, 200
        except ActorError as err:
            reply, status = err.to_wire(), http_status(err)
        except StorageError as exc:
            failure = storage_failure(exc)
            reply, status = failure.to_wire(), http_status(failure)
        except Exception:
            log.exception("unhandled error in POST %s", scope["path"])
            failure = internal_error()
            reply, status = failure.to_wire(), http_status(failure)
        payload, media, status = encode_payload(msgpack, reply, status)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", _MEDIA[media]),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _read(self, receive: Receive, declared: str | None) -> bytes:
        limit = self.limit
        check_declared_length(declared, limit)
        message = await receive()
        if message["type"] != "http.request":
            raise client_gone()
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            if len(body) > limit:
                raise over_limit(limit)
            return body
        chunks = [body]
        total = len(body)
        while message.get("more_body", False):
            message = await receive()
            if message["type"] != "http.request":
                raise client_gone()
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                raise over_limit(limit)
            chunks.append(chunk)
        return b"".join(chunks)
