"""The WebSocket link of ``ActorConnection``: ``ws(s)://host/actors/{id}/connect``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from actorkit.client.connection import LinkClosed
from actorkit.errors import ActorError, Code
from actorkit.protocol.messages import (
    CLOSE_NORMAL,
    MSGPACK_SUBPROTOCOL,
    SUBPROTOCOLS,
    Codec,
    codec_for,
)

try:
    from websockets.asyncio.client import ClientConnection
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
    from websockets.typing import Subprotocol
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "connections over the network need websockets: pip install 'actorkit[client]'"
    ) from exc

__all__ = ["WebSocketLink", "websocket_opener", "ws_url"]

# Frames larger than this are refused by the client (the server enforces its own limit).
MAX_INCOMING_BYTES = 16 * 1024 * 1024


def ws_url(base: str, path: str) -> str:
    """``http://h:p`` + ``/actors/x/connect`` → ``ws://h:p/actors/x/connect``."""
    base = base.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base + path


class WebSocketLink:
    """One WebSocket carrying protocol frames (msgpack by default)."""

    def __init__(self, ws: ClientConnection, codec: Codec) -> None:
        self._ws = ws
        self.codec = codec

    async def send(self, data: bytes) -> None:
        try:
            if self.codec.binary:
                await self._ws.send(data)
            else:
                await self._ws.send(data.decode())
        except ConnectionClosed as exc:
            raise self._closed(exc) from None

    async def recv(self) -> bytes | str:
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            raise self._closed(exc) from None

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        await self._ws.close(code, reason)

    @staticmethod
    def _closed(exc: ConnectionClosed) -> LinkClosed:
        frame = exc.rcvd or exc.sent
        if frame is None:
            return LinkClosed(1006, "connection dropped")
        return LinkClosed(frame.code, frame.reason)


def websocket_opener(
    base_url: str, subprotocol: str = MSGPACK_SUBPROTOCOL
) -> Callable[[str], Awaitable[WebSocketLink]]:
    """A link opener for ``ActorConnection`` against the server at ``base_url``."""
    if subprotocol not in SUBPROTOCOLS:
        raise ValueError(f"subprotocol must be one of {SUBPROTOCOLS}")

    async def open_link(actor_id: str) -> WebSocketLink:
        url = ws_url(base_url, f"/actors/{actor_id}/connect")
        try:
            ws = await ws_connect(
                url,
                subprotocols=[Subprotocol(subprotocol)],
                max_size=MAX_INCOMING_BYTES,
                open_timeout=10,
                compression=None,  # frames are small: deflate costs more CPU than it saves
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 404:
                raise ActorError("actor", Code.ACTOR_NOT_FOUND, f"no actor {actor_id!r}") from None
            raise OSError(f"WebSocket handshake failed with HTTP {status}") from None
        except InvalidHandshake as exc:
            raise OSError(f"WebSocket handshake failed: {exc}") from None
        return WebSocketLink(ws, codec_for(ws.subprotocol))

    return open_link
