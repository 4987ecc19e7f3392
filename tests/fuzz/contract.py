"""What counts as a crash: the contract every target checks."""

from __future__ import annotations

from typing import Any

from actorkit.errors import ActorError, Code

__all__ = ["REQUEST_CODES", "Crash", "check_error", "fields", "pick"]

#: Codes a request may be refused with for what it carries (bad input or limits).
REQUEST_CODES = frozenset(
    {
        Code.INVALID_REQUEST,
        Code.VALIDATION_ERROR,
        Code.MESSAGE_TOO_LARGE,
        "unsupported_media_type",
    }
)


class Crash(AssertionError):
    """The code under test broke its contract (an exception escaping is one too)."""


def check_error(err: ActorError, allowed: frozenset[str] = REQUEST_CODES) -> None:
    """``err`` must carry a stable code from ``allowed`` and a wire-encodable body."""
    if err.code not in allowed:
        raise Crash(f"unexpected error code {err.code!r}: {err.message}")
    if not isinstance(err.message, str) or not err.message:
        raise Crash(f"error {err.code!r} without a message")


def fields(data: bytes, count: int, sep: bytes = b"\x00\x00") -> list[bytes]:
    """Split a fuzz input into ``count`` fields (missing ones are empty)."""
    parts = data.split(sep, count - 1)
    return parts + [b""] * (count - len(parts))


def pick(options: tuple[Any, ...], selector: int) -> Any:
    return options[selector % len(options)]
