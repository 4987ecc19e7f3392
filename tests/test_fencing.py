"""Losing ownership is a normal event: a fenced instance stops serving at once, its callers
get the retryable ``ownership_lost``, its sockets close with ``CLOSE_MOVED`` so clients
reconnect, and the node does not take the actor back on its own.

A fence is injected the way a cluster would cause one: a second handle on the same storage
takes the actor over (a higher epoch) while the first node still has it awake.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from actorkit import Actor, ActorError, AsyncClient, Registry, action
from actorkit._runtime.state import STATE_KEY, encode_envelope, encode_state
from actorkit.protocol.messages import CLOSE_MOVED
from actorkit.storage.base import Activation, WriteBatch
from actorkit.storage.memory import MemoryDriver
from runtime_helpers import awake, node_of, wait_for
from server_fixtures import ServerFactory
from ws_helpers import eventually

STARTED = asyncio.Event()
PROCEED = asyncio.Event()


class Tally(Actor):
    state = {"count": 0}

    @action
    def add(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])

    @action
    async def add_when_told(self, amount: int) -> int:
        self.state["count"] += amount
        STARTED.set()
        await PROCEED.wait()
        return int(self.state["count"])


registry = Registry(Tally)


async def test_fenced_turn_and_queued_calls_get_ownership_lost_and_node_keeps_off() -> None:
    STARTED.clear()
    PROCEED.clear()
    async with registry.test_client("memory://") as client:
        tally = client.get_or_create(Tally, "x")
        assert await tally.add(1) == 1
        actor_id = await tally.resolve()
        node = node_of(client)
        store = node.driver.store  # type: ignore[attr-defined]

        running = asyncio.ensure_future(tally.add_when_told(5))
        await STARTED.wait()
        queued = asyncio.ensure_future(tally.add(1))
        inst = node.instances[actor_id]
        await wait_for(lambda: inst._waiting == 1)  # queued behind the running turn

        # Node A's lease "expires" and node B takes the actor over with a newer epoch.
        del store.live[node.id]
        other = MemoryDriver(store)
        taken = await other.activate(actor_id, "node-b")
        assert isinstance(taken, Activation) and taken.epoch > 1
        state = encode_envelope(encode_state({"count": 100}), 1)
        batch = WriteBatch(actor_id, taken.epoch, puts={STATE_KEY: state})
        assert await other.commit([batch]) == [None]

        PROCEED.set()
        for call in (running, queued):
            with pytest.raises(ActorError) as info:
                await call
            assert info.value.code == "ownership_lost"
            assert info.value.metadata["retryable"] is True
        # The node dropped the instance and did not take the actor back by itself.
        assert not awake(client, actor_id)
        # While B holds it, this node refuses (retryably) rather than steal it.
        with pytest.raises(ActorError) as refused:
            await tally.add(1)
        assert refused.value.code == "actor_owned_elsewhere"
        assert refused.value.metadata["owner"] == "node-b"
        assert not awake(client, actor_id)

        # B lets go: the next call activates it here, from B's write; neither fenced call
        # left a trace.
        await other.release(actor_id, "node-b", taken.epoch)
        assert await tally.add(1) == 101
        assert awake(client, actor_id)


async def test_fence_over_real_sockets(server_factory: ServerFactory, tmp_path: Path) -> None:
    data = tmp_path / "fenced"
    server = server_factory("tests/apps/turns_app.py:registry", f"sqlite:///{data}")
    async with AsyncClient(server.url) as client:
        tally = client.get_or_create("tally", "t")
        actor_id = await tally.resolve()
        closes: list[int] = []
        conn = tally.connect()
        conn.on_close(lambda code, reason: closes.append(code))
        await conn.open()
        first_id = conn.id
        assert await conn.add(1) == 1

        # A second handle on the same storage bumps the actor's epoch, as a new owner would.
        with sqlite3.connect(data / "actorkit.db") as db:
            db.execute("UPDATE actors SET epoch = epoch + 1000 WHERE id = ?", (actor_id,))

        async with httpx.AsyncClient() as http:
            reply = await http.post(
                f"{server.url}/actors/{actor_id}/actions/add", json={"args": [5]}
            )
        assert reply.status_code == 503
        body: dict[str, Any] = reply.json()
        assert body["code"] == "ownership_lost" and body["metadata"]["retryable"] is True

        # The socket was closed with CLOSE_MOVED; the client reconnected and resumed the
        # same connection, and the fenced +5 was never applied.
        await eventually(lambda: _value(closes), lambda c: CLOSE_MOVED in c)
        await eventually(lambda: _value(conn.status.value), lambda s: s == "connected")
        assert conn.id == first_id
        assert await conn.add(1) == 2
        await conn.aclose()


async def _value(x: Any) -> Any:
    return x
