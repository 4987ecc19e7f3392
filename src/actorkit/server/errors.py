"""ActorError → HTTP: one status per stable code, and the JSON/msgpack error body.

Every error body is ``{"group", "code", "message", "metadata"}``.
"""

from __future__ import annotations

import logging

from actorkit.errors import ActorError, Code

__all__ = [
    "METHOD_NOT_ALLOWED",
    "STATUS_BY_CODE",
    "UNSUPPORTED_MEDIA_TYPE",
    "http_status",
    "method_not_allowed",
    "route_not_found",
    "unsupported_media_type",
]

log = logging.getLogger("actorkit.server")

# HTTP-only codes (the runtime never raises them).
METHOD_NOT_ALLOWED = "method_not_allowed"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"

STATUS_BY_CODE: dict[str, int] = {
    Code.VALIDATION_ERROR: 400,
    Code.INVALID_REQUEST: 400,
    Code.UNAUTHORIZED: 401,
    Code.FORBIDDEN: 403,
    Code.ACTOR_NOT_FOUND: 404,
    Code.ACTION_NOT_FOUND: 404,
    Code.NOT_FOUND: 404,
    Code.ACTOR_DESTROYED: 404,
    METHOD_NOT_ALLOWED: 405,
    Code.ACTOR_ALREADY_EXISTS: 409,
    Code.MESSAGE_TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    Code.IDEMPOTENCY_KEY_REUSED: 422,
    Code.INTERNAL_ERROR: 500,
    Code.OUTPUT_NOT_SERIALIZABLE: 500,
    Code.STATE_NOT_SERIALIZABLE: 500,
    Code.STATE_NOT_ENABLED: 500,
    Code.HOOK_FAILED: 500,
    Code.STORAGE_ERROR: 500,
    Code.DATABASE_CORRUPT: 500,
    Code.DATABASE_MISSING: 500,
    Code.SQL_NOT_ALLOWED: 500,  # from an action: the actor's own code ran refused SQL
    Code.OVERLOADED: 503,
    Code.ACTOR_STOPPING: 503,
    Code.OWNERSHIP_LOST: 503,
    Code.ACTOR_OWNED_ELSEWHERE: 503,
    Code.NODE_UNAVAILABLE: 503,
    Code.STORAGE_UNAVAILABLE: 503,
    Code.APP_NOT_LOADED: 503,
    Code.ACTION_TIMEOUT: 504,
    Code.STORAGE_FULL: 507,
}


def http_status(err: ActorError) -> int:
    """The HTTP status for ``err``: by code; a ``UserError`` with its own code is a 400."""
    status = STATUS_BY_CODE.get(err.code)
    if status is not None:
        return status
    return 400 if err.group == "user" else 500


def route_not_found(path: str) -> ActorError:
    return ActorError("request", Code.NOT_FOUND, f"no route for {path!r}")


def method_not_allowed(method: str, path: str) -> ActorError:
    return ActorError("request", METHOD_NOT_ALLOWED, f"method {method} not allowed on {path!r}")


def unsupported_media_type(content_type: str) -> ActorError:
    return ActorError(
        "request",
        UNSUPPORTED_MEDIA_TYPE,
        f"unsupported Content-Type {content_type!r}: use application/json or application/msgpack",
    )
