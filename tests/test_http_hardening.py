"""HTTP input an attacker controls, against a real server process: deep nesting, oversized
params, cross-site requests (CSRF), bodies refused before they are buffered.

Each answer is a stable error code, and the server keeps serving without a traceback.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from inspector_helpers import TOKEN, token_server
from server_fixtures import ServerFactory, ServerProcess
from test_server_errors import assert_error as refused

MAX_DEPTH = 128  # documented in docs/protocol.md
JSON_TYPE = {"content-type": "application/json"}
MSGPACK_TYPE = {"content-type": "application/msgpack"}


@pytest.fixture
def http(actor_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=actor_server.url, timeout=30) as client:
        yield client
    assert actor_server.alive
    assert httpx.get(actor_server.url + "/health").status_code == 200
    assert "Traceback" not in actor_server.output()


def counter(http: httpx.Client, key: str) -> str:
    reply = http.put("/actors", json={"name": "counter", "key": [key]})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["actor_id"])


def count(http: httpx.Client, actor_id: str) -> int:
    reply = http.post(f"/actors/{actor_id}/actions/get", json={})
    assert reply.status_code == 200, reply.text
    return int(reply.json()["output"])


def nested_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_msgpack(depth: int) -> bytes:
    return b"\x91" * (depth - 1) + b"\x90"  # fixarray(1) … fixarray(0)


def nested_value(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


# -- nesting (issue 14, item 6) --------------------------------------------------------------


@pytest.mark.parametrize("depth", [1_000, 10_000])
def test_deeply_nested_json_bodies_are_400_invalid_request(http: httpx.Client, depth: int) -> None:
    actor_id = counter(http, "deep-json")
    args = b'{"args": [' + nested_json(depth) + b"]}"
    body = refused(
        http.post(f"/actors/{actor_id}/actions/echo", content=args, headers=JSON_TYPE),
        400,
        "invalid_request",
    )
    assert "nested" in str(body["message"])
    create = b'{"name": "counter", "key": ["d"], "input": ' + nested_json(depth) + b"}"
    refused(http.put("/actors", content=create, headers=JSON_TYPE), 400, "invalid_request")
    refused(http.post("/actors", content=create, headers=JSON_TYPE), 400, "invalid_request")
    assert count(http, actor_id) == 0


@pytest.mark.parametrize("depth", [1_000, 10_000])
def test_deeply_nested_msgpack_bodies_are_400_invalid_request(
    http: httpx.Client, depth: int
) -> None:
    actor_id = counter(http, "deep-msgpack")
    args = b"\x81\xa4args\x91" + nested_msgpack(depth)
    reply = http.post(f"/actors/{actor_id}/actions/echo", content=args, headers=MSGPACK_TYPE)
    refused(reply, 400, "invalid_request")
    create = b"\x82\xa4name\xa7counter\xa5input" + nested_msgpack(depth)
    refused(http.put("/actors", content=create, headers=MSGPACK_TYPE), 400, "invalid_request")


def test_nesting_up_to_the_limit_is_served_and_one_more_level_is_refused(
    http: httpx.Client,
) -> None:
    """The limit counts the whole body: ``{"args": [value]}`` is two levels around value."""
    url = f"/actors/{counter(http, 'deep-limit')}/actions/echo"
    deepest = nested_value(MAX_DEPTH - 2)
    for encode, headers in ((json.dumps, JSON_TYPE), (msgspec.msgpack.encode, MSGPACK_TYPE)):
        ok = http.post(url, content=_bytes(encode({"args": [deepest]})), headers=headers)
        assert ok.status_code == 200, ok.text
        too_deep = _bytes(encode({"args": [[deepest]]}))
        refused(http.post(url, content=too_deep, headers=headers), 400, "invalid_request")
    reply = http.post(url, json={"args": [deepest]})
    assert reply.json() == {"output": deepest}


def _bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def test_deeply_nested_params_header_is_400(http: httpx.Client) -> None:
    url = f"/actors/{counter(http, 'deep-params')}/actions/increment"
    deep = {"x-actorkit-params": nested_json(1_500).decode()}
    refused(http.post(url, json={}, headers=deep), 400, "invalid_request")
    assert count(http, url.split("/")[2]) == 0


def test_deeply_nested_key_query_is_400(http: httpx.Client) -> None:
    reply = http.get("/actors", params={"name": "counter", "key": nested_json(2_000).decode()})
    refused(reply, 400, "validation_error")


def test_deeply_nested_inspector_body_is_400(tmp_path: Path) -> None:
    server = token_server(tmp_path / "data")
    try:
        with httpx.Client(base_url=server.url) as http:
            actor_id = counter(http, "inspected")
        reply = httpx.post(
            f"{server.url}/inspector/api/actors/{actor_id}/actions/increment",
            content=b'{"args": [' + nested_json(5_000) + b"]}",
            headers={**JSON_TYPE, "authorization": f"Bearer {TOKEN}"},
        )
        refused(reply, 400, "invalid_request")
        assert server.alive and "Traceback" not in server.output()
    finally:
        server.stop()


async def test_raw_websocket_params_are_checked_like_the_others(
    server_factory: ServerFactory,
) -> None:
    server = server_factory("tests/apps/realtime_app.py:registry", storage="memory://")
    async with httpx.AsyncClient() as http:
        reply = await http.put(f"{server.url}/actors", json={"name": "room", "key": ["raw"]})
    base = server.url.replace("http", "ws") + f"/actors/{reply.json()['actor_id']}/websocket/e"
    good = {"token": "ok", "user": "ann"}
    async with connect(base + "?params=" + quote(json.dumps(good))) as ws:
        await ws.send("hi")
        assert await ws.recv() == "echo:hi"
    deep = nested_json(1_200).decode()  # the URL stays under the 8 KiB request-line limit
    huge = json.dumps({**good, "pad": "x" * 5_000})
    for params in (deep, huge):
        with pytest.raises(InvalidStatus) as info:
            async with connect(base + "?params=" + quote(params)):
                pass
        assert info.value.response.status_code == 403
    assert server.alive and "Traceback" not in server.output()


# -- params size (item 7) --------------------------------------------------------------------


def test_params_over_the_limit_are_413_in_the_body_as_in_the_header(http: httpx.Client) -> None:
    actor_id = http.put("/actors", json={"name": "room", "key": ["big-params"]}).json()["actor_id"]
    url = f"/actors/{actor_id}/actions/send"
    big = {"token": "secret", "pad": "x" * 60_000}
    refused(http.post(url, json={"args": ["hi"], "params": big}), 413, "message_too_large")
    msgpack_body = msgspec.msgpack.encode({"args": ["hi"], "params": big})
    reply = http.post(url, content=msgpack_body, headers=MSGPACK_TYPE)
    refused(reply, 413, "message_too_large")
    header = {"x-actorkit-params": json.dumps(big)}
    refused(http.post(url, json={"args": ["hi"]}, headers=header), 413, "message_too_large")
    # The action never ran: the room's counter starts at 1 with the first accepted call.
    assert http.post(url, json={"args": ["hi"], "params": {"token": "secret"}}).json() == {
        "output": 1
    }


def test_params_limit_is_the_same_both_ways(server_factory: ServerFactory) -> None:
    """``max_params_bytes`` = 20 in limits_app; measured on the msgpack encoding."""
    server = server_factory("tests/apps/limits_app.py:registry", storage="memory://")
    with httpx.Client(base_url=server.url) as http:
        url = f"/actors/{counter(http, 'p')}/actions/increment"
        at_limit = "x" * 16  # msgpack: map(1) + "a" (2) + str header (1) + 16 = 20 bytes
        over = "x" * 17
        assert len(msgspec.msgpack.encode({"a": at_limit})) == 20
        for params, expected in (({"a": at_limit}, 200), ({"a": over}, 413)):
            body = http.post(url, json={"args": [1], "params": params})
            header = http.post(
                url, json={"args": [1]}, headers={"x-actorkit-params": json.dumps(params)}
            )
            assert body.status_code == header.status_code == expected, (body.text, header.text)


# -- CSRF (item 13) --------------------------------------------------------------------------

SIMPLE_CONTENT_TYPES = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
]


@pytest.mark.parametrize("content_type", SIMPLE_CONTENT_TYPES)
def test_action_call_a_browser_could_send_cross_site_is_refused(
    http: httpx.Client, content_type: str | None
) -> None:
    actor_id = counter(http, f"csrf-{content_type}")
    headers = {"origin": "http://attacker.example"}
    if content_type is not None:
        headers["content-type"] = content_type
    reply = http.post(f"/actors/{actor_id}/actions/increment", headers=headers)
    body = refused(reply, 415, "unsupported_media_type")
    assert "X-Actorkit-Client" in str(body["message"])
    assert count(http, actor_id) == 0  # the zero-argument action did not run


def test_create_and_destroy_need_a_content_type_or_the_client_header(http: httpx.Client) -> None:
    create = json.dumps({"name": "counter", "key": ["csrf-create"]}).encode()
    for method in ("PUT", "POST"):
        reply = http.request(method, "/actors", content=create, headers={"content-type": ""})
        refused(reply, 415, "unsupported_media_type")
        reply = http.request(
            method, "/actors", content=create, headers={"content-type": "text/plain"}
        )
        refused(reply, 415, "unsupported_media_type")
    found = http.get("/actors", params={"name": "counter", "key": "csrf-create"})
    refused(found, 404, "actor_not_found")

    actor_id = counter(http, "csrf-destroy")
    refused(http.delete(f"/actors/{actor_id}"), 415, "unsupported_media_type")
    assert http.get(f"/actors/{actor_id}").status_code == 200
    reply = http.delete(f"/actors/{actor_id}", headers={"x-actorkit-client": "curl"})
    assert reply.json() == {"actor_id": actor_id, "destroyed": True}


def test_the_client_header_or_an_api_content_type_lets_calls_through(http: httpx.Client) -> None:
    actor_id = counter(http, "csrf-ok")
    url = f"/actors/{actor_id}/actions/increment"
    assert http.post(url, headers={"x-actorkit-client": "x"}).json() == {"output": 1}
    assert http.post(url, content=b'{"args": [2]}', headers={"x-actorkit-client": "x"}).json() == {
        "output": 3
    }
    media_types = ("application/json", "application/json; charset=utf-8", "application/msgpack")
    for expected, media in enumerate(media_types, start=4):
        reply = http.post(url, headers={"content-type": media, "accept": "application/json"})
        assert reply.json() == {"output": expected}
    reply = http.put(
        "/actors",
        content=b'{"name": "counter", "key": ["csrf-header"]}',
        headers={"x-actorkit-client": "x"},
    )
    assert reply.status_code == 200, reply.text


# -- bodies refused before they are buffered (item 3, HTTP) ----------------------------------


def _open(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def _read_status(sock: socket.socket) -> int:
    """The status of the response, read before the request body was finished."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the server closed without answering"
        head += chunk
    return int(head.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("method", "path", "limit"),
    [
        ("POST", "/actors/{id}/actions/echo", 64 * 1024),  # the fast path
        ("PUT", "/actors", 4 * 1024 * 1024 + 16 * 1024),  # a Starlette route
    ],
)
def test_chunked_body_is_refused_before_it_is_complete(
    actor_server: ServerProcess, method: str, path: str, limit: int
) -> None:
    """No Content-Length: the answer is 413 once the limit has arrived, while the client
    has not even finished the body (so the server cannot have buffered it whole)."""
    with httpx.Client(base_url=actor_server.url) as http:
        path = path.format(id=counter(http, "chunked"))
    with _open(actor_server) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        sock.sendall(b'b\r\n{"args": ["\r\n')
        chunk = b"x" * 8192
        for _ in range(limit // len(chunk) + 2):  # past the limit, and no final 0-chunk
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        assert _read_status(sock) == 413
    assert actor_server.alive


def test_declared_oversize_action_body_is_refused_before_any_byte_of_it(
    actor_server: ServerProcess,
) -> None:
    with httpx.Client(base_url=actor_server.url) as http:
        actor_id = counter(http, "declared")
    with _open(actor_server) as sock:
        sock.sendall(
            f"POST /actors/{actor_id}/actions/echo HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n".encode()
        )
        assert _read_status(sock) == 413
    assert actor_server.alive


def test_integers_beyond_64_bits_are_refused_as_bad_input(http: httpx.Client) -> None:
    """JSON can spell integers that msgpack (the wire and the stored state) cannot carry: one
    used to reach the action and fail its state save (500 ``state_not_serializable``).
    Found by scripts/fuzz."""
    actor_id = counter(http, "huge-int")
    huge = b'{"args": [' + b"7" * 40 + b"]}"
    for action in ("increment", "echo"):  # typed int, and untyped (Any)
        reply = http.post(f"/actors/{actor_id}/actions/{action}", content=huge, headers=JSON_TYPE)
        assert "64 bits" in refused(reply, 400, "invalid_request")["message"]
    # An int parameter takes 64-bit signed integers: 2**63 fits msgpack but not the type.
    over = http.post(f"/actors/{actor_id}/actions/increment", json={"args": [2**63]})
    assert refused(over, 400, "validation_error")["metadata"]["param"] == "amount"
    largest = http.post(f"/actors/{actor_id}/actions/increment", json={"args": [2**63 - 1]})
    assert largest.status_code == 200 and count(http, actor_id) == 2**63 - 1, largest.text
    # Long numbers that are not integers out of range still pass.
    fine = http.post(f"/actors/{actor_id}/actions/echo", json={"args": [["7" * 40, 1.5e300]]})
    assert fine.json()["output"] == ["7" * 40, 1.5e300], fine.text
