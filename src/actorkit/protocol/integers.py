"""The integers the protocol carries: those msgpack can (64 bits: ``-2**63`` to ``2**64 - 1``).

JSON can spell any integer; one beyond that range could never be stored in an actor's state
or sent to a msgpack client, so a JSON message that holds one is refused where it is decoded
rather than failing later inside an action.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["INT_MAX", "INT_MIN", "has_long_number", "out_of_range"]

INT_MIN = -(2**63)
INT_MAX = 2**64 - 1

# An integer outside the range has at least 19 digits: cheaper to look for than to walk.
_LONG_NUMBER = re.compile(rb"\d{19}")


def has_long_number(raw: bytes | str) -> bool:
    """Whether the JSON text ``raw`` may hold an integer out of range (a quick look first)."""
    text = raw.encode() if isinstance(raw, str) else raw
    return _LONG_NUMBER.search(text) is not None


def out_of_range(value: Any) -> int | None:
    """An integer in the decoded JSON ``value`` that the protocol cannot carry, or ``None``."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is int:
            if not INT_MIN <= item <= INT_MAX:
                return int(item)
        elif kind is list:
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.values())
    return None
