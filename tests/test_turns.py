"""Every kind of turn runs through one runner: regressions of the bugs its copies had, over
real sockets (a real server process, real WebSockets)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from actorkit import ActorError, AsyncClient
from server_fixtures import ServerFactory
from ws_helpers import eventually

APP = "tests/apps/turns_app.py:registry"


async def test_failed_connect_hook_rolls_back_its_db_writes(server_factory: ServerFactory) -> None:
    server = server_factory(APP)
    async with AsyncClient(server.url) as client:
        lobby = client.get_or_create("lobby", "a")
        with pytest.raises(ActorError) as info:
            await lobby.connect(params={"mode": "fail"}).open()
        assert info.value.code == "refused"
        # The db turn of the failed hook was rolled back and released: the next db call
        # answers (it used to hang forever) and sees none of the hook's writes.
        async with asyncio.timeout(30):
            assert await lobby.joins() == []
            async with lobby.connect(params={"mode": "ok"}) as conn:
                assert await conn.counts() == {"joined": 1, "slept": 0}
            joins = await lobby.joins()
            assert joins[0] == "connect:ok" and "connect:fail" not in joins


async def test_failed_disconnect_hook_rolls_back_its_db_writes(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP)
    async with AsyncClient(server.url) as client:
        lobby = client.get_or_create("lobby", "b")
        conn = lobby.connect(params={"mode": "ok", "leave": "fail"})
        await conn.open()
        await conn.aclose()  # a clean close runs on_disconnect, which writes and raises
        polite = lobby.connect(params={"mode": "ok"})
        await polite.open()
        await polite.aclose()  # this one's on_disconnect succeeds
        async with asyncio.timeout(30):
            await eventually(lambda: lobby.joins(), lambda j: j[-1:] == ["disconnect"])
            assert await lobby.joins() == ["connect:ok", "connect:ok", "disconnect"]


async def test_destroy_in_on_connect_happens_at_the_end_of_that_hook(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP)
    async with AsyncClient(server.url) as client:
        kept = client.get_or_create("lobby", "kept")
        async with kept.connect(params={"mode": "ok"}):
            pass
        assert await client.get("lobby", "kept").resolve()  # a plain connect destroys nothing

        doomed = client.get_or_create("lobby", "doomed")
        doomed_id = await doomed.resolve()
        with pytest.raises(ActorError) as info:
            await doomed.connect(params={"mode": "destroy"}).open()
        assert info.value.code == "actor_not_found"
        # Gone now, before any other call (it used to be destroyed at the end of the next,
        # unrelated action).
        with pytest.raises(ActorError) as gone:
            await client.get("lobby", "doomed").resolve()
        assert gone.value.code == "actor_not_found"
        async with httpx.AsyncClient() as http:
            reply = await http.get(f"{server.url}/actors?name=lobby&key=doomed")
        assert reply.status_code == 404
        fresh = await client.get_or_create("lobby", "doomed").resolve()
        assert fresh != doomed_id


async def test_sleep_in_on_connect_happens_at_the_end_of_that_hook(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP)

    async def awake() -> Any:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{server.url}/health")).json()["actors_awake"]

    async with AsyncClient(server.url) as client:
        lobby = client.get_or_create("lobby", "sleepy")
        async with lobby.connect(params={"mode": "ok"}):
            assert await awake() == 1  # a plain connect leaves the actor awake (sleep_timeout 300)
            async with lobby.connect(params={"mode": "sleep"}):
                # Asleep without any further call (it used to sleep only at the end of the
                # next action): its on_sleep ran and was saved.
                await eventually(awake, lambda n: n == 0)
        counts = await lobby.counts()
        assert counts["slept"] >= 1 and counts["joined"] == 2
