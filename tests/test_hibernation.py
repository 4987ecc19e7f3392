"""Hibernating connections: sockets stay open while their actor sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from actorkit import Actor, ActorOptions, AsyncClient, Registry, action
from actorkit.protocol.messages import Ping
from actorkit.testing import MockClock
from runtime_helpers import awake, wait_for
from server_fixtures import ServerFactory


class Room(Actor):
    state = {"wakes": 0}
    options = ActorOptions(sleep_timeout=30.0)

    def create_conn_state(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": params["user"]}

    def on_wake(self) -> None:
        self.state["wakes"] += 1

    @action
    def whoami(self) -> str:
        return str(self.conn.state["user"])

    @action
    def say(self, text: str) -> None:
        self.broadcast("said", text)

    @action
    def wakes(self) -> int:
        return int(self.state["wakes"])


class Clingy(Room):
    name = "clingy"
    options = ActorOptions(sleep_timeout=30.0, hibernate_connections=False)


registry = Registry(Room, Clingy)


async def test_connected_actor_sleeps_and_a_message_wakes_it(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        room = client.get_or_create(Room, "r")
        actor_id = await room.resolve()
        async with room.connect(params={"user": "ann"}) as conn:
            conn_id = conn.id
            heard: list[str] = []
            conn.on("said", heard.append)
            assert await conn.whoami() == "ann"
            await clock.advance(31)
            await wait_for(lambda: not awake(client, actor_id))
            assert conn.status.value == "connected" and conn.id == conn_id

            # A message on the socket wakes the actor; the connection keeps its state.
            assert await conn.whoami() == "ann"
            assert awake(client, actor_id)
            assert await room.wakes() == 2

            # Asleep again; an event from a stateless call reaches the hibernated socket.
            await clock.advance(31)
            await wait_for(lambda: not awake(client, actor_id))
            await room.say("hello")
            await wait_for(lambda: heard == ["hello"])
            assert conn.id == conn_id


async def test_pings_do_not_wake_a_sleeping_actor() -> None:
    clock = MockClock()
    async with registry.test_client(clock=clock) as client:
        room = client.get_or_create(Room, "r")
        actor_id = await room.resolve()
        async with room.connect(params={"user": "bob"}) as conn:
            await conn.whoami()
            await clock.advance(31)
            await wait_for(lambda: not awake(client, actor_id))
            link = conn._link
            assert link is not None
            for _ in range(5):
                await link.send(link.codec.encode(Ping(time.time())))
            await asyncio.sleep(0.05)
            assert not awake(client, actor_id)
            assert await conn.whoami() == "bob"


async def test_hibernation_can_be_turned_off() -> None:
    clock = MockClock()
    async with registry.test_client(clock=clock) as client:
        h = client.get_or_create(Clingy, "c")
        actor_id = await h.resolve()
        async with h.connect(params={"user": "cy"}) as conn:
            await conn.whoami()
            await clock.advance(100)
            assert awake(client, actor_id)


async def test_hibernated_websocket_on_a_real_server(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    log = tmp_path / "lobby.log"
    log.touch()
    server = server_factory("tests/apps/hibernation_app.py:registry", env={"LOBBY_LOG": str(log)})

    def count(line: str) -> int:
        return log.read_text().split().count(line)

    async with AsyncClient(server.url) as client:
        lobby = client.get_or_create("lobby", "l")
        async with lobby.connect(params={"user": "dee"}) as conn:
            conn_id = conn.id
            heard: list[str] = []
            conn.on("said", heard.append)
            assert await conn.whoami() == "dee"
            await until(lambda: count("sleep") == 1)  # idle: it sleeps, socket open
            assert conn.status.value == "connected" and conn.id == conn_id
            async with httpx.AsyncClient() as http:
                health = (await http.get(server.url + "/health")).json()
            assert (health["actors_awake"], health["connections_hibernating"]) == (0, 1)
            assert await conn.whoami() == "dee"  # a message wakes it, state intact
            assert count("wake") == 2
            await until(lambda: count("sleep") == 2)
            await lobby.say("after sleep")  # a stateless call wakes it; the event arrives
            await until(lambda: heard == ["after sleep"])
            assert conn.id == conn_id


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)
