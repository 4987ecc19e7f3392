"""Request-body helpers shared by the action route and its fast path."""

from __future__ import annotations

import json
from typing import Any

from actorkit.errors import invalid_request, too_large, validation_error
from actorkit.options import Limits

__all__ = ["IDEMPOTENCY_HEADER", "PARAMS_HEADER", "action_args", "body_dict", "parse_params"]

PARAMS_HEADER = "x-actorkit-params"
IDEMPOTENCY_HEADER = "idempotency-key"


def body_dict(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise validation_error("request body must be an object")
    return data


def parse_params(header: str | None, limits: Limits, body: dict[str, Any]) -> Any:
    """Connection params: the body's ``params`` field, else the ``X-Actorkit-Params`` header."""
    if "params" in body:
        return body["params"]
    if header is None:
        return None
    limit = limits.max_params_bytes
    if len(header) > limit:
        raise too_large(f"connection params are {len(header)} bytes; the limit is {limit}", limit)
    try:
        return json.loads(header)
    except ValueError:
        raise invalid_request(f"{PARAMS_HEADER} header is not valid JSON") from None


def action_args(data: Any) -> list[Any]:
    body = body_dict(data)
    args = body.get("args", [])
    if not isinstance(args, list):
        raise validation_error("'args' must be a list")
    return args
