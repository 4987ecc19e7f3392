"""``/inspector/api/live``: the activity feed over a WebSocket, as JSON text messages.

The server sends ``{"type": "hello", "dev", "console", "seq"}`` first, then one
``{"type": "event", ...event}`` per activity event (``wake``, ``sleep``, ``action``,
``state``, ``broadcast``, ``connect``, ``disconnect``, ``schedule``, ...). Filter with
``?actor_id=`` or by sending ``{"actor_id": "..."}`` (``null`` for all actors; answered
with ``{"type": "filter", "actor_id"}`` once it applies). A client
that falls behind by more than ``QUEUE_SIZE`` events gets ``{"type": "dropped", "count"}``
instead of the missed events. An unauthorized socket gets ``{"type": "error", ...}`` and
is closed with code 4401; a socket opened by a page of another origin, with 4403.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from actorkit.errors import ActorError, Code
from actorkit.inspector.auth import SUBPROTOCOL, InspectorAccess, check_origin

if TYPE_CHECKING:
    from actorkit._runtime.activity import ActivityEvent
    from actorkit._runtime.node import Node

__all__ = ["CLOSE_FORBIDDEN", "CLOSE_UNAUTHORIZED", "QUEUE_SIZE", "live_endpoint"]

QUEUE_SIZE = 2000
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403

_encoder = msgspec.json.Encoder(enc_hook=repr)


def _encode(message: Any) -> str:
    return _encoder.encode(message).decode()


def live_endpoint(
    node: Node, access: InspectorAccess, ensure: Callable[[], Awaitable[None]]
) -> Callable[[WebSocket], Awaitable[None]]:
    async def live(websocket: WebSocket) -> None:
        offered = websocket.headers.get("sec-websocket-protocol", "")
        subprotocol = SUBPROTOCOL if SUBPROTOCOL in offered else None
        await websocket.accept(subprotocol=subprotocol)
        try:
            check_origin(websocket)
            access.check(websocket)
        except ActorError as err:
            await websocket.send_text(_encode({"type": "error", **err.to_wire()}))
            forbidden = err.code == Code.FORBIDDEN
            await websocket.close(
                CLOSE_FORBIDDEN if forbidden else CLOSE_UNAUTHORIZED, err.code
            )
            return
        await ensure()
        await _serve(node, access, websocket)

    return live


async def _serve(node: Node, access: InspectorAccess, websocket: WebSocket) -> None:
    queue: asyncio.Queue[ActivityEvent] = asyncio.Queue(QUEUE_SIZE)
    dropped = 0
    wanted: list[str | None] = [websocket.query_params.get("actor_id") or None]

    def listener(event: ActivityEvent) -> None:
        nonlocal dropped
        if wanted[0] is not None and event["actor_id"] != wanted[0]:
            return
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            dropped += 1

    async def send_loop() -> None:
        nonlocal dropped
        while True:
            event = await queue.get()
            if dropped:
                count, dropped = dropped, 0
                await websocket.send_text(_encode({"type": "dropped", "count": count}))
            await websocket.send_text(_encode({"type": "event", **event}))

    recent = node.activity.recent
    await websocket.send_text(_encode({
        "type": "hello",
        "dev": access.dev,
        "console": access.console,
        "seq": recent[-1]["seq"] if recent else 0,
    }))
    unsubscribe = node.activity.subscribe(listener)
    sender = asyncio.get_running_loop().create_task(send_loop())
    try:
        while True:
            text = await websocket.receive_text()
            message: Any = None
            with contextlib.suppress(msgspec.DecodeError):
                message = msgspec.json.decode(text)
            if isinstance(message, dict) and "actor_id" in message:
                actor_id = message["actor_id"]
                wanted[0] = actor_id if isinstance(actor_id, str) and actor_id else None
                await websocket.send_text(_encode({"type": "filter", "actor_id": wanted[0]}))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        unsubscribe()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
