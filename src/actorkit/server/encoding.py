"""Request and response bodies: JSON (default) or msgpack (``application/msgpack``).

A request body is read incrementally and refused with ``message_too_large`` as soon as it
passes the limit, so a huge body is never buffered. A decoded value nested deeper than
``MAX_DEPTH`` is refused with ``invalid_request`` (see ``nesting.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from actorkit.errors import ActorError, invalid_request, too_large, validation_error
from actorkit.protocol.integers import has_long_number, out_of_range
from actorkit.server.errors import http_status, unsupported_media_type
from actorkit.server.nesting import MAX_DEPTH, TooDeep, decode_bounded

__all__ = [
    "JSON",
    "MAX_DEPTH",
    "MSGPACK",
    "decode_body",
    "encode_response",
    "error_response",
    "is_api_media",
    "parse_json",
    "query_int",
    "read_body",
]

JSON = "application/json"
MSGPACK = "application/msgpack"
_MSGPACK_ALIASES = frozenset({MSGPACK, "application/x-msgpack", "application/vnd.msgpack"})

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode
_msgpack_encode = msgspec.msgpack.Encoder().encode
_msgpack_decode = msgspec.msgpack.Decoder().decode
# Bytes that may open a msgpack container: fixmap, fixarray, array 16/32, map 16/32.
_MSGPACK_OPENERS = bytes([*range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF])


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def is_msgpack(content_type: str) -> bool:
    return _media_type(content_type) in _MSGPACK_ALIASES


def is_api_media(content_type: str) -> bool:
    """JSON (also ``+json``) or msgpack: a type no browser sends cross-site unpreflighted."""
    if content_type == JSON:
        return True
    media = _media_type(content_type)
    return media == JSON or media.endswith("+json") or media in _MSGPACK_ALIASES


def _too_deep(what: str) -> str:
    return f"{what} is nested deeper than {MAX_DEPTH} levels"


def parse_json(text: str, what: str) -> Any:
    """Decode JSON from a header or query parameter; ``ValueError`` (its message names
    ``what``) if malformed or nested deeper than ``MAX_DEPTH``."""
    try:
        return decode_bounded(_json_decode, text, text.count("[") + text.count("{"))
    except msgspec.DecodeError as exc:
        raise ValueError(f"{what} is not valid JSON: {exc}") from None
    except TooDeep:
        raise ValueError(_too_deep(what)) from None


def check_declared_length(declared: str | None, limit: int) -> None:
    if declared is None:
        return
    try:
        size = int(declared)
    except ValueError:
        raise invalid_request("invalid Content-Length header") from None
    if size > limit:
        raise too_large(f"request body is {size} bytes; the limit is {limit}", limit)


def over_limit(limit: int) -> ActorError:
    return too_large(f"request body exceeds the limit of {limit} bytes", limit)


def client_gone() -> ActorError:
    """The request must not run on a body cut short (no one reads this reply)."""
    return invalid_request("the client disconnected before the request body was complete")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or ``message_too_large`` once more than ``limit`` bytes arrive."""
    check_declared_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise over_limit(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise client_gone() from None
    return b"".join(chunks)


def decode_payload(content_type: str, body: bytes) -> Any:
    """Decode ``body`` by its Content-Type; an empty body is ``None``."""
    if not body:
        return None
    media = JSON if content_type == JSON else _media_type(content_type)
    decode: Callable[[bytes], Any]
    if media in ("", JSON) or media.endswith("+json"):
        kind, decode = "JSON", _json_decode
        openers = body.count(b"[") + body.count(b"{")
    elif media in _MSGPACK_ALIASES:
        kind, decode = "msgpack", _msgpack_decode
        openers = len(body) - len(body.translate(None, _MSGPACK_OPENERS))
    else:
        raise unsupported_media_type(content_type)
    try:
        value = decode_bounded(decode, body, openers)
    except msgspec.DecodeError as exc:
        raise invalid_request(f"malformed {kind} body: {exc}") from None
    except TooDeep:
        raise invalid_request(_too_deep(f"the {kind} body")) from None
    if kind == "JSON" and has_long_number(body) and (big := out_of_range(value)) is not None:
        raise invalid_request(f"the JSON body holds an integer beyond 64 bits: {str(big)[:40]}")
    return value


def decode_body(request: Request, body: bytes) -> Any:
    """Decode ``body`` by the request's Content-Type; an empty body is ``None``."""
    return decode_payload(request.headers.get("content-type", ""), body)


def reply_in_msgpack(accept: str | None, content_type: str) -> bool:
    """Reply in msgpack if Accept names it, or if Accept names neither format (absent,
    ``*/*``) and the request body was msgpack."""
    if accept is None and content_type in (JSON, ""):
        return False
    if accept:
        types = {_media_type(part) for part in accept.split(",")}
        if types & _MSGPACK_ALIASES:
            return True
        if JSON in types:
            return False
    return is_msgpack(content_type)


def wants_msgpack(request: Request) -> bool:
    headers = request.headers
    return reply_in_msgpack(headers.get("accept"), headers.get("content-type", ""))


def encode_payload(msgpack: bool, content: Any, status: int) -> tuple[bytes, str, int]:
    """``(body, media type, status)``; an unencodable value becomes a 500 error body."""
    try:
        if msgpack:
            return _msgpack_encode(content), MSGPACK, status
        return _json_encode(content), JSON, status
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        err = ActorError("actor", "output_not_serializable", f"cannot encode reply: {exc}")
        return encode_payload(msgpack, err.to_wire(), http_status(err))


def encode_response(request: Request, content: Any, status: int = 200) -> Response:
    body, media, status = encode_payload(wants_msgpack(request), content, status)
    return Response(body, status, media_type=media)


def error_response(request: Request, err: ActorError) -> Response:
    return encode_response(request, err.to_wire(), http_status(err))


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """Query parameter ``name`` as an integer in ``[low, high]``; ``validation_error`` else."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise validation_error(f"{name} must be between {low} and {high}")
    return value
