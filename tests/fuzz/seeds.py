"""Seed inputs: a valid example of every message and body in docs/protocol.md, and the
known-nasty ones (deep nesting, huge integers, NaN, invalid UTF-8, truncated msgpack, ext
types, duplicate keys, lone surrogates). ``python -m fuzz --write-seeds`` stores them in
``corpus/<target>/seed-*``; the fuzzer grows the corpus from there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from fuzz.server import FRAME_SEP

__all__ = ["seeds"]

_j = msgspec.json.encode
_m = msgspec.msgpack.encode
DEEP = 1200  # deeper than Python's recursion limit (1000): issue 14, item 6

CLIENT_MESSAGES: list[dict[str, Any]] = [
    {"t": "init", "params": {"user": "ann"}, "subscriptions": ["message"]},
    {"t": "init"},
    {"t": "init", "conn_id": "5f0c", "token": "Qm9", "params": None},
    {"t": "action", "id": 1, "name": "increment", "args": [5]},
    {"t": "action", "id": 2, "name": "echo", "args": [{"a": [1, 2.5, None, True, "x"]}]},
    {"t": "action", "id": 3, "name": "shout", "args": ["message", 1, "two"]},
    {"t": "action", "id": 4, "name": "fail", "args": ["no"]},
    {"t": "action", "id": 5, "name": "put", "args": [[1, [2, [3]]]]},
    {"t": "action", "id": 6, "name": "leave", "args": []},
    {"t": "action", "id": 7, "name": "nope"},
    {"t": "sub", "event": "message"},
    {"t": "unsub", "event": "message"},
    {"t": "ping", "ts": 1.5},
    {"t": "ping"},
    {"t": "pong", "ts": 2},
]
SERVER_MESSAGES: list[dict[str, Any]] = [
    {
        "t": "init",
        "conn_id": "5f0c",
        "token": "Qm9",
        "actor_id": "9c1e",
        "resumed": False,
        "subscriptions": ["message"],
        "ping_interval": 15.0,
    },
    {"t": "result", "id": 1, "output": {"user": "ann", "text": "hello"}},
    {"t": "event", "name": "message", "args": [{"user": "ann"}]},
    {"t": "error", "id": 2, "group": "request", "code": "validation_error", "message": "m"},
    {"t": "error", "id": None, "group": "request", "code": "invalid_request", "message": "m"},
]


def _nests(deep: int = DEEP) -> Iterator[tuple[bytes, bytes]]:
    """(JSON, msgpack) pairs of values nested ``deep`` levels."""
    yield b"[" * deep + b"]" * deep, b"\x91" * deep + b"\xc0"
    yield b'{"a":' * deep + b"1" + b"}" * deep, b"\x81\xa1a" * deep + b"\x01"
    yield b"[" * deep, b"\x91" * deep  # truncated too


NASTY_JSON = [
    b"",
    b"{",
    b"[",
    b"null",
    b"{}",
    b"[]",
    b'""',
    b"1e999",
    b"-1e999",
    b"NaN",
    b"Infinity",
    b"1" * 5000,
    b"-" + b"9" * 400,
    b"18446744073709551616",
    b"-9223372036854775809",
    b'{"a":1,"a":2}',
    b'{"args":[1],"args":"x"}',
    b'"\\ud800"',
    b'"\\udfff\\ud800"',
    b'"\xff\xfe"',
    b"\xef\xbb\xbf{}",
    b'{"a":1}garbage',
    b" \t\n{} \n",
    b'"\\u0000"',
    b'{"\xc0\x80":1}',
    b"0.1e-99999",
    b"[1,]",
    b"{,}",
    b"tru",
    b'"' + b"\\" * 101 + b'"',
]
NASTY_MSGPACK = [
    b"",
    b"\xc1",
    b"\x80",
    b"\x90",
    b"\xdf\xff\xff\xff\xff",
    b"\xdd\xff\xff\xff\xff",
    b"\xdb\xff\xff\xff\xff",
    b"\xc6\xff\xff\xff\xff",
    b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00",
    b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00",
    b"\xd4\x01\x00",
    b"\xd7\xff\x00\x00\x00\x00\x00\x00\x00\x00",
    b"\xc7\x03\x05abc",
    b"\xd6\xff\x00\x00\x00\x01",
    b"\xa3\xff\xfe\xfd",
    b"\xa2\xed\xa0",
    b"\x82\xa1a\x01\xa1a\x02",
    b"\x81\x90\x01",
    b"\x81\xc0\x01",
    b"\x81\x81\xa1a\x01\x02",
    b"\xc4\x03abc",
    b"\x92\x01",
]


def _pairs(deep: bool = True) -> list[tuple[bytes, bytes]]:
    values: list[Any] = [
        None,
        {},
        {"args": []},
        {"args": [5]},
        {"args": [1, "x"], "params": {"user": "ann"}},
        {"args": [{"x": 1, "y": 2}, {"label": "b"}]},
        {"args": "notalist"},
        [1, 2],
        {"params": "p" * 5000},
        {"args": [2**64 - 1]},
        {"args": [-(2**63)]},
        {"name": "fuzz_room", "key": ["a"]},
        {"name": "fuzz_room", "key": "k", "input": {"a": 1}},
        {"name": "Bad Name"},
        {"name": "fuzz_room", "key": ["x"] * 17},
        {"name": 5},
    ]
    out = [(_j(v), _m(v)) for v in values]
    out += [(j, m) for j, m in zip(NASTY_JSON, NASTY_MSGPACK, strict=False)]
    if deep:
        out += [(b'{"args":' + j + b"}", b"\x81\xa4args" + m) for j, m in _nests()]
        out += list(_nests())
    return out


def _http_body() -> Iterator[bytes]:
    for j, m in _pairs():
        yield b"\x00" + j
        yield b"\x01" + m
    yield b"\x06{}"  # text/plain
    yield b"\x03" + _j({"args": [1]})  # +json
    yield b"\x05" + _m({"args": [1]})  # media type with parameters


def _params_header() -> Iterator[bytes]:
    yield from (
        _j({"user": "ann"}),
        b"{}",
        b"null",
        b"[",
        b"x" * 5000,
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP,
        '{"u":"\xe9"}'.encode("latin-1"),
        b"1e999",
        b"NaN",
    )


def _frames(binary: bool) -> Iterator[bytes]:
    enc = _m if binary else _j
    for msg in CLIENT_MESSAGES + SERVER_MESSAGES:
        yield b"\x00" + enc(msg)
        if not binary:
            yield b"\x01" + enc(msg)
    nasty = NASTY_MSGPACK if binary else NASTY_JSON
    yield from (b"\x00" + n for n in nasty)
    for j, m in _nests():
        yield b"\x00" + (m if binary else j)
        inner = m if binary else j
        if binary:
            yield b"\x00\x84\xa1t\xa6action\xa2id\x01\xa4name\xa4echo\xa4args" + inner
        else:
            yield b'\x00{"t":"action","id":1,"name":"echo","args":' + inner + b"}"
    if binary:
        yield b"\x00\x82\xa1t\xa4ping\xa2ts\xd4\x01\x00"  # ext where a float belongs
        yield b"\x00\x82\xa1t\xa4ping\xa1t\xa4pong"  # duplicate tag
    else:
        yield b'\x00{"t":"ping","t":"pong"}'
        yield b'\x00{"t":"action","id":18446744073709551616,"name":"x"}'
        yield b'\x00{"t":"ping","ts":1e999}'


def _action_args() -> Iterator[bytes]:
    samples: list[Any] = [
        [1],
        [1, 2.5, "s", True, b"raw"],
        [[1, 2], {"a": 1.5}, [1, "x"], ["a", "b"]],
        [None, "x", "y"],
        [{"x": 1}, {"label": "b"}, {"title": "t", "year": 1}, "red"],
        ["2024-01-01T00:00:00Z", "12345678-1234-5678-1234-567812345678", "1.5", "2024-01-01", 5],
        [[{"x": 1}], {"a": [{"b": 1}]}],
        ["first", 1, 2, 3],
        [2**64 - 1, 1e308, "", False, ""],
        [{"x": 2**64 - 1}],
        ["9" * 5000],
        [float("nan")],
        [{"x": 1}, {"label": 1}, {}, "green"],
    ]
    for n in range(8):  # every action, every sample
        for args in samples:
            yield bytes([n]) + _m(args)
    for _, m in _nests():
        yield b"\x05" + m
    yield from (b"\x01" + n for n in NASTY_MSGPACK)


def _keys() -> Iterator[bytes]:
    for key in (
        None,
        "lobby",
        ["a", "b"],
        ["x"] * 17,
        ["a" * 129],
        [1],
        {"a": 1},
        "fuzz_room",
        "Bad",
        "a" * 65,
        ["é" * 100],
        [],
    ):
        yield b"\x00" + _j(key)
        yield b"\x01" + _m(key)
    yield b'\x00["\\ud800"]'
    yield b"\x00\xff\xfe"
    yield b"\x01\x92\xa1a\xc4\x01b"


def _ws_session() -> Iterator[bytes]:
    for binary in (False, True):
        enc = _m if binary else _j
        flag = b"\x01" if binary else b"\x00"
        kind = b"\x00" if binary else b"\x01"  # msgpack: binary frames; JSON: text frames

        def socket(*msgs: Any, enc: Any = enc, flag: bytes = flag, kind: bytes = kind) -> bytes:
            return flag + FRAME_SEP.join(
                kind + (m if isinstance(m, bytes) else enc(m)) for m in msgs
            )

        init, *rest = CLIENT_MESSAGES
        yield socket(init, *rest)
        yield socket(*rest)  # nothing before init
        yield socket(init, init)  # a second init
        yield socket({"t": "init", "params": {"deny": True}})
        yield socket({"t": "init", "params": "p" * 5000})
        yield socket({"t": "init", "subscriptions": [str(i) for i in range(1100)]})
        yield socket(init, *({"t": "sub", "event": f"e{i}"} for i in range(12)))
        yield socket(init, {"t": "action", "id": 1, "name": "echo", "args": ["x" * 70000]})
        for j, m in _nests():
            yield socket(
                init,
                b"\x84\xa1t\xa6action\xa2id\x01\xa4name\xa4echo\xa4args" + m
                if binary
                else b'{"t":"action","id":1,"name":"echo","args":' + j + b"}",
            )
        yield socket(init, *(b"garbage", b""))
    # A text frame on a msgpack socket (issue 14, item 5).
    yield b"\x01" + FRAME_SEP.join([b"\x01" + _j(CLIENT_MESSAGES[0]), b"\x01\xff"])


def _http_route() -> Iterator[bytes]:
    # route, content type, accept, action; then value \0\0 body chunks
    def req(route: int, ct: int, acc: int, act: int, value: bytes, *chunks: bytes) -> bytes:
        return bytes([route, ct, acc, act]) + b"\x00\x00".join([value, *chunks])

    yield req(0, 0, 0, 0, b"", _j({"args": [3]}))
    yield req(0, 1, 1, 1, b"", _m({"args": [{"a": b"x"}]}))
    yield req(0, 0, 0, 1, b"", b'{"args":[', b"1]}")  # chunked
    yield req(0, 0, 0, 3, _j({"user": "ann"}), _j({"args": ["boom"]}))
    yield req(0, 2, 3, 0, b"", b"")  # no content type, no body
    yield req(0, 4, 4, 0, b"", b"hello")  # text/plain: 415
    yield req(0, 0, 0, 0, b"[" * DEEP, b"")  # deep params header
    yield req(0, 0, 0, 2, b"", b'{"args":' + b"[" * DEEP + b"]" * DEEP + b"}")
    yield req(0, 1, 0, 2, b"", b"\x81\xa4args\x91" + b"\x91" * DEEP + b"\xc0")
    yield req(0, 0, 0, 1, b"", _j({"args": [1], "params": {"deny": True}}))
    yield req(3, 0, 0, 0, b"", _j({"name": "fuzz_room", "key": ["b"], "input": None}))
    yield req(3, 1, 1, 0, b"", _m({"name": "fuzz_room", "key": "c"}))
    yield req(3, 0, 0, 0, b"", _j({"name": "fuzz_room", "key": ["x"] * 17}))
    yield req(4, 0, 0, 0, b'["a"]', b"")
    yield req(4, 0, 0, 0, b"[" * DEEP, b"")  # deep key in the query
    yield req(5, 0, 0, 0, b"no-such-actor", b"")
    yield req(6, 0, 0, 0, b"increment", b"")
    for header in range(6):  # each parsed header, with a plain and a nasty value
        yield req(7, 0, 0, header, b"1", _j({"args": [1]}))
        yield req(7, 0, 0, header, b"9" * 5000, _j({"args": [1]}))
    yield req(7, 0, 0, 1, b"\xb2", b"")  # a latin-1 digit that int() refuses
    yield req(7, 0, 0, 2, b"node:1:secret,other,,::", b"")
    yield req(8, 0, 0, 0, b"0", b"")
    yield req(8, 0, 0, 0, b"\xb2", b"")
    yield req(6, 0, 0, 0, b"\xff/..%00", b"")


def seeds() -> dict[str, list[bytes]]:
    """Seed inputs by target name."""
    gens = {
        "http_body": _http_body(),
        "params_header": _params_header(),
        "ws_frame_json": _frames(binary=False),
        "ws_frame_msgpack": _frames(binary=True),
        "action_args": _action_args(),
        "keys": _keys(),
        "ws_session": _ws_session(),
        "http_route": _http_route(),
    }
    return {name: list(dict.fromkeys(gen)) for name, gen in gens.items()}
