"""Keyword arguments for actions, and ``get_for_id(actor_id)`` (issue 15 items 4 and 6).

Against a real server over HTTP and WebSocket (the Python clients, async and blocking),
and in-process. Keywords go through the same typed conversion as positional arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import actorkit
from actorkit import ActorError
from apps.dx_actions_app import Notes, registry
from server_fixtures import ServerProcess

APP = "tests/apps/dx_actions_app.py:registry"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("dx") / "data"
    proc = ServerProcess(APP, f"sqlite:///{data}").start()
    yield proc
    proc.stop()


async def refused(awaitable: Any, code: str) -> ActorError:
    with pytest.raises(ActorError) as info:
        await awaitable
    assert info.value.code == code, info.value
    return info.value


async def check_keywords(handle: Any) -> None:
    """Every way a Python handle or connection passes keywords."""
    assert await handle.add("milk", urgent=True) == {"text": "milk", "tag": "misc", "urgent": True}
    assert await handle.add(text="eggs", tag="shop") == {
        "text": "eggs",
        "tag": "shop",
        "urgent": False,
    }
    assert await handle.action("add", "tea", urgent=True) == {
        "text": "tea",
        "tag": "misc",
        "urgent": True,
    }
    assert await handle.sum(1, 2, 3) == 6
    # Parameters named like the client method's own (name) are keywords like any other.
    assert await handle.greet(name="ann") == "hello ann"
    assert await handle.action("greet", greeting="hi", name="bob") == "hi bob"
    err = await refused(handle.add(text="x", colour="red"), "validation_error")
    assert "'colour'" in err.message and err.metadata == {"action": "add", "param": "colour"}
    assert "partial" not in err.message and "action()" not in err.message
    err = await refused(handle.add(text="x", urgent="very"), "validation_error")
    assert err.metadata == {"action": "add", "param": "urgent"}
    err = await refused(handle.add("x", text="y"), "validation_error")
    assert err.metadata == {"action": "add", "param": "text"}
    err = await refused(handle.add(tag="t"), "validation_error")
    assert err.metadata == {"action": "add", "param": "text"}  # missing


async def test_keywords_over_http(server: ServerProcess) -> None:
    async with actorkit.AsyncClient(server.url) as client:
        await check_keywords(client.get_or_create(Notes, "http"))
        untyped = client.get_or_create("notes", "http-untyped")
        assert (await untyped.add(text="x"))["text"] == "x"


async def test_keywords_over_websocket(server: ServerProcess) -> None:
    async with (
        actorkit.AsyncClient(server.url) as client,
        client.get_or_create(Notes, "ws").connect() as conn,
    ):
        await check_keywords(conn)


async def test_keywords_in_process() -> None:
    async with registry.test_client() as client:
        handle = client.get_or_create(Notes, "local")
        await check_keywords(handle)
        async with handle.connect() as conn:
            assert (await conn.add(text="over a pipe"))["text"] == "over a pipe"


def test_keywords_with_the_blocking_client(server: ServerProcess) -> None:
    with actorkit.Client(server.url) as client:
        handle = client.get_or_create(Notes, "sync")
        assert handle.add(text="a", urgent=True)["urgent"] is True
        assert handle.action("add", "b", tag="t")["tag"] == "t"
        with pytest.raises(ActorError) as info:
            handle.add(text="a", nope=1)
        assert info.value.code == "validation_error" and "'nope'" in info.value.message
        with handle.connect() as conn:
            assert conn.add(text="c", tag="ws")["tag"] == "ws"
            assert conn.action("add", text="d")["text"] == "d"


def test_keywords_in_the_http_body(server: ServerProcess) -> None:
    """The wire format: ``{"args": [...], "kwargs": {...}}`` (docs/protocol.md)."""
    actor_id = httpx.put(server.url + "/actors", json={"name": "notes", "key": ["raw"]}).json()[
        "actor_id"
    ]
    url = f"{server.url}/actors/{actor_id}/actions/add"
    reply = httpx.post(url, json={"args": ["a"], "kwargs": {"tag": "t"}})
    assert reply.status_code == 200 and reply.json()["output"]["tag"] == "t"
    reply = httpx.post(url, json={"kwargs": {"text": "only keywords"}})
    assert reply.json()["output"]["text"] == "only keywords"
    bad = httpx.post(url, json={"args": ["a"], "kwargs": ["tag", "t"]})
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
    assert "'kwargs'" in bad.json()["message"]
    unknown = httpx.post(url, json={"args": ["a"], "kwargs": {"size": 3}})
    assert unknown.json()["code"] == "validation_error" and "'size'" in unknown.json()["message"]


async def test_keywords_and_idempotency_keys(server: ServerProcess) -> None:
    """A repeat with the same key and keywords replays; other keywords are another call."""
    async with actorkit.AsyncClient(server.url) as client:
        handle = client.get_or_create(Notes, "idem")
        first = await handle.action("add", "x", idempotency_key="k1", tag="one")
        assert await handle.action("add", "x", idempotency_key="k1", tag="one") == first
        await refused(
            handle.action("add", "x", idempotency_key="k1", tag="two"), "idempotency_key_reused"
        )
        await refused(
            handle.action("add", "x", "one", idempotency_key="k1"), "idempotency_key_reused"
        )
        assert await handle.count() == 1  # ran once


async def test_get_for_id_with_the_id_alone(server: ServerProcess) -> None:
    async with actorkit.AsyncClient(server.url) as client:
        actor_id = await client.get_or_create(Notes, "by-id").resolve()
        by_id = client.get_for_id(actor_id)
        assert (await by_id.add(text="found"))["text"] == "found"
        assert await by_id.resolve() == actor_id
        typed = client.get_for_id(Notes, actor_id)  # the class first still works
        assert (await typed.add("again"))["text"] == "again"
        await refused(client.get_for_id("no-such-id").add("x"), "actor_not_found")
        with pytest.raises(TypeError):
            client.get_for_id(Notes)  # type: ignore[call-overload]
    with actorkit.Client(server.url) as sync_client:
        assert sync_client.get_for_id(actor_id).add(text="sync")["text"] == "sync"
    async with registry.test_client() as local:
        local_id = await local.get_or_create(Notes, "k").resolve()
        assert (await local.get_for_id(local_id).add(text="local"))["text"] == "local"
