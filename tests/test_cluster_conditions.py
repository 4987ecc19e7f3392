"""A cluster under bad conditions: PostgreSQL unreachable at start or lost while running,
and nodes whose apps differ (real processes; the outage uses a PostgreSQL of its own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from actorkit import ActorError, AsyncClient
from cluster_fixtures import CLUSTER_APP, LEASE, ClusterFactory, Node
from postgres_server import EmbeddedPostgres
from server_fixtures import ROOT, free_port
from ws_helpers import eventually

EXTRA_APP = "tests/apps/cluster_extra_app.py:registry"


def test_unreachable_postgres_at_start_is_one_line_and_status_1() -> None:
    port = free_port()  # nothing listens here
    storage = f"postgresql://postgres:secret@127.0.0.1:{port}/nowhere"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "actorkit", "serve", CLUSTER_APP),
            *("--port", str(free_port()), "--storage", storage),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "cannot open storage" in lines[0] and f"127.0.0.1:{port}" in lines[0]
    assert "secret" not in lines[0] and "Traceback" not in proc.stderr


async def test_postgres_outage_is_a_503_and_the_node_recovers_by_itself(
    tmp_path: Path,
) -> None:
    with EmbeddedPostgres() as pg:
        port = free_port()
        node = Node(
            CLUSTER_APP,
            pg.url,
            port=port,
            args=["--advertise-url", f"http://127.0.0.1:{port}", "--lease-seconds", str(LEASE)],
        ).start()
        try:
            async with AsyncClient(node.url) as client, httpx.AsyncClient(timeout=60) as http:
                counter = client.get_or_create("counter", "outage")
                assert await counter.increment(1) == 1
                actor_id = await counter.resolve()
                pg.halt()
                # While PostgreSQL is away nothing is acknowledged: every call gets a
                # retryable 503, never a 500, never a hang.
                codes: list[str] = []
                for _ in range(5):
                    reply = await http.post(
                        f"{node.url}/actors/{actor_id}/actions/increment", json={"args": [1]}
                    )
                    assert reply.status_code == 503, reply.text
                    body: dict[str, Any] = reply.json()
                    assert body["metadata"]["retryable"] is True
                    codes.append(body["code"])
                assert set(codes) <= {"storage_unavailable", "node_unavailable"}, codes
                health = await eventually(
                    lambda: _health(http, node.url), lambda h: h["status"] == "unavailable"
                )
                assert health["node"]["unavailable_reason"]

                pg.resume()
                # Back by itself: rejoined, the actor wakes from its last committed state.
                value = await eventually(
                    lambda: _try_increment(counter), lambda v: isinstance(v, int), 60
                )
                assert value == 2
                assert (await _health(http, node.url))["status"] == "ok"
        finally:
            node.stop()


async def test_actor_types_a_node_lacks_go_to_a_node_that_has_them(
    cluster: ClusterFactory,
) -> None:
    (plain,) = cluster(1)
    (extra,) = cluster(1, app=EXTRA_APP)
    async with AsyncClient(plain.url) as via_plain:
        await eventually(
            lambda: _peer_types(plain.url), lambda types: "extra" in types, 30
        )  # the plain node has seen the other join
        hello = via_plain.get_or_create("extra", "x")
        pid, calls = await hello.hello()
        assert pid == extra.pid and calls == 1
        assert (await hello.hello())[1] == 2

        extra.stop()  # gracefully: it leaves the cluster
        await eventually(lambda: _peer_types(plain.url), lambda types: "extra" not in types, 30)
        try:
            await via_plain.get("extra", "x").hello()
            raise AssertionError("a type no live node hosts was served")
        except ActorError as err:
            assert err.code == "actor_not_found" and "extra" in err.message


async def _health(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    reply = await http.get(f"{url}/health")
    data: dict[str, Any] = reply.json()
    return data


async def _peer_types(url: str) -> set[str]:
    async with httpx.AsyncClient() as http:
        health = await _health(http, url)
    return {t for p in health["peers"] if p["live"] for t in p["actor_types"]}


async def _try_increment(counter: Any) -> Any:
    try:
        return await counter.increment(1)
    except ActorError as err:
        return err


async def test_region_on_create_places_the_actor_in_that_region(cluster: ClusterFactory) -> None:
    (eu,) = cluster(1, region="eu")
    (us,) = cluster(1, region="us")
    async with AsyncClient(eu.url) as via_eu:
        await eventually(lambda: _peer_types(eu.url), lambda types: "counter" in types, 30)
        here = via_eu.get_or_create("counter", "local")
        assert await here.pid() == eu.pid  # no region asked: where it was created
        far = await via_eu.create("counter", "far", region="us")
        assert await far.pid() == us.pid
        assert await far.increment(1) == 1


async def test_partitioned_peer_gets_a_retryable_error_and_ownership_holds(
    cluster: ClusterFactory,
) -> None:
    # The owner advertises an address its peer cannot reach (as in a network partition);
    # both nodes still reach PostgreSQL.
    (owner,) = cluster(1, advertise_url=f"http://127.0.0.1:{free_port()}")
    (peer,) = cluster(1)
    async with AsyncClient(owner.url) as direct, AsyncClient(peer.url) as via_peer:
        counter = direct.get_or_create("counter", "split")
        assert await counter.increment(1) == 1
        actor_id = await counter.resolve()
        try:
            await via_peer.get_for_id("counter", actor_id).increment(1)
            raise AssertionError("a call through an unreachable owner succeeded")
        except ActorError as err:
            assert err.code == "node_unavailable" and err.metadata["retryable"] is True
        # No split brain: the owner still owns and serves it; the failed call never ran.
        assert await counter.pid() == owner.pid
        assert await counter.increment(1) == 2
