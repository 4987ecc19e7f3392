"""Errors raised by actorkit.

    ActorkitError               root of everything actorkit raises
    ├── UserError               raised by actor code; message, code, metadata reach the caller
    ├── ActorError              a failed call as the caller sees it: group, code, message, metadata
    └── StorageError            the storage backend failed
        ├── StorageUnavailable  the backend cannot be reached right now
        └── FencedError         another activation owns the actor (stale epoch)

On the wire every error is ``{group, code, message, metadata}``. Only a ``UserError``'s
details cross it; any other exception reaches the caller as ``internal_error`` with a generic
message (details go to the server log).

Example::

    from actorkit import UserError

    class Account(Actor):
        @action
        def withdraw(self, amount: int) -> int:
            if amount > self.state["balance"]:
                raise UserError("insufficient funds", code="insufficient_funds",
                                metadata={"balance": self.state["balance"]})
            ...
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ActorError",
    "ActorkitError",
    "Code",
    "FencedError",
    "StorageError",
    "StorageUnavailable",
    "UserError",
]


class Code:
    """Stable error codes, with the group each belongs to."""

    VALIDATION_ERROR = "validation_error"
    ACTION_NOT_FOUND = "action_not_found"
    ACTOR_NOT_FOUND = "actor_not_found"
    ACTOR_ALREADY_EXISTS = "actor_already_exists"
    ACTION_TIMEOUT = "action_timeout"
    INTERNAL_ERROR = "internal_error"
    MESSAGE_TOO_LARGE = "message_too_large"
    OVERLOADED = "overloaded"
    CONNECTION_LOST = "connection_lost"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    OUTPUT_NOT_SERIALIZABLE = "output_not_serializable"
    STATE_NOT_SERIALIZABLE = "state_not_serializable"
    STATE_NOT_ENABLED = "state_not_enabled"
    ACTOR_DESTROYED = "actor_destroyed"
    ACTOR_STOPPING = "actor_stopping"
    # Ownership (retryable): the call was not applied; send it again.
    OWNERSHIP_LOST = "ownership_lost"
    ACTOR_OWNED_ELSEWHERE = "actor_owned_elsewhere"
    NODE_UNAVAILABLE = "node_unavailable"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    HOOK_FAILED = "hook_failed"
    STORAGE_ERROR = "storage_error"
    TOO_MANY_SCHEDULES = "too_many_schedules"
    # The idempotency key was used before for a different action or arguments.
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    # Per-actor SQLite (self.db)
    SQL_ERROR = "sql_error"
    DATABASE_TOO_LARGE = "database_too_large"
    STATEMENT_TIMEOUT = "statement_timeout"
    MIGRATION_FAILED = "migration_failed"
    DATABASE_NOT_SUPPORTED = "database_not_supported"
    DATABASE_CORRUPT = "database_corrupt"  # the file fails SQLite's checks; kept as is
    DATABASE_MISSING = "database_missing"  # the actor had a database; storage lost it
    STORAGE_FULL = "storage_full"  # the disk (not the actor's size limit) is full
    SQL_NOT_ALLOWED = "sql_not_allowed"  # refused by the runtime's SQLite authorizer
    # ``actorkit dev``: the app's code cannot be imported (e.g. a syntax error mid-edit).
    APP_NOT_LOADED = "app_not_loaded"


class ActorkitError(Exception):
    """Root of every exception actorkit raises."""


class UserError(ActorkitError):
    """An error raised on purpose by actor code; its details are sent to the caller.

    ``code`` is a short machine-readable string (default ``"user_error"``); ``metadata`` is
    any msgspec-encodable value.
    """

    def __init__(self, message: str, *, code: str = "user_error", metadata: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.metadata = metadata


class ActorError(ActorkitError):
    """A call failed. Carries the wire error's ``group``, ``code``, ``message`` and ``metadata``.

    Groups: ``"user"`` (a ``UserError`` from actor code), ``"actor"`` (addressing and action
    dispatch), ``"request"`` (bad input or limits), ``"connection"``, ``"internal"``.
    """

    def __init__(self, group: str, code: str, message: str, metadata: Any = None) -> None:
        super().__init__(message)
        self.group = group
        self.code = code
        self.message = message
        self.metadata = metadata

    def __repr__(self) -> str:
        return f"ActorError(group={self.group!r}, code={self.code!r}, message={self.message!r})"

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def to_wire(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "code": self.code,
            "message": self.message,
            "metadata": self.metadata,
        }

    @classmethod
    def from_wire(cls, data: Any) -> ActorError:
        if not isinstance(data, dict):
            return cls("internal", Code.INTERNAL_ERROR, "malformed error from server")
        return cls(
            str(data.get("group", "internal")),
            str(data.get("code", Code.INTERNAL_ERROR)),
            str(data.get("message", "")),
            data.get("metadata"),
        )


class StorageError(ActorkitError):
    """The storage backend failed; the affected actor is reloaded from durable state."""


class StorageUnavailable(StorageError):
    """The storage backend cannot be reached (connection refused or lost, failover)."""


class FencedError(StorageError):
    """A write was refused because a newer activation of the actor owns it (stale epoch)."""


# Constructors for the errors the runtime raises, so codes and groups stay consistent.


def validation_error(message: str, metadata: Any = None) -> ActorError:
    return ActorError("request", Code.VALIDATION_ERROR, message, metadata)


def invalid_request(message: str) -> ActorError:
    return ActorError("request", Code.INVALID_REQUEST, message)


def too_large(message: str, limit: int) -> ActorError:
    return ActorError("request", Code.MESSAGE_TOO_LARGE, message, {"limit": limit})


def actor_not_found(message: str = "actor not found") -> ActorError:
    return ActorError("actor", Code.ACTOR_NOT_FOUND, message)


def ownership_lost(actor_id: str) -> ActorError:
    """A newer activation of the actor took over while this call ran: nothing it did was
    acknowledged. Retryable."""
    return ActorError(
        "actor",
        Code.OWNERSHIP_LOST,
        "the actor moved to another activation while this call ran; it was not applied (retry)",
        {"actor_id": actor_id, "retryable": True},
    )


def storage_failure(exc: StorageError) -> ActorError:
    """What a caller sees when storage failed under its request: unreachable storage is
    the retryable 503 ``storage_unavailable`` (whether a write in flight committed is
    unknown); anything else (unreadable or too new data, a failing disk) ``storage_error``."""
    if isinstance(exc, StorageUnavailable):
        return ActorError(
            "internal",
            Code.STORAGE_UNAVAILABLE,
            f"storage is unreachable ({exc}); retry",
            {"retryable": True, "outcome": "unknown"},
        )
    return ActorError("internal", Code.STORAGE_ERROR, str(exc))


def internal_error() -> ActorError:
    return ActorError("internal", Code.INTERNAL_ERROR, "internal error")


def from_user_error(err: UserError) -> ActorError:
    return ActorError("user", err.code, err.message, err.metadata)
