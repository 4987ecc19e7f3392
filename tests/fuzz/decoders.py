"""Targets for the pure decoders: HTTP bodies, the params header, WebSocket frames, action
arguments, actor keys and names. Each runs in-process in microseconds.

Input layout: the first byte selects a variant (content type, frame kind, action), the rest
is the payload.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Annotated, Any, Literal, TypedDict

import msgspec

from actorkit import Actor, action
from actorkit._runtime.definition import ActorDefinition
from actorkit.errors import ActorError
from actorkit.options import Limits
from actorkit.protocol.keys import normalize_key, validate_name
from actorkit.protocol.messages import ClientMessage, ServerMessage, codec_for
from actorkit.server.bodies import action_args, body_dict, parse_params
from actorkit.server.encoding import decode_payload, encode_payload
from fuzz.contract import Crash, check_error, pick

__all__ = [
    "action_args_target",
    "http_body_target",
    "keys_target",
    "params_header_target",
    "ws_frame_json_target",
    "ws_frame_msgpack_target",
]

LIMITS = Limits()
CONTENT_TYPES = (
    "application/json",
    "application/msgpack",
    "",
    "application/vnd.api+json; charset=utf-8",
    "application/x-msgpack",
    "Application/VND.msgpack ; q=1",
    "text/plain",
    "application/json; charset=latin-1",
)
_CLIENT_TYPES = tuple(ClientMessage.__args__)  # type: ignore[attr-defined]
_SERVER_TYPES = tuple(ServerMessage.__args__)  # type: ignore[attr-defined]


def _reencode(value: Any) -> None:
    """A decoded value must encode back in either format, or become an error body (it may
    be echoed as an action's output); an exception escaping ``encode_payload`` is a crash."""
    for msgpack in (False, True):
        encode_payload(msgpack, value, 200)


def http_body_target(data: bytes) -> None:
    """``decode_payload`` → ``action_args`` → body ``params``: the action route's body path."""
    if not data:
        return
    content_type = pick(CONTENT_TYPES, data[0])
    body = data[1:]
    try:
        value = decode_payload(content_type, body)
    except ActorError as err:
        check_error(err)
        return
    _reencode(value)
    try:
        args = action_args(value)
        if not isinstance(args, list):
            raise Crash(f"action_args returned {type(args).__name__}")
        parse_params(None, LIMITS, body_dict(value))
    except ActorError as err:
        check_error(err)


def params_header_target(data: bytes) -> None:
    """The ``X-Actorkit-Params`` header (decoded as latin-1, as the ASGI server gives it)."""
    header = data.decode("latin-1")
    try:
        parse_params(header, LIMITS, {})
    except ActorError as err:
        check_error(err)


def _frame_target(subprotocol: str, data: bytes) -> None:
    codec = codec_for(subprotocol)
    frame: bytes | str = data[1:]
    if not codec.binary and data and data[0] & 1:
        # A text frame: the WebSocket layer hands over valid UTF-8 as str.
        frame = data[1:].decode("utf-8", "replace")
    for decode, types in (
        (codec.decode_client, _CLIENT_TYPES),
        (codec.decode_server, _SERVER_TYPES),
    ):
        try:
            msg = decode(frame)
        except msgspec.DecodeError:  # includes ValidationError: answered with invalid_request
            continue
        if not isinstance(msg, types):
            raise Crash(f"decoded to {type(msg).__name__}")
        codec.encode(msg)  # what was decoded encodes back (an echo must not fail)


def ws_frame_json_target(data: bytes) -> None:
    """``Codec.decode_client``/``decode_server`` under ``actorkit.json`` (text or binary)."""
    _frame_target("actorkit.json", data)


def ws_frame_msgpack_target(data: bytes) -> None:
    """``Codec.decode_client``/``decode_server`` under ``actorkit.msgpack`` (binary)."""
    _frame_target("actorkit.msgpack", data)


# -- action arguments -------------------------------------------------------------------------


class Point(msgspec.Struct):
    x: int
    y: int = 0


@dataclasses.dataclass
class Box:
    label: str
    size: float = 1.0


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Movie(TypedDict):
    title: str
    year: int


class Typed(Actor):
    """One action per kind of type hint an action may declare."""

    @action
    def anything(self, a, b: Any = None):  # type: ignore[no-untyped-def]
        return a

    @action
    def scalars(self, i: int, f: float, s: str, b: bool, raw: bytes) -> None: ...

    @action
    def containers(
        self, li: list[int], d: dict[str, float], t: tuple[int, str], st: set[str]
    ) -> None: ...

    @action
    def optional(self, a: int | None, b: int | str = 0, c: Literal["x", "y"] = "x") -> None: ...

    @action
    def structured(self, p: Point, box: Box, movie: Movie, color: Color) -> None: ...

    @action
    def rich(
        self,
        when: datetime.datetime,
        ident: uuid.UUID,
        amount: decimal.Decimal,
        day: datetime.date,
        ge0: Annotated[int, msgspec.Meta(ge=0, le=100)],
    ) -> None: ...

    @action
    def nested(self, points: list[Point], tree: dict[str, list[dict[str, int]]]) -> None: ...

    @action
    def variadic(self, first: str, *rest: int) -> None: ...


_SPECS = tuple(ActorDefinition(Typed).actions.values())
_args_decoder = msgspec.msgpack.Decoder()


def action_args_target(data: bytes) -> None:
    """``ActionSpec.bind``: arguments (msgpack-decoded) converted to every kind of hint."""
    if not data:
        return
    spec = pick(_SPECS, data[0])
    try:
        value = _args_decoder.decode(data[1:])
    except (msgspec.DecodeError, RecursionError):
        return  # not an input for this target: the decoders have their own targets
    args = value if isinstance(value, list) else [value]
    try:
        out = spec.bind(args)
    except ActorError as err:
        check_error(err)
        return
    if not isinstance(out, list) or len(out) > len(args):
        raise Crash(f"bind returned {out!r} for {len(args)} arguments")


# -- keys and names ---------------------------------------------------------------------------


def keys_target(data: bytes) -> None:
    """``normalize_key`` and ``validate_name`` of any decoded value (JSON or msgpack)."""
    if not data:
        return
    decode = msgspec.msgpack.decode if data[0] & 1 else msgspec.json.decode
    try:
        value = decode(data[1:])
    except (msgspec.DecodeError, RecursionError):
        value = data[1:].decode("latin-1")
    for check in (normalize_key, validate_name):
        try:
            check(value, LIMITS)
        except ActorError as err:
            check_error(err)
