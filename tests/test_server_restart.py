"""Restarting the server (gracefully or with kill -9) keeps every actor and its state."""

from __future__ import annotations

import asyncio

import httpx

from actorkit import AsyncClient
from server_fixtures import ServerFactory

N_ACTORS = 40


async def _populate(url: str) -> dict[str, int]:
    expected: dict[str, int] = {}
    async with AsyncClient(url) as client:

        async def one(i: int) -> None:
            h = client.get_or_create("counter", [f"c{i}"])
            for _ in range(i % 4 + 1):
                expected[f"c{i}"] = await h.increment(i)

        await asyncio.gather(*(one(i) for i in range(N_ACTORS)))
        room = client.get_or_create("room", ["r"], input={"topic": "t"}, params={"token": "secret"})
        await room.send("hello")
    return expected


async def _check(url: str, expected: dict[str, int]) -> None:
    async with AsyncClient(url) as client:
        actors = await client.list_actors("counter", limit=1000)
        assert sorted(a["key"][0] for a in actors) == sorted(expected)
        for key, count in expected.items():
            assert await client.get("counter", [key]).get() == count
        room = client.get("room", "r", params={"token": "secret"})
        assert await room.topic() == "t"
        assert await room.send("again") == 2


async def test_graceful_restart_keeps_actors_and_state(server_factory: ServerFactory) -> None:
    server = server_factory()
    expected = await _populate(server.url)
    server.restart()
    await _check(server.url, expected)


async def test_kill_9_keeps_every_acknowledged_change(server_factory: ServerFactory) -> None:
    server = server_factory()
    expected = await _populate(server.url)
    # A raw on_request change is acknowledged only once durable, too.
    async with AsyncClient(server.url) as client:
        h = client.get("counter", ["c1"])
        reply = await h.fetch("bump", method="POST", content=b"xyz")
        assert reply.json() == {"count": expected["c1"] + 3}
        expected["c1"] += 3
    server.kill()
    server.start()
    await _check(server.url, expected)
    async with httpx.AsyncClient() as http:
        assert (await http.get(server.url + "/health")).json()["status"] == "ok"
