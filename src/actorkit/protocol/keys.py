"""Actor keys: a key is a tuple of strings. ``"lobby"`` ≡ ``["lobby"]``; no key ≡ ``()``."""

from __future__ import annotations

import re
from collections.abc import Sequence

from actorkit.errors import validation_error
from actorkit.options import Limits

__all__ = ["Key", "KeyLike", "normalize_key", "validate_name"]

Key = tuple[str, ...]
KeyLike = str | Sequence[str] | None

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_DEFAULT_LIMITS = Limits()


def normalize_key(key: object, limits: Limits = _DEFAULT_LIMITS) -> Key:
    """Turn ``None``, a string or a sequence of strings into a key tuple, checking limits."""
    if key is None:
        return ()
    if isinstance(key, str):
        parts: tuple[str, ...] = (key,)
    elif isinstance(key, list | tuple):
        if not all(isinstance(part, str) for part in key):
            raise validation_error("key parts must be strings")
        parts = tuple(key)
    else:
        raise validation_error("key must be a string or a list of strings")
    if len(parts) > limits.max_key_parts:
        raise validation_error(f"key has more than {limits.max_key_parts} parts")
    total = 0
    for part in parts:
        try:
            size = len(part.encode("utf-8"))
        except UnicodeEncodeError:
            # Lone surrogates cannot be stored or sent as UTF-8 by any driver or transport.
            raise validation_error("key parts must be valid Unicode text") from None
        if size > limits.max_key_part_bytes:
            raise validation_error(
                f"key part is {size} bytes; the limit is {limits.max_key_part_bytes}"
            )
        total += size
    if total > limits.max_key_bytes:
        raise validation_error(f"key is {total} bytes; the limit is {limits.max_key_bytes}")
    return parts


def validate_name(name: object, limits: Limits = _DEFAULT_LIMITS) -> str:
    """Check an actor name: lowercase letters, digits, ``_`` and ``-``, bounded length."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise validation_error(f"invalid actor name {name!r}")
    if len(name) > limits.max_name_length:
        raise validation_error(f"actor name longer than {limits.max_name_length} characters")
    return name
