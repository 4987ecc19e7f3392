"""Connections served in-process (``registry.test_client()``): the same protocol, no sockets."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from actorkit import Actor, ActorError, ActorOptions, Registry, UserError, action
from actorkit.client.connection import ConnectionStatus


class Room(Actor):
    state = {"log": [], "connects": 0, "disconnects": []}
    options = ActorOptions(reconnect_grace=0.2, max_connections=5)

    def on_before_connect(self, params: dict[str, Any]) -> None:
        if params.get("token") != "ok":
            raise UserError("bad token", code="forbidden")

    def create_conn_state(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": params["user"], "sent": 0}

    def on_connect(self, conn: Any) -> None:
        self.state["connects"] += 1

    def on_disconnect(self, conn: Any) -> None:
        self.state["disconnects"].append(conn.state["user"])

    @action
    async def say(self, text: str) -> int:
        self.conn.state["sent"] += 1
        self.state["log"].append(f"{self.conn.state['user']}: {text}")
        self.broadcast("message", self.conn.state["user"], text)
        return int(self.conn.state["sent"])

    @action
    def say_then_fail(self, text: str) -> None:
        self.broadcast("message", self.conn.state["user"], text)
        raise UserError("nope", code="nope")

    @action
    def shout_then_fail(self) -> None:
        self.broadcast("message", "inner", "lost")
        raise UserError("nope", code="nope")

    @action
    async def outer_catches(self, text: str) -> None:
        self.broadcast("message", "outer", text)
        # A re-entrant call (A → A) that fails leaves no events behind.
        with contextlib.suppress(ActorError):
            await self.client.get_for_id(Room, self.id, params=params("x")).shout_then_fail()

    @action
    def whoami(self) -> str:
        return str(self.conn.state["user"]) if self.conn is not None else "stateless"

    @action
    def stats(self) -> dict[str, Any]:
        return {
            "connects": self.state["connects"],
            "disconnects": self.state["disconnects"],
            "conns": sorted(c.state["user"] for c in self.conns.values()),
        }

    @action
    def kick(self, user: str) -> None:
        for conn in self.conns.values():
            if conn.state["user"] == user:
                conn.disconnect("kicked")


registry = Registry(Room)


def params(user: str) -> dict[str, str]:
    return {"token": "ok", "user": user}


async def test_connect_action_event_roundtrip(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        room = client.get_or_create(Room, "r")
        async with room.connect(params("ann")) as ann, room.connect(params("bob")) as bob:
            assert ann.status is ConnectionStatus.CONNECTED
            got: list[tuple[str, str]] = []
            bob.on("message", lambda user, text: got.append((user, text)))
            await bob.whoami()  # the subscription is in effect once bob's next call returns
            assert await ann.say("hi") == 1
            assert await ann.say("again") == 2
            assert await bob.whoami() == "bob"
            for _ in range(100):
                if len(got) == 2:
                    break
                await asyncio.sleep(0.01)
            assert got == [("ann", "hi"), ("ann", "again")]
        assert await client.get(Room, "r", params=params("x")).whoami() == "stateless"


async def test_rejected_connection_never_reaches_on_connect() -> None:
    async with registry.test_client() as client:
        room = client.get_or_create(Room, "r", params=params("admin"))
        with pytest.raises(ActorError) as info:
            async with room.connect({"token": "no", "user": "eve"}):
                pass
        assert info.value.code == "forbidden"
        stats = await room.action("stats")
        assert stats["connects"] == 0


async def test_clean_close_runs_on_disconnect_and_kick() -> None:
    async with registry.test_client() as client:
        room = client.get_or_create(Room, "r", params=params("admin"))
        async with room.connect(params("ann")):
            pass
        conn = room.connect(params("bob"))
        closes: list[int] = []
        conn.on_close(lambda code, reason: closes.append(code))
        await conn.open()
        await (await _stats_conn(client)).kick("bob")
        for _ in range(200):
            if conn.status is ConnectionStatus.CLOSED:
                break
            await asyncio.sleep(0.01)
        assert conn.status is ConnectionStatus.CLOSED
        assert closes == [4000]
        with pytest.raises(ActorError) as info:
            await conn.say("x")
        assert info.value.code == "connection_lost"
        for _ in range(200):
            stats = await room.action("stats")
            if len(stats["disconnects"]) == 2:
                break
            await asyncio.sleep(0.01)
        assert sorted(stats["disconnects"]) == ["ann", "bob"]


async def _stats_conn(client: Any) -> Any:
    return client.get_or_create(Room, "r", params=params("admin"))


async def test_max_connections_refuses_with_overloaded() -> None:
    async with registry.test_client() as client:
        room = client.get_or_create(Room, "full")
        conns = [room.connect(params(f"u{i}")) for i in range(6)]
        results = await asyncio.gather(*(c.open() for c in conns), return_exceptions=True)
        refused = [r for r in results if isinstance(r, ActorError)]
        assert len(refused) == 1 and refused[0].code == "overloaded"
        assert refused[0].metadata == {"max_connections": 5}
        for c in conns:
            await c.aclose()
        # Closed connections free their slots.
        async with room.connect(params("late")) as late:
            assert late.status is ConnectionStatus.CONNECTED


async def test_events_from_failed_action_are_dropped() -> None:
    async with registry.test_client() as client:
        room = client.get_or_create(Room, "rb")
        async with room.connect(params("ann")) as ann:
            got: list[Any] = []
            ann.on("message", lambda *args: got.append(args))
            with pytest.raises(ActorError) as info:
                await ann.say_then_fail("lost")  # broadcasts, then raises: rolled back
            assert info.value.code == "nope"
            await ann.outer_catches("kept")
            await ann.say("ok")
            await ann.whoami()
            assert got == [("outer", "kept"), ("ann", "ok")]
