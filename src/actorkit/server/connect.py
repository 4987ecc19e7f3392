"""WebSocket routes: the connection protocol, raw ``on_websocket``, and the browser client.

- ``GET /actors/{id}/connect`` — the connection protocol (``docs/protocol.md``), subprotocol
  ``actorkit.json`` (default) or ``actorkit.msgpack``.
- ``/actors/{id}/websocket/{path}`` — hands the accepted socket to ``on_websocket(websocket)``.
- ``GET /actorkit.js`` and ``/actorkit.d.ts`` — the browser client (``docs/browser.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from actorkit._runtime.forwarding import MAX_HOPS
from actorkit._runtime.sessions import ConnectionSession, QueuePipe
from actorkit.errors import ActorError
from actorkit.protocol.messages import (
    CLOSE_INTERNAL,
    CLOSE_LIVENESS,
    CLOSE_MOVED,
    CLOSE_PROTOCOL_ERROR,
    SUBPROTOCOLS,
    codec_for,
)
from actorkit.server.auth import admit_socket, connect_gate
from actorkit.server.bodies import decode_params
from actorkit.server.endpoint import endpoint
from actorkit.server.forward import forwarded_hops, proxy_websocket

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["CLOSE_TIMEOUT", "INIT_TIMEOUT", "connect_routes"]

#: Seconds a new socket has to send ``init``.
INIT_TIMEOUT = 10.0
#: Seconds the last frames and the close of a socket the server closes may take to leave.
CLOSE_TIMEOUT = 1.0

_STATIC = {
    "actorkit.js": "text/javascript; charset=utf-8",
    "actorkit.d.ts": "application/typescript; charset=utf-8",
}


def connect_routes(
    node: Node, ensure_started: Callable[[], Awaitable[None]]
) -> Sequence[BaseRoute]:
    """The routes of this module, for ``actorkit.server.app.ROUTE_FACTORIES``."""

    async def connect(ws: WebSocket) -> None:
        await ensure_started()
        # With authentication, the actor wakes only once its init is admitted.
        if await _proxied(node, ws, wake=not node.registry.authenticates):
            return
        offered = ws.scope.get("subprotocols") or []
        subprotocol = next((p for p in offered if p in SUBPROTOCOLS), None)
        await ws.accept(subprotocol=subprotocol)
        await serve_connection(node, ws, ws.path_params["actor_id"], subprotocol)

    async def raw(ws: WebSocket) -> None:
        await ensure_started()
        if not await admit_socket(node, ws, "websocket"):
            return
        if await _proxied(node, ws):
            return
        await serve_raw_websocket(node, ws, ws.path_params["actor_id"])

    @endpoint(_static_spec("browser_client", "The browser client (ES module)", "actorkit.js"))
    async def client_js(request: Request) -> Response:
        return _static("actorkit.js")

    @endpoint(
        _static_spec("browser_client_types", "TypeScript types of /actorkit.js", "actorkit.d.ts")
    )
    async def client_dts(request: Request) -> Response:
        return _static("actorkit.d.ts")

    return [
        WebSocketRoute("/actors/{actor_id}/connect", connect),
        WebSocketRoute("/actors/{actor_id}/websocket/{path:path}", raw),
        Route("/actorkit.js", client_js, methods=["GET"]),
        Route("/actorkit.d.ts", client_dts, methods=["GET"]),
    ]


async def _proxied(node: Node, ws: WebSocket, *, wake: bool = True) -> bool:
    """Hand the socket to the node that owns its actor, if that is not this one."""
    try:
        moved = await node.locate(ws.path_params["actor_id"], wake=wake)
    except ActorError as err:
        if not _retryable(err):
            return False  # answered here, in the route's own terms (e.g. actor_not_found)
        # The node is fenced, storage is away: close so the client comes back.
        await ws.accept()
        await ws.close(CLOSE_MOVED, err.code)
        return True
    if moved is None:
        return False
    if forwarded_hops(ws.headers) >= MAX_HOPS:
        await ws.accept()
        await ws.close(CLOSE_MOVED, moved.code)
        return True
    await proxy_websocket(ws, moved.url, ws.scope["path"])
    return True


def _retryable(err: ActorError) -> bool:
    return isinstance(err.metadata, dict) and err.metadata.get("retryable") is True


def _static(name: str) -> Response:
    body = resources.files("actorkit.static").joinpath(name).read_bytes()
    return Response(body, media_type=_STATIC[name], headers={"Cache-Control": "no-cache"})


def _static_spec(operation_id: str, summary: str, name: str) -> dict[str, Any]:
    media = _STATIC[name].split(";")[0]
    content = {media: {"schema": {"type": "string"}}}
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "responses": {"200": {"description": name, "content": content}},
        }
    }


async def serve_connection(
    node: Node, ws: WebSocket, actor_id: str, subprotocol: str | None
) -> None:
    """Run the connection protocol on an accepted socket until either side closes it."""
    codec = codec_for(subprotocol)

    async def send(data: bytes) -> None:
        if codec.binary:
            await ws.send_bytes(data)
        else:
            await ws.send_text(data.decode())

    async def close(code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await ws.close(code, reason)

    pipe = QueuePipe(codec, node.limits.max_conn_buffer_bytes, send, close)
    session = ConnectionSession(node, actor_id, pipe, connect_gate(node, ws.scope, actor_id))
    pipe.start()
    watchdog = asyncio.ensure_future(_watch(session, pipe))
    task = asyncio.current_task()
    assert task is not None
    waiting = False  # suspended in ws.receive(): the one place a close may interrupt us
    interrupted = False

    def stop_receiving() -> None:
        # Closing: read no more. A frame being handled finishes first (never cut a connect
        # or a wake in half); the loop then sees ``pipe.closing`` and stops.
        nonlocal interrupted
        if waiting and not interrupted:
            interrupted = True
            task.cancel()

    pipe.on_closing = stop_receiving
    clean = False
    try:
        while pipe.closing is None:
            waiting = True
            try:
                message = await ws.receive()
            except asyncio.CancelledError:
                if interrupted and task.uncancel() == 0:
                    break  # our own interruption (not the server's shutdown)
                raise
            finally:
                waiting = False
            if message["type"] == "websocket.disconnect":
                clean = message.get("code") in (1000, 1001)
                break
            data = message.get("bytes")
            if data is None:
                data = message.get("text") or ""
            await session.feed(data)
    except Exception:
        pipe.close(CLOSE_INTERNAL, "internal error")
        raise
    finally:
        watchdog.cancel()
        session.closed(clean=clean)
        # Give queued frames (a final error, a close) a moment; a client that does not read
        # them does not hold the server any longer than that.
        with contextlib.suppress(asyncio.CancelledError):
            await pipe.finish(CLOSE_TIMEOUT)


async def _watch(session: ConnectionSession, pipe: QueuePipe) -> None:
    """Init deadline and liveness: ping every interval, close a socket that went silent."""
    start = time.monotonic()
    interval = session.ping_interval
    while True:
        await asyncio.sleep(min(interval, INIT_TIMEOUT) / 2)
        now = time.monotonic()
        if session.conn is None and session.hibernated is None and now - start > INIT_TIMEOUT:
            pipe.close(CLOSE_PROTOCOL_ERROR, "no init received")
            return
        if now - session.last_seen > 2 * interval + 5:
            pipe.close(CLOSE_LIVENESS, "liveness timeout")
            return
        if (session.conn or session.hibernated) and now - session.last_seen > interval:
            session.ping()


async def serve_raw_websocket(node: Node, ws: WebSocket, actor_id: str) -> None:
    """Hand an accepted socket to the actor's ``on_websocket(websocket)``.

    Connection params come from the ``params`` query parameter (JSON) and are checked by
    ``on_before_connect``; a refusal is an HTTP 403 before the socket opens.
    """
    try:
        query = ws.query_params.get("params") or "{}"
        params = decode_params(query, node.limits, "the params query parameter")
    except ActorError as err:
        await ws.close(1008, err.code)
        return
    try:
        inst = await node.instance(actor_id)
        hooks = inst.definition.hooks
        if "on_websocket" not in hooks:
            await ws.close(1008, "actor has no on_websocket")
            return
        if "on_before_connect" in hooks:
            await inst._hook("on_before_connect", params)
    except ActorError as err:
        await ws.close(1008, err.code)
        return
    await ws.accept()
    try:
        await inst.run_interleaved(
            "on_websocket",
            lambda actor: actor.on_websocket(ws),  # type: ignore[attr-defined]
            bounded=False,
        )
    except (WebSocketDisconnect, ActorError):
        pass
    finally:
        with contextlib.suppress(Exception):
            await ws.close()
