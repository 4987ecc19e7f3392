"""The connection protocol: small tagged records sent over ``GET /actors/{id}/connect``.

Every message is a map with a ``"t"`` tag. JSON text frames under the WebSocket subprotocol
``actorkit.json`` (the default), msgpack binary frames under ``actorkit.msgpack``.
``docs/protocol.md`` is the full specification; this module is its executable form.

Example::

    codec = codec_for("actorkit.json")
    codec.encode(ActionRequest(id=1, name="increment", args=[5]))
    # b'{"t":"action","id":1,"name":"increment","args":[5]}'
"""

from __future__ import annotations

from typing import Any

import msgspec

from actorkit.protocol.integers import has_long_number, out_of_range

__all__ = [
    "CLOSE_ACTOR_DESTROYED",
    "CLOSE_DISCONNECTED",
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL",
    "CLOSE_LIVENESS",
    "CLOSE_MOVED",
    "CLOSE_NORMAL",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_REJECTED",
    "CLOSE_REPLACED",
    "CLOSE_RESTARTING",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_TOO_LARGE",
    "JSON_SUBPROTOCOL",
    "MSGPACK_SUBPROTOCOL",
    "SUBPROTOCOLS",
    "TERMINAL_CLOSE_CODES",
    "ActionRequest",
    "ActionResponse",
    "ClientMessage",
    "Codec",
    "Error",
    "Event",
    "Init",
    "Ping",
    "Pong",
    "ServerMessage",
    "Subscribe",
    "Unsubscribe",
    "Welcome",
    "codec_for",
]

JSON_SUBPROTOCOL = "actorkit.json"
MSGPACK_SUBPROTOCOL = "actorkit.msgpack"
SUBPROTOCOLS = (JSON_SUBPROTOCOL, MSGPACK_SUBPROTOCOL)

# Close codes. Standard ones where they fit, 4xxx for actorkit's own.
CLOSE_NORMAL = 1000  # the client closed the connection (on_disconnect runs at once)
CLOSE_GOING_AWAY = 1001  # a client leaving (a page unloads), like 1000; the server sends 1012
CLOSE_PROTOCOL_ERROR = 1002  # no init in time, or a second init; reconnect
CLOSE_TOO_LARGE = 1009  # an incoming frame exceeded Limits.max_message_bytes
CLOSE_INTERNAL = 1011  # unexpected server error; reconnect and resume
CLOSE_RESTARTING = 1012  # server shutdown, or the actor went to sleep; reconnect and resume
CLOSE_DISCONNECTED = 4000  # the actor called conn.disconnect(reason); do not reconnect
CLOSE_REJECTED = 4001  # connect refused (an Error with the code precedes it); do not reconnect
CLOSE_LIVENESS = 4003  # nothing received within the liveness timeout; reconnect
CLOSE_ACTOR_DESTROYED = 4004  # the actor was destroyed; do not reconnect
CLOSE_REPLACED = 4005  # the same connection was resumed on another socket
CLOSE_SLOW_CONSUMER = 4008  # the outgoing buffer overflowed; reconnect and resume
CLOSE_MOVED = 4009  # the actor moved to another activation (ownership lost); reconnect, resume

#: A client must not reconnect after these.
TERMINAL_CLOSE_CODES = frozenset(
    {CLOSE_DISCONNECTED, CLOSE_REJECTED, CLOSE_ACTOR_DESTROYED, CLOSE_REPLACED}
)


# -- client → server -----------------------------------------------------------------------


class Init(msgspec.Struct, tag="init", tag_field="t", omit_defaults=True):
    """First message on a socket. ``conn_id`` + ``token`` resume an earlier connection."""

    params: Any = None
    conn_id: str | None = None
    token: str | None = None
    subscriptions: list[str] | None = None  # the client's event names, applied on (re)connect


class ActionRequest(msgspec.Struct, tag="action", tag_field="t"):
    id: int
    name: str
    args: list[Any] = []
    idempotency_key: str | None = None  # a repeat with the same key returns the first outcome
    kwargs: dict[str, Any] | None = None  # keyword arguments, by parameter name


class Subscribe(msgspec.Struct, tag="sub", tag_field="t"):
    event: str


class Unsubscribe(msgspec.Struct, tag="unsub", tag_field="t"):
    event: str


class Ping(msgspec.Struct, tag="ping", tag_field="t", omit_defaults=True):
    """Liveness probe; either side may send it and the other answers ``Pong``."""

    ts: float | None = None


class Pong(msgspec.Struct, tag="pong", tag_field="t", omit_defaults=True):
    ts: float | None = None


ClientMessage = Init | ActionRequest | Subscribe | Unsubscribe | Ping | Pong


# -- server → client -----------------------------------------------------------------------


class Welcome(msgspec.Struct, tag="init", tag_field="t"):
    """Answer to ``Init``: the connection's id and the secret token that resumes it."""

    conn_id: str
    token: str
    actor_id: str
    resumed: bool
    subscriptions: list[str]
    ping_interval: float


class ActionResponse(msgspec.Struct, tag="result", tag_field="t"):
    id: int
    output: Any = None


class Event(msgspec.Struct, tag="event", tag_field="t"):
    name: str
    args: list[Any]


class Error(msgspec.Struct, tag="error", tag_field="t"):
    """A failed action (``id`` set) or a connection-level problem (``id`` null)."""

    id: int | None
    group: str
    code: str
    message: str
    metadata: Any = None


ServerMessage = Welcome | ActionResponse | Event | Error | Ping | Pong


# -- codecs ---------------------------------------------------------------------------------


class Codec:
    """Encodes and decodes one side's messages in JSON or msgpack."""

    def __init__(self, subprotocol: str) -> None:
        self.subprotocol = subprotocol
        self.binary = subprotocol == MSGPACK_SUBPROTOCOL
        mod: Any = msgspec.msgpack if self.binary else msgspec.json
        self._encoder = mod.Encoder()
        self._client = mod.Decoder(ClientMessage)
        self._server = mod.Decoder(ServerMessage)

    def encode(self, msg: Any) -> bytes:
        out: bytes = self._encoder.encode(msg)
        return out

    def decode_client(self, data: bytes | str) -> ClientMessage:
        """Raises ``msgspec.DecodeError`` (malformed, nested too deeply, a text frame on a
        msgpack socket) or ``msgspec.ValidationError`` (unknown ``t``, missing field)."""
        msg: ClientMessage = self._decode(self._client, data)
        return msg

    def decode_server(self, data: bytes | str) -> ServerMessage:
        msg: ServerMessage = self._decode(self._server, data)
        return msg

    def _decode(self, decoder: Any, data: bytes | str) -> Any:
        if self.binary and isinstance(data, str):
            raise msgspec.DecodeError(f"{self.subprotocol} expects binary frames, not text")
        try:
            msg = decoder.decode(data)
        except RecursionError:  # msgspec's nesting guard: a frame is never deeper than this
            raise msgspec.DecodeError("message is nested too deeply") from None
        if (
            not self.binary
            and has_long_number(data)
            and out_of_range(msgspec.to_builtins(msg)) is not None
        ):
            raise msgspec.DecodeError("message holds an integer beyond 64 bits")
        return msg


_CODECS = {name: Codec(name) for name in SUBPROTOCOLS}


def codec_for(subprotocol: str | None) -> Codec:
    """The codec for a negotiated subprotocol (JSON when none was negotiated)."""
    return _CODECS.get(subprotocol or JSON_SUBPROTOCOL, _CODECS[JSON_SUBPROTOCOL])
