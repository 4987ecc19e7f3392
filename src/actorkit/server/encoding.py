"""Request and response bodies: JSON (default) or msgpack (``application/msgpack``).

A request body is read incrementally and refused with ``message_too_large`` as soon as it
passes the limit, so a huge body is never buffered.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from actorkit.errors import ActorError, invalid_request, too_large, validation_error
from actorkit.server.errors import http_status, unsupported_media_type

__all__ = [
    "JSON",
    "MSGPACK",
    "decode_body",
    "encode_response",
    "error_response",
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


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def is_msgpack(content_type: str) -> bool:
    return _media_type(content_type) in _MSGPACK_ALIASES


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


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or ``message_too_large`` once more than ``limit`` bytes arrive."""
    check_declared_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise over_limit(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_payload(content_type: str, body: bytes) -> Any:
    """Decode ``body`` by its Content-Type; an empty body is ``None``."""
    if not body:
        return None
    media = JSON if content_type == JSON else _media_type(content_type)
    try:
        if media in ("", JSON) or media.endswith("+json"):
            return _json_decode(body)
        if media in _MSGPACK_ALIASES:
            return _msgpack_decode(body)
    except msgspec.DecodeError as exc:
        kind = "msgpack" if media in _MSGPACK_ALIASES else "JSON"
        raise invalid_request(f"malformed {kind} body: {exc}") from None
    raise unsupported_media_type(content_type)


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
    except (TypeError, ValueError, OverflowError) as exc:
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
