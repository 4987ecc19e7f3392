"""Connections over real WebSockets to a real server process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from actorkit import ActorError, AsyncClient
from actorkit.client.connection import ConnectionStatus
from server_fixtures import ROOT, ServerFactory
from ws_helpers import eventually, room_params

APP = "tests/apps/realtime_app.py:registry"


async def test_broadcast_reaches_every_subscribed_connection(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP)
    async with AsyncClient(server.url) as client:
        room = client.get_or_create("room", "b")
        conns = [room.connect(room_params(f"u{i}")) for i in range(20)]
        await asyncio.gather(*(c.open() for c in conns))
        received: list[list[Any]] = [[] for _ in conns]
        for i, conn in enumerate(conns):
            conn.on("message", received[i].append)
        # A subscription is in effect once a later call on the same connection returns.
        await asyncio.gather(*(c.whoami() for c in conns))
        # A connection that never subscribes hears nothing.
        silent = room.connect(room_params("silent"))
        await silent.open()
        heard: list[Any] = []
        silent.on("other", heard.append)
        assert await conns[0].say("hello all") == 1
        await eventually(lambda: _value(received), lambda r: all(len(x) == 1 for x in r))
        assert all(x == [{"user": "u0", "text": "hello all"}] for x in received)
        assert heard == []
        for conn in [*conns, silent]:
            await conn.aclose()


async def _value(x: Any) -> Any:
    return x


async def test_subscribe_and_unsubscribe(server_factory: ServerFactory) -> None:
    server = server_factory(APP)
    async with AsyncClient(server.url) as client:
        room = client.get_or_create("room", "s")
        async with room.connect(room_params("ann")) as ann:
            first: list[Any] = []
            second: list[Any] = []
            off = ann.on("message", first.append)
            ann.on("message", second.append)
            await ann.shout("one")
            await eventually(lambda: _value(second), lambda s: len(s) == 1)
            off()
            await ann.shout("two")
            await eventually(lambda: _value(second), lambda s: len(s) == 2)
            assert [m["text"] for m in first] == ["one"]
            once: list[Any] = []
            ann.once("message", once.append)
            await ann.shout("three")
            await ann.shout("four")
            await eventually(lambda: _value(second), lambda s: len(s) == 4)
            assert [m["text"] for m in once] == ["three"]
            # events() iterates; after the iterator unsubscribes, nothing more is queued.
            stream = ann.events("message")
            await ann.shout("five")
            assert (await anext(stream))["text"] == "five"
            await stream.aclose()


async def test_connection_state_is_per_connection(server_factory: ServerFactory) -> None:
    server = server_factory(APP)
    async with AsyncClient(server.url) as client:
        room = client.get_or_create("room", "iso")
        async with room.connect(room_params("ann")) as ann, room.connect(room_params("bob")) as bob:
            for _ in range(3):
                await ann.say("a")
            await bob.say("b")
            me_ann, me_bob = await ann.whoami(), await bob.whoami()
            assert (me_ann["user"], me_ann["sent"]) == ("ann", 3)
            assert (me_bob["user"], me_bob["sent"]) == ("bob", 1)
            assert me_ann["id"] == ann.id != bob.id == me_bob["id"]
        stateless = client.get("room", "iso", params=room_params("x"))
        assert (await stateless.whoami())["user"] is None


async def test_rejected_connection_never_reaches_on_connect(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP)
    async with AsyncClient(server.url) as client:
        room = client.get_or_create("room", "rej", params=room_params("admin"))
        before = await room.stats()
        conn = room.connect({"token": "wrong", "user": "eve"})
        with pytest.raises(ActorError) as info:
            await conn.open()
        assert (info.value.code, info.value.metadata) == ("forbidden", {"why": "token"})
        assert conn.status is ConnectionStatus.CLOSED
        after = await room.stats()
        assert after == before
        assert "eve" not in after["connects"]


async def test_self_conn_is_right_under_concurrent_calls(server_factory: ServerFactory) -> None:
    server = server_factory(APP)
    async with AsyncClient(server.url) as client:
        room = client.get_or_create("room", "cc")
        conns = [room.connect(room_params(f"user{i}")) for i in range(8)]
        await asyncio.gather(*(c.open() for c in conns))

        async def calls(i: int) -> list[str]:
            results = await asyncio.gather(*(conns[i].whoami(0.002) for _ in range(6)))
            return [r["user"] for r in results]

        out = await asyncio.gather(*(calls(i) for i in range(8)))
        assert out == [[f"user{i}"] * 6 for i in range(8)]
        for c in conns:
            await c.aclose()


CLIENT_SCRIPT = """
import asyncio, sys
from actorkit import AsyncClient

async def main():
    client = AsyncClient(sys.argv[1])
    conn = client.get_or_create("room", "vanish").connect({"token": "ok", "user": "ghost"})
    await conn.open()
    await conn.say("boo")
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_disconnect_hook_runs_when_client_process_is_killed(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(APP)
    script = tmp_path / "client.py"
    script.write_text(CLIENT_SCRIPT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), server.url, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.strip() == b"ready"
        async with AsyncClient(server.url) as client:
            room = client.get("room", "vanish", params=room_params("admin"))
            stats = await room.stats()
            assert stats["conns"] == [["ghost", True]] and stats["disconnects"] == []
            os.kill(proc.pid, signal.SIGKILL)  # the socket is killed, not closed
            await proc.wait()
            stats = await eventually(room.stats, lambda s: s["disconnects"] == ["ghost"])
            assert stats["disconnects"] == ["ghost"]
            assert stats["conns"] == []
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_actor_disconnect_is_final_and_runs_hook(server_factory: ServerFactory) -> None:
    server = server_factory(APP)
    async with AsyncClient(server.url) as client:
        room = client.get_or_create("room", "kick", params=room_params("admin"))
        conn = room.connect(room_params("bob"))
        closes: list[tuple[int, str]] = []
        conn.on_close(lambda code, reason: closes.append((code, reason)))
        await conn.open()
        await room.kick("bob")
        await eventually(lambda: _value(conn.status), lambda s: s is ConnectionStatus.CLOSED)
        assert closes == [(4000, "kicked")]
        stats = await eventually(room.stats, lambda s: s["disconnects"] == ["bob"])
        assert stats["disconnects"] == ["bob"]


async def test_server_killed_and_restarted_client_resumes(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP, env={"ACTORKIT_TEST_GRACE": "60"})
    async with AsyncClient(server.url) as client:
        room = client.get_or_create("room", "restart")
        conn = room.connect(room_params("ann"))
        statuses: list[str] = []
        opens: list[int] = []
        conn.on_open(lambda: opens.append(1))
        conn.on_close(lambda code, reason: statuses.append("closed"))
        await conn.open()
        got: list[Any] = []
        conn.on("message", got.append)
        await conn.say("before")
        await conn.say("before again")
        conn_id = conn.id

        slow = asyncio.ensure_future(conn.whoami(30.0))
        await asyncio.sleep(0.2)
        server.kill()  # kill -9 mid-session, with an action in flight
        with pytest.raises(ActorError) as info:
            await slow
        assert info.value.code == "connection_lost"
        await eventually(lambda: _value(conn.status), lambda s: s is not ConnectionStatus.CONNECTED)
        assert conn.status is ConnectionStatus.RECONNECTING
        with pytest.raises(ActorError) as info:
            await conn.whoami()
        assert info.value.code == "connection_lost"

        server.start()  # same port, same SQLite storage
        await eventually(lambda: _value(conn.status), lambda s: s is ConnectionStatus.CONNECTED, 60)
        assert conn.id == conn_id
        me = await conn.whoami()
        assert (me["id"], me["user"], me["sent"]) == (conn_id, "ann", 2)
        async with room.connect(room_params("bob")) as bob:
            await bob.say("after restart")
        await eventually(lambda: _value(got), lambda g: len(g) == 3)
        assert [m["text"] for m in got] == ["before", "before again", "after restart"]
        assert len(opens) == 2 and statuses == ["closed"]
        await conn.aclose()


def test_blocking_client_connection(server_factory: ServerFactory) -> None:
    from actorkit import Client

    server = server_factory(APP)
    with Client(server.url) as client:
        room = client.get_or_create("room", "sync")
        with room.connect(room_params("ann")) as ann, room.connect(room_params("bob")) as bob:
            assert ann.status is ConnectionStatus.CONNECTED
            got: list[Any] = []
            off = bob.on("message", got.append)
            stream = bob.events("message", timeout=30)
            bob.whoami()
            assert ann.say("hi") == 1
            assert next(stream) == {"user": "ann", "text": "hi"}
            assert got == [{"user": "ann", "text": "hi"}]
            off()
            stream.close()
            assert bob.whoami()["user"] == "bob"
        with pytest.raises(ActorError) as info:
            room.connect({"token": "no"}).open()
        assert info.value.code == "forbidden"
