"""A cluster is one system: every route works through every node, each actor is activated
once, and calls between actors cross nodes (real processes sharing one PostgreSQL)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter as Tally
from pathlib import Path
from typing import Any

import httpx
import websockets

from actorkit import AsyncClient
from cluster_fixtures import INSPECTOR_TOKEN, ClusterFactory, count, pids, read_events
from ws_helpers import eventually


async def test_every_route_works_through_every_node(
    cluster: ClusterFactory, events_file: Path
) -> None:
    nodes = cluster(3)
    clients = [AsyncClient(n.url) for n in nodes]
    try:
        actor_id = await clients[0].get_or_create("counter", "routed").resolve()
        # Actions through each node reach the one activation.
        values = [await c.get_or_create("counter", "routed").increment(1) for c in clients]
        assert values == [1, 2, 3]
        owners = {await c.get_for_id("counter", actor_id).pid() for c in clients}
        assert len(owners) == 1 and owners <= pids(nodes)
        assert count(events_file, "create", "routed") == 1

        async with httpx.AsyncClient() as http:
            # Raw HTTP through every node lands on the owner.
            for node in nodes:
                reply = await http.get(f"{node.url}/actors/{actor_id}/request/here?x=1")
                assert reply.status_code == 200
                body = reply.json()
                assert body["pid"] in owners and body["path"] == "/here"
            # /health lists the other two nodes as live peers.
            health = (await http.get(f"{nodes[0].url}/health")).json()
            assert health["node"]["cluster"] is True
            assert {p["url"] for p in health["peers"] if p["live"]} == {
                nodes[1].url,
                nodes[2].url,
            }

        # A raw WebSocket through another node is pumped to the owner and back.
        for node in nodes:
            url = node.url.replace("http", "ws") + f"/actors/{actor_id}/websocket/echo"
            async with websockets.connect(url) as ws:
                await ws.send("hi")
                assert await ws.recv() == f"{next(iter(owners))}:hi"

        # Events reach a connection made through a node that does not own the actor.
        other = next(n for n in nodes if n.pid not in owners)
        async with AsyncClient(other.url) as via_other:
            conn = via_other.get_for_id("counter", actor_id).connect()
            seen: list[Any] = []
            conn.on("count", seen.append)
            await conn.open()
            assert await conn.increment(10) == 13  # an action over the proxied socket
            await clients[0].get_for_id("counter", actor_id).increment(1)
            await eventually(lambda: _value(seen), lambda s: s[-1:] == [14])
            await conn.aclose()

        # Destroy through any node.
        async with httpx.AsyncClient() as http:
            reply = await http.delete(
                f"{nodes[2].url}/actors/{actor_id}", headers={"x-actorkit-client": "test"}
            )
            assert reply.status_code in (200, 204)
            gone = await http.get(f"{nodes[1].url}/actors/{actor_id}")
            assert gone.status_code == 404
    finally:
        for c in clients:
            await c.aclose()


async def test_concurrent_cold_calls_create_each_actor_once(
    cluster: ClusterFactory, events_file: Path
) -> None:
    nodes = cluster(3)
    clients = [AsyncClient(n.url) for n in nodes]
    keys = [f"cold-{i}" for i in range(10)]
    calls = [(clients[i % 3], keys[i % 10]) for i in range(300)]
    try:
        results = await asyncio.gather(
            *(c.get_or_create("counter", k).increment(1) for c, k in calls)
        )
        by_key: dict[str, list[int]] = {k: [] for k in keys}
        for (_, key), value in zip(calls, results, strict=True):
            by_key[key].append(value)
        for key, values in by_key.items():
            # 30 acknowledged increments each: every value once, none lost or doubled.
            assert sorted(values) == list(range(1, 31)), key
            assert await clients[0].get("counter", key).get() == 30
        creates = Tally(e[1] for e in read_events(events_file) if e[0] == "create")
        assert creates == {k: 1 for k in keys}
        wakes = Tally(e[1] for e in read_events(events_file) if e[0] == "wake")
        assert wakes == {k: 1 for k in keys}  # one activation each, cluster-wide
    finally:
        for c in clients:
            await c.aclose()


async def test_reentrant_chain_across_nodes_completes(cluster: ClusterFactory) -> None:
    nodes = cluster(2)
    async with AsyncClient(nodes[0].url) as a, AsyncClient(nodes[1].url) as b:
        # Wake "ping" on node 0 and "pong" on node 1 (each node activates what it is asked
        # for first), then bounce between them: A → B → A → B → A.
        await a.get_or_create("counter", "ping").get()
        await b.get_or_create("counter", "pong").get()
        ping_pid = await a.get("counter", "ping").pid()
        pong_pid = await b.get("counter", "pong").pid()
        assert ping_pid != pong_pid
        hops = await asyncio.wait_for(a.get("counter", "ping").ping_pong("pong", 4), 60)
        assert hops == [ping_pid, pong_pid, ping_pid, pong_pid, ping_pid]


async def _value(x: Any) -> Any:
    return x


async def test_every_node_shows_which_node_has_each_actor_awake(cluster: ClusterFactory) -> None:
    nodes = cluster(2)
    async with AsyncClient(nodes[0].url) as client, httpx.AsyncClient() as http:
        awake_id = await client.get_or_create("counter", "seen").resolve()
        await client.get_or_create("counter", "seen").increment(1)
        owner_pid = await client.get("counter", "seen").pid()
        owner = next(n for n in nodes if n.pid == owner_pid)
        owner_id = (await http.get(f"{owner.url}/health")).json()["node"]["id"]
        other_id = await (await client.create("counter", "another")).resolve()
        other = next(n for n in nodes if n is not owner)

        listed = (await http.get(f"{other.url}/actors?name=counter")).json()["actors"]
        owners = {a["actor_id"]: a["owner"] for a in listed}
        assert owners[awake_id] == owner_id
        one = (await http.get(f"{other.url}/actors/{awake_id}")).json()
        assert one["owner"] == owner_id

        auth = {"Authorization": f"Bearer {INSPECTOR_TOKEN}"}
        page = (
            await http.get(f"{other.url}/inspector/api/actors?name=counter", headers=auth)
        ).json()
        summary = {a["actor_id"]: a for a in page["actors"]}
        assert summary[awake_id]["awake"] is True
        assert summary[awake_id]["owner_url"] == owner.url
        assert other_id in summary

        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "actorkit", "actors", "counter", "--url", other.url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert owner_id in cli.stdout and awake_id in cli.stdout
