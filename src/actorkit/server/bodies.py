"""Request helpers shared by the actor routes and the action fast path: the body's fields,
connection params, and the cross-site request (CSRF) check."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from actorkit.errors import ActorError, invalid_request, too_large, validation_error
from actorkit.options import Limits
from actorkit.server.encoding import is_api_media, parse_json
from actorkit.server.errors import UNSUPPORTED_MEDIA_TYPE

__all__ = [
    "CLIENT_HEADER",
    "IDEMPOTENCY_HEADER",
    "PARAMS_HEADER",
    "action_args",
    "action_kwargs",
    "body_dict",
    "check_not_cross_site",
    "check_params_size",
    "decode_params",
    "parse_params",
]

PARAMS_HEADER = "x-actorkit-params"
IDEMPOTENCY_HEADER = "idempotency-key"
#: Marks a request as sent by a program, not a page: a browser sends a custom header
#: cross-site only after a CORS preflight. Any value.
CLIENT_HEADER = "x-actorkit-client"
_CLIENT = CLIENT_HEADER.encode()

_params_encoder = msgspec.msgpack.Encoder()


def body_dict(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise validation_error("request body must be an object")
    return data


def check_not_cross_site(content_type: str, headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Refuse a state-changing request a browser page on another site could have sent
    without a CORS preflight (a form post, a ``no-cors`` fetch, a beacon): one whose
    Content-Type is absent or not JSON/msgpack and that lacks ``X-Actorkit-Client``.

    ``headers`` are the raw ASGI headers (lower-case names), looked at only in that case.
    """
    if is_api_media(content_type) or any(name == _CLIENT for name, _ in headers):
        return
    sent = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    raise ActorError(
        "request",
        UNSUPPORTED_MEDIA_TYPE,
        f"{sent}: a request that changes state needs Content-Type application/json or "
        "application/msgpack, or an X-Actorkit-Client header; without either it could be a "
        "cross-site form post (see docs/protocol.md#csrf)",
    )


def check_params_size(params: Any, limits: Limits) -> None:
    """``message_too_large`` if ``params`` encode (msgpack, as on a connection) past
    ``max_params_bytes``: the same measure whether they came in a header, a body or init."""
    try:
        size = len(_params_encoder.encode(params))
    except (TypeError, ValueError, OverflowError) as exc:
        raise invalid_request(f"params cannot be serialized: {exc}") from None
    limit = limits.max_params_bytes
    if size > limit:
        raise too_large(f"connection params are {size} bytes; the limit is {limit}", limit)


def decode_params(text: str, limits: Limits, where: str) -> Any:
    """Connection params sent as JSON text (a header, a query parameter), checked."""
    try:
        params = parse_json(text, where)
    except ValueError as exc:
        raise invalid_request(str(exc)) from None
    check_params_size(params, limits)
    return params


def parse_params(header: str | None, limits: Limits, body: dict[str, Any]) -> Any:
    """Connection params: the body's ``params`` field, else the ``X-Actorkit-Params`` header."""
    if "params" in body:
        params = body["params"]
        check_params_size(params, limits)
        return params
    if header is None:
        return None
    return decode_params(header, limits, f"the {PARAMS_HEADER} header")


def action_args(data: Any) -> list[Any]:
    body = body_dict(data)
    args = body.get("args", [])
    if not isinstance(args, list):
        raise validation_error("'args' must be a list")
    return args


def action_kwargs(data: Any) -> dict[str, Any] | None:
    """The body's ``kwargs``: keyword arguments by parameter name (None when absent)."""
    kwargs = body_dict(data).get("kwargs")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise validation_error("'kwargs' must be an object")
    return kwargs or None
