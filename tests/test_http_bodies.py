"""A request whose body is cut short (the client went away) never runs, on the fast path and
on the Starlette routes, and leaves no traceback.

These drive the ASGI endpoints with the message sequence uvicorn delivers for such a client
(a partial body, then ``http.disconnect``) against a real node: over a real socket the
outcome — an action that does *not* run — could only be observed by waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from starlette.requests import Request

from actorkit._runtime.node import Node
from actorkit.errors import ActorError
from actorkit.local import local_client
from actorkit.server.encoding import read_body
from actorkit.server.endpoint import Starter
from actorkit.server.fastpath import ActionFastPath
from actorkit.storage import MemoryDriver
from apps.counter_app import registry


def scripted(*messages: dict[str, Any]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    return receive


def http_scope(path: str, body_type: bytes = b"application/json") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", body_type)],
    }


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    node = Node(registry, MemoryDriver(), client_factory=local_client)
    await node.start()
    yield node
    await node.stop()


async def call_fast_path(node: Node, actor_id: str, *messages: dict[str, Any]) -> dict[str, Any]:
    fast = ActionFastPath(node, Starter(node))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope(f"/actors/{actor_id}/actions/increment")
    await fast.handle(scope, scripted(*messages), send, actor_id, "increment")
    assert sent[0]["status"] == 400
    reply: dict[str, Any] = msgspec.json.decode(sent[1]["body"])
    return reply


@pytest.mark.parametrize(
    "messages",
    [
        # Headers arrived, then the client closed before any of the body.
        [{"type": "http.disconnect"}],
        # A body that is complete JSON so far, but the client meant to send more.
        [{"type": "http.request", "body": b'{"args": [5]}', "more_body": True}],
    ],
    ids=["no-body", "cut-short"],
)
async def test_fast_path_does_not_run_a_call_whose_body_was_cut_short(
    node: Node, messages: list[dict[str, Any]]
) -> None:
    record = await node.resolve("counter", ["cut"], "get_or_create")
    reply = await call_fast_path(node, record.id, *messages)
    assert reply["code"] == "invalid_request"
    assert "disconnected" in reply["message"]
    assert await node.call(record.id, "get", []) == 0


async def test_read_body_turns_a_disconnect_into_invalid_request() -> None:
    request = Request(
        http_scope("/actors"),
        scripted({"type": "http.request", "body": b'{"name": "coun', "more_body": True}),
    )
    with pytest.raises(ActorError) as info:
        await read_body(request, 1024)
    assert info.value.code == "invalid_request"
