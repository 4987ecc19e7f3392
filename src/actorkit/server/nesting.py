"""Decoding request values that nest at most ``MAX_DEPTH`` deep, at a bounded cost.

A value nested deeper would meet Python's recursion limit somewhere after decoding
(validation, encoding the reply, storing state), so requests refuse it up front. The depth
is walked one level at a time with C iterators (``map``/``compress``/``chain``), which
allocates nothing per element; and only for inputs with more than ``MAX_DEPTH`` bytes that
may open a container, since each level needs one (typical calls have a handful).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from itertools import chain, compress
from typing import Any

__all__ = ["MAX_DEPTH", "TooDeep", "decode_bounded", "deeper_than"]

#: How deeply arrays/objects may nest in a request body, a params header or a query value.
MAX_DEPTH = 128

_is_container: Callable[[type], bool] = frozenset({list, tuple, dict}).__contains__
_is_sequence: Callable[[type], bool] = frozenset({list, tuple}).__contains__  # tuple: msgpack keys
_is_dict: Callable[[type], bool] = frozenset({dict}).__contains__


class TooDeep(ValueError):
    """The value nests deeper than ``MAX_DEPTH``."""


def deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists, dicts (keys too) and tuples in ``value`` nest more than ``limit`` deep."""
    level: list[Any] = [value] if _is_container(type(value)) else []
    for _ in range(limit):
        if not level:
            return False
        kinds = list(map(type, level))
        dicts = list(compress(level, map(_is_dict, kinds)))
        children = list(
            chain(
                chain.from_iterable(compress(level, map(_is_sequence, kinds))),
                chain.from_iterable(dicts),
                chain.from_iterable(map(dict.values, dicts)),
            )
        )
        level = list(compress(children, map(_is_container, map(type, children))))
    return bool(level)


def decode_bounded(decode: Callable[[Any], Any], data: Any, openers: int) -> Any:
    """``decode(data)``, or ``TooDeep``. ``openers``: how many bytes of ``data`` may open a
    container (an upper bound on its depth)."""
    if openers <= MAX_DEPTH:
        return decode(data)
    # Many containers: pause the cyclic GC, which a million new lists set off again and
    # again (measured: most of the decoding time). Nothing here awaits.
    paused = gc.isenabled()
    gc.disable()
    try:
        value = decode(data)
        if deeper_than(value):
            raise TooDeep
        return value
    except RecursionError:
        raise TooDeep from None
    finally:
        if paused:
            gc.enable()
