"""``@action(internal=True)``: callable from inside the app only (issue 15 item 7).

Schedules, the actor itself and other actors may call it; clients — HTTP, WebSocket, the
in-process test client — get ``action_not_found``, exactly as for an action that does not
exist. The inspector (a developer's tool) lists it marked internal and may call it.
"""

from __future__ import annotations

import asyncio
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
    data = tmp_path_factory.mktemp("internal") / "data"
    proc = ServerProcess(APP, f"sqlite:///{data}", command="dev", args=["--no-reload"]).start()
    yield proc
    proc.stop()


async def not_found(awaitable: Any) -> ActorError:
    with pytest.raises(ActorError) as info:
        await awaitable
    assert info.value.code == "action_not_found", info.value
    return info.value


async def check_hidden_from(handle: Any) -> None:
    """``handle`` (a handle or a connection) cannot tell ``expire`` from a missing action."""
    hidden = await not_found(handle.expire())
    missing = await not_found(handle.no_such_action())
    assert hidden.message == missing.message.replace("no_such_action", "expire")
    assert hidden.metadata == {"action": "expire"}
    await not_found(handle.action("expire", reason="forced"))


async def test_clients_over_http_do_not_see_internal_actions(server: ServerProcess) -> None:
    async with actorkit.AsyncClient(server.url) as client:
        a = client.get_or_create(Notes, "a")
        await check_hidden_from(a)
        assert await a.expired() == []  # it did not run
        # From inside it runs: the actor itself, another actor (in a turn or interleaved).
        assert await a.expire_self() == ["self"]
        assert await client.get_or_create(Notes, "b").expire_other("a") == ["self", "from b"]
        assert await client.get_or_create(Notes, "c").expire_other_interleaved("a") == [
            "self",
            "from b",
            "interleaved",
        ]


def test_raw_http_gets_404_action_not_found(server: ServerProcess) -> None:
    url = f"{server.url}/actors/{await_id(server, 'raw')}/actions"
    raw = httpx.post(f"{url}/expire", json={"args": []})
    assert raw.status_code == 404 and raw.json()["code"] == "action_not_found"
    assert httpx.post(f"{url}/expired", json={"args": []}).json() == {"output": []}


def await_id(server: ServerProcess, key: str) -> str:
    reply = httpx.put(f"{server.url}/actors", json={"name": "notes", "key": [key]})
    return str(reply.json()["actor_id"])


async def test_a_schedule_fires_an_internal_action(server: ServerProcess) -> None:
    async with (
        actorkit.AsyncClient(server.url) as client,
        client.get_or_create(Notes, "sched").connect() as conn,
    ):
        fired = asyncio.get_running_loop().create_future()
        conn.once("expired", fired.set_result)
        await check_hidden_from(conn)  # over the WebSocket too
        await conn.expire_later()
        assert await asyncio.wait_for(fired, 30) == "scheduled"
        assert await conn.expired() == ["scheduled"]


async def test_the_test_client_is_a_client_but_actors_are_inside() -> None:
    async with registry.test_client() as client:
        a = client.get_or_create(Notes, "a")
        await check_hidden_from(a)
        async with a.connect() as conn:
            await not_found(conn.expire())
        assert await client.get_or_create(Notes, "b").expire_other("a") == ["from b"]


def test_the_blocking_client_gets_action_not_found(server: ServerProcess) -> None:
    with actorkit.Client(server.url) as client:
        handle = client.get_or_create(Notes, "sync")
        with pytest.raises(ActorError) as info:
            handle.expire()
        assert info.value.code == "action_not_found"
        assert handle.expire_self() == ["self"]


def test_the_inspector_lists_it_as_internal_and_may_call_it(server: ServerProcess) -> None:
    actor_id = await_id(server, "inspected")
    info = httpx.get(f"{server.url}/inspector/api/info").json()
    (notes,) = [t for t in info["types"] if t["name"] == "notes"]
    flags = {a["name"]: a["internal"] for a in notes["actions"]}
    assert flags["expire"] is True and flags["add"] is False
    reply = httpx.post(
        f"{server.url}/inspector/api/actors/{actor_id}/actions/expire", json={"args": ["dev"]}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["output"] == ["dev"]
