"""Calls and subscriptions made before a connection is open wait for it (bounded), over a
real server: ``conn = room.connect(...)`` then ``await conn.say("hi")`` just works."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from actorkit import ActorError, AsyncClient, Client
from actorkit.client import connection
from actorkit.client.connection import ConnectionStatus
from server_fixtures import ServerFactory, ServerProcess
from ws_helpers import eventually

# A lobby whose connects can be held open by a named gate (on_before_connect waits on it),
# so a test can act while a connection is surely "connecting": its init was received.
APP = """
import asyncio
from typing import Any

from actorkit import Actor, Registry, UserError, action

ENTERED: dict[str, asyncio.Event] = {}
RELEASED: dict[str, asyncio.Event] = {}


def _event(table: dict[str, asyncio.Event], name: str) -> asyncio.Event:
    return table.setdefault(name, asyncio.Event())


class Lobby(Actor):
    state = {"said": 0}

    async def on_before_connect(self, params: dict[str, Any]) -> None:
        if params.get("user") == "mallory":
            raise UserError("not you", code="forbidden")
        gate = params.get("gate")
        if gate:
            _event(ENTERED, gate).set()
            await _event(RELEASED, gate).wait()

    def create_conn_state(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": params.get("user")}

    @action
    def say(self, text: str) -> str:
        self.state["said"] += 1
        self.broadcast("late", text)   # subscribed while connecting, in the tests
        self.broadcast("early", text)  # subscribed before: sent with the init
        user = self.conn.state["user"] if self.conn is not None else None
        return f"{user}: {text}"


class Gate(Actor):
    @action
    async def entered(self, name: str) -> bool:
        await _event(ENTERED, name).wait()
        return True

    @action
    def release(self, name: str) -> None:
        _event(RELEASED, name).set()


registry = Registry(Lobby, Gate)
"""


@pytest.fixture
def lobby_server(server_factory: ServerFactory, tmp_path: Path) -> ServerProcess:
    path = tmp_path / "dx_connect_app.py"
    path.write_text(APP)
    return server_factory(f"{path}:registry")


async def _while_pending(call: Awaitable[Any], pending: asyncio.Future[Any]) -> None:
    """Await ``call``; fail at once (with its error) if ``pending`` finishes first."""
    task = asyncio.ensure_future(call)
    await asyncio.wait({task, pending}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
        pending.result()
        raise AssertionError("the call finished before the connection opened")
    task.result()


async def test_calls_and_subscriptions_while_connecting_wait_for_the_connection(
    lobby_server: ServerProcess,
) -> None:
    async with AsyncClient(lobby_server.url) as client:
        gate = client.get_or_create("gate")
        conn = client.get_or_create("lobby", "a").connect({"user": "ann", "gate": "g1"})
        early: list[str] = []
        late: list[str] = []
        conn.on("early", early.append)  # before the connect: goes with the init
        assert conn.status is ConnectionStatus.IDLE
        first = asyncio.ensure_future(conn.say("hello"))  # opens the connection
        # Hold the connect in on_before_connect: the init (with "early") has arrived.
        await _while_pending(gate.entered("g1"), first)
        assert conn.status is ConnectionStatus.CONNECTING
        conn.on("late", late.append)  # after the init was sent
        second = asyncio.ensure_future(conn.say("again"))
        await gate.release("g1")
        assert await first == "ann: hello"
        assert await second == "ann: again"
        assert conn.status is ConnectionStatus.CONNECTED
        await eventually(lambda: _now(early), lambda e: len(e) == 2)
        # Each "late" was broadcast (and so arrives) before its "early".
        assert early == ["hello", "again"]
        assert late == ["hello", "again"]
    assert conn.status is ConnectionStatus.CLOSED  # closing the client closed it


async def _now(value: Any) -> Any:
    return value


async def test_refused_connection_fails_waiting_calls_with_the_refusal(
    lobby_server: ServerProcess,
) -> None:
    async with AsyncClient(lobby_server.url) as client:
        conn = client.get_or_create("lobby", "r").connect({"user": "mallory"})
        results = await asyncio.gather(conn.say("a"), conn.say("b"), return_exceptions=True)
        assert [getattr(r, "code", r) for r in results] == ["forbidden", "forbidden"]
        assert conn.status is ConnectionStatus.CLOSED
        with pytest.raises(ActorError) as info:
            await conn.say("c")
        assert info.value.code == "forbidden"
        # A welcome user on the same actor is served (the refusal was the user's).
        ok = client.get_or_create("lobby", "r").connect({"user": "ok"})
        assert await ok.say("c") == "ok: c"


async def test_waiting_for_a_connection_is_bounded(
    lobby_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "OPEN_TIMEOUT", 0.5)
    async with AsyncClient(lobby_server.url) as client:
        gate = client.get_or_create("gate")
        conn = client.get_or_create("lobby", "b").connect({"user": "ann", "gate": "never"})
        results = await asyncio.gather(conn.say("a"), conn.say("b"), return_exceptions=True)
        assert [getattr(r, "code", r) for r in results] == ["connection_lost", "connection_lost"]
        assert conn.status is ConnectionStatus.CLOSED
        await gate.release("never")


async def test_call_while_reconnecting_waits_for_the_reconnect(
    lobby_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "RESEND_WINDOW", 120.0)  # generous: the server restarts
    async with AsyncClient(lobby_server.url) as client:
        conn = client.get_or_create("lobby", "c").connect({"user": "ann"})
        assert await conn.say("before") == "ann: before"
        await asyncio.to_thread(lobby_server.stop)
        await eventually(lambda: _now(conn.status), lambda s: s is ConnectionStatus.RECONNECTING)
        assert conn.status is ConnectionStatus.RECONNECTING
        during = asyncio.ensure_future(conn.say("during"))
        await asyncio.to_thread(lobby_server.start)
        assert await during == "ann: during"
        assert conn.status is ConnectionStatus.CONNECTED


def test_blocking_client_call_opens_the_connection(lobby_server: ServerProcess) -> None:
    with Client(lobby_server.url) as client:
        conn = client.get_or_create("lobby", "s").connect({"user": "bob"})
        assert conn.say("hi") == "bob: hi"  # no open() / with: the call opens it
        assert conn.status is ConnectionStatus.CONNECTED
        refused = client.get_or_create("lobby", "s").connect({"user": "mallory"})
        with pytest.raises(ActorError) as info:
            refused.say("hi")
        assert info.value.code == "forbidden"


async def test_connecting_to_a_server_that_is_down_is_connection_lost(
    lobby_server: ServerProcess,
) -> None:
    async with AsyncClient(lobby_server.url) as client:
        handle = client.get_or_create("lobby", "down")
        async with handle.connect({"user": "ann"}) as conn:  # up: it connects
            assert await conn.say("hi") == "ann: hi"
        actor_id = await handle.resolve()
        await asyncio.to_thread(lobby_server.stop)
        try:
            with pytest.raises(ActorError) as info:  # not a bare ConnectionRefusedError
                await client.get_for_id(actor_id).connect({"user": "ann"}).open()
            assert info.value.code == "connection_lost"
        finally:
            await asyncio.to_thread(lobby_server.start)
