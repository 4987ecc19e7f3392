"""Bad input over real HTTP: each answered with its documented status and code, and the
server keeps serving afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from server_fixtures import ServerFactory, ServerProcess


@pytest.fixture
def http(actor_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=actor_server.url, timeout=30) as client:
        yield client
    # Whatever the test sent, the server is still alive and serving.
    assert actor_server.alive
    assert httpx.get(actor_server.url + "/health").status_code == 200


def counter_id(http: httpx.Client, key: str = "errors") -> str:
    reply = http.put("/actors", json={"name": "counter", "key": [key]})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["actor_id"])


def assert_error(reply: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert reply.status_code == status, reply.text
    if reply.headers["content-type"] == "application/msgpack":
        body = msgspec.msgpack.decode(reply.content)
    else:
        body = reply.json()
    assert set(body) == {"group", "code", "message", "metadata"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return dict(body)


def test_unknown_route_is_404_not_found(http: httpx.Client) -> None:
    assert_error(http.get("/nope"), 404, "not_found")
    assert_error(http.post("/actors/x/y/z"), 404, "not_found")


def test_wrong_method_is_405_with_allow(http: httpx.Client) -> None:
    reply = http.patch("/actors")
    assert_error(reply, 405, "method_not_allowed")
    assert reply.headers["allow"] == "GET, HEAD, POST, PUT"


def test_malformed_json_is_400_invalid_request(http: httpx.Client) -> None:
    for body in (b"{bad", b"[1,", b"\xff\xfe"):
        reply = http.put("/actors", content=body, headers={"content-type": "application/json"})
        assert_error(reply, 400, "invalid_request")
    reply = http.post(
        f"/actors/{counter_id(http)}/actions/increment",
        content=b'{"args": [1',
        headers={"content-type": "application/json"},
    )
    assert_error(reply, 400, "invalid_request")


def test_malformed_msgpack_is_400_invalid_request(http: httpx.Client) -> None:
    reply = http.put(
        "/actors", content=b"\xc1\xc1\xc1", headers={"content-type": "application/msgpack"}
    )
    body = assert_error(reply, 400, "invalid_request")
    assert "msgpack" in str(body["message"])


def test_wrong_content_type_is_415(http: httpx.Client) -> None:
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        reply = http.put("/actors", content=b"name=counter", headers={"content-type": ctype})
        assert_error(reply, 415, "unsupported_media_type")


def test_body_over_limit_is_413(http: httpx.Client) -> None:
    url = f"/actors/{counter_id(http)}/actions/echo"
    big = {"args": ["x" * (64 * 1024)]}
    body = assert_error(http.post(url, json=big), 413, "message_too_large")
    assert body["metadata"] == {"limit": 64 * 1024}


def test_chunked_body_over_limit_is_413_while_reading(http: httpx.Client) -> None:
    # No Content-Length: the limit is enforced on the bytes as they arrive.
    def chunks() -> Iterator[bytes]:
        yield b'{"args": ["'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"]}'

    reply = http.post(
        f"/actors/{counter_id(http)}/actions/echo",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert_error(reply, 413, "message_too_large")


def test_huge_input_is_413(http: httpx.Client) -> None:
    reply = http.post(
        "/actors",
        content=b'{"name":"counter","key":["huge"],"input":"' + b"x" * (5 * 1024 * 1024) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert_error(reply, 413, "message_too_large")


@pytest.mark.parametrize(
    "key",
    [
        [1, 2],
        {"a": "b"},
        ["x" * 129],
        [str(i) for i in range(17)],
    ],
)
def test_invalid_key_is_400_validation_error(http: httpx.Client, key: object) -> None:
    reply = http.put("/actors", json={"name": "counter", "key": key})
    assert_error(reply, 400, "validation_error")


def test_invalid_key_in_query_is_400(http: httpx.Client) -> None:
    reply = http.get("/actors", params={"name": "counter", "key": "[1, 2]"})
    assert_error(reply, 400, "validation_error")
    reply = http.get("/actors", params={"name": "counter", "key": "[not json"})
    assert_error(reply, 400, "validation_error")


def test_invalid_bodies_are_400_validation_error(http: httpx.Client) -> None:
    assert_error(http.put("/actors", json=[1, 2]), 400, "validation_error")
    assert_error(http.put("/actors", json={"key": ["a"]}), 400, "validation_error")
    assert_error(http.put("/actors", json={"name": "Bad Name!"}), 400, "validation_error")
    url = f"/actors/{counter_id(http)}/actions/increment"
    assert_error(http.post(url, json={"args": "nope"}), 400, "validation_error")
    assert_error(http.post(url, json={"args": ["five"]}), 400, "validation_error")
    assert_error(http.post(url, json={"args": [1, 2, 3]}), 400, "validation_error")


def test_unknown_actor_type_id_and_action_are_404(http: httpx.Client) -> None:
    assert_error(http.put("/actors", json={"name": "nobody"}), 404, "actor_not_found")
    assert_error(http.get("/actors/0000"), 404, "actor_not_found")
    reply = http.delete("/actors/0000", headers={"x-actorkit-client": "test"})
    assert_error(reply, 404, "actor_not_found")
    assert_error(http.post("/actors/0000/actions/increment", json={}), 404, "actor_not_found")
    reply = http.get("/actors", params={"name": "counter", "key": '["never-created"]'})
    assert_error(reply, 404, "actor_not_found")
    reply = http.post(f"/actors/{counter_id(http)}/actions/nope", json={"args": []})
    body = assert_error(reply, 404, "action_not_found")
    assert body["metadata"] == {"action": "nope"}


def test_create_twice_is_409(http: httpx.Client) -> None:
    first = http.post("/actors", json={"name": "counter", "key": ["dup"]})
    assert first.status_code == 201
    assert_error(
        http.post("/actors", json={"name": "counter", "key": ["dup"]}), 409, "actor_already_exists"
    )


def test_user_error_is_400_with_code_and_metadata(http: httpx.Client) -> None:
    reply = http.post(f"/actors/{counter_id(http, 'user')}/actions/fail", json={"args": ["nope"]})
    body = assert_error(reply, 400, "nope")
    assert body["group"] == "user"
    assert body["metadata"] == {"count": 1000}


def test_internal_error_is_500_and_sanitized(http: httpx.Client) -> None:
    reply = http.post(f"/actors/{counter_id(http)}/actions/crash", json={})
    body = assert_error(reply, 500, "internal_error")
    assert "secret" not in reply.text and body["group"] == "internal"


def test_action_timeout_is_504(http: httpx.Client) -> None:
    actor_id = http.put("/actors", json={"name": "quick", "key": ["t"]}).json()["actor_id"]
    assert_error(http.post(f"/actors/{actor_id}/actions/hang", json={}), 504, "action_timeout")


def test_connection_params_are_checked(http: httpx.Client) -> None:
    actor_id = http.put("/actors", json={"name": "room", "key": ["p"]}).json()["actor_id"]
    url = f"/actors/{actor_id}/actions/send"
    assert_error(http.post(url, json={"args": ["hi"]}), 403, "forbidden")
    bad = {"x-actorkit-params": json.dumps({"token": "wrong"})}
    assert_error(http.post(url, json={"args": ["hi"]}, headers=bad), 403, "forbidden")
    good = {"x-actorkit-params": json.dumps({"token": "secret"})}
    assert http.post(url, json={"args": ["hi"]}, headers=good).json() == {"output": 1}
    assert_error(
        http.post(url, json={"args": ["hi"]}, headers={"x-actorkit-params": "{bad"}),
        400,
        "invalid_request",
    )
    huge = {"x-actorkit-params": json.dumps({"token": "x" * 5000})}
    assert_error(http.post(url, json={"args": ["hi"]}, headers=huge), 413, "message_too_large")


def test_list_paging_arguments_are_validated(http: httpx.Client) -> None:
    assert_error(http.get("/actors", params={"limit": "0"}), 400, "validation_error")
    assert_error(http.get("/actors", params={"limit": "many"}), 400, "validation_error")
    assert_error(http.get("/actors", params={"name": "nobody"}), 404, "actor_not_found")
    assert_error(http.get("/actors", params={"key": "a"}), 400, "validation_error")


def test_msgpack_errors_are_msgpack(http: httpx.Client) -> None:
    reply = http.put(
        "/actors",
        content=msgspec.msgpack.encode({"name": "nobody"}),
        headers={"content-type": "application/msgpack"},
    )
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/msgpack"
    assert msgspec.msgpack.decode(reply.content)["code"] == "actor_not_found"


def test_limits_are_configurable(server_factory: ServerFactory) -> None:
    server = server_factory("tests/apps/limits_app.py:registry", storage="memory://")
    with httpx.Client(base_url=server.url) as http:
        assert_error(
            http.put("/actors", json={"name": "counter", "key": ["a", "b", "c"]}),
            400,
            "validation_error",
        )
        big_input = {"name": "counter", "key": ["i"], "input": "x" * 200}
        assert_error(http.put("/actors", json=big_input), 413, "message_too_large")
        actor_id = counter_id(http, "limits")
        url = f"/actors/{actor_id}/actions/echo"
        assert http.post(url, json={"args": ["x" * 100]}).status_code == 200
        body = assert_error(http.post(url, json={"args": ["x" * 200]}), 413, "message_too_large")
        assert body["metadata"] == {"limit": 200}
        params = {"x-actorkit-params": json.dumps({"token": "x" * 30})}
        assert_error(http.post(url, json={"args": [1]}, headers=params), 413, "message_too_large")
        raw = http.post(f"/actors/{actor_id}/request/bump", content=b"y" * 11)
        assert_error(raw, 413, "message_too_large")
        assert http.post(f"/actors/{actor_id}/request/bump", content=b"y" * 10).status_code == 201
