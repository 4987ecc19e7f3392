"""``nesting.deeper_than``: the depth rule every HTTP input is decoded under."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from actorkit.server.nesting import MAX_DEPTH, TooDeep, decode_bounded, deeper_than


def nest(depth: int, leaf: Any = None) -> Any:
    value: Any = [] if leaf is None else leaf
    for _ in range(depth - (leaf is None)):
        value = [value]
    return value


@pytest.mark.parametrize("value", [None, 1, "x" * 1000, b"bytes", 1.5])
def test_scalars_have_no_depth(value: Any) -> None:
    assert not deeper_than(value, 0)


def test_depth_counts_every_kind_of_container_exactly() -> None:
    assert not deeper_than(nest(MAX_DEPTH))
    assert deeper_than(nest(MAX_DEPTH + 1))
    assert not deeper_than({"a": [{"b": []}]}, 4)
    assert deeper_than({"a": [{"b": [1]}]}, 3)
    # msgpack decodes array keys as tuples: they count as nesting too.
    key = msgspec.msgpack.decode(msgspec.msgpack.encode({(1, (2, (3,))): 0}))
    assert deeper_than(key, 3) and not deeper_than(key, 4)


def test_the_deepest_branch_decides_among_many_shallow_ones() -> None:
    wide: list[Any] = [[i, {"k": [i]}] for i in range(10_000)]
    assert not deeper_than(wide, 4)
    wide.append(nest(5))
    assert deeper_than(wide, 5)


def test_decode_bounded_refuses_what_is_too_deep_whatever_decoding_does() -> None:
    decode = msgspec.json.decode
    deep = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    with pytest.raises(TooDeep):
        decode_bounded(decode, deep, MAX_DEPTH + 1)
    abysmal = b"[" * 100_000 + b"]" * 100_000  # past the recursion limit inside msgspec
    with pytest.raises(TooDeep):
        decode_bounded(decode, abysmal, 100_000)
    assert decode_bounded(decode, b"[[1]]", 2) == [[1]]
