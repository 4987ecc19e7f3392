"""Actor databases on PostgreSQL (the ``actorkit-pg`` VFS): the pages follow the actor to
another node, a fenced owner's COMMIT is refused, and neither kill -9 nor a connection lost
in the middle of a COMMIT ever leaves a corrupt or inconsistent database.

The behaviour shared with the other drivers (migrations, rollback with the turn, limits…)
is tested by the ``db_storage_url`` tests, which run on postgres too."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import psycopg
import pytest

from actorkit import ActorError, AsyncClient, FencedError
from actorkit.storage.base import Activation, ActorRecord
from actorkit.storage.postgres import PostgresDriver
from apps.db_cluster_app import Notes, registry
from cluster_fixtures import ClusterFactory, Node
from ws_helpers import eventually

APP = "tests/apps/db_cluster_app.py:registry"
BOUND = 60.0  # liveness bound only: a cluster slower than this is broken


async def _call_until_ok(client: AsyncClient, method: str, *args: Any) -> Any:
    """Retry what the cluster says is retryable (the owner just died), like a real caller."""
    deadline = time.monotonic() + BOUND
    while True:
        try:
            return await getattr(client.get_or_create("notes", "k"), method)(*args)
        except ActorError as err:
            retryable = isinstance(err.metadata, dict) and err.metadata.get("retryable")
            if not retryable or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


async def _owner(nodes: list[Node], client: AsyncClient) -> Node:
    pid = await client.get_or_create("notes", "k").pid()
    return next(n for n in nodes if n.pid == pid)


async def test_postgres_db_rows_written_on_one_node_are_read_on_another_after_kill_9(
    cluster: ClusterFactory,
) -> None:
    nodes = cluster(2, app=APP)
    async with AsyncClient(nodes[0].url) as first:
        for i in range(20):
            await first.get_or_create("notes", "k").add(f"note {i}")
        owner = await _owner(nodes, first)
    survivor = next(n for n in nodes if n is not owner)
    owner.kill()
    async with AsyncClient(survivor.url) as client:
        texts = await _call_until_ok(client, "texts")
        assert texts == [f"note {i}" for i in range(20)]
        assert await client.get("notes", "k").pid() == survivor.pid
        assert await client.get("notes", "k").add("after") == 21


async def test_postgres_db_kill_9_during_a_large_transaction_leaves_it_consistent(
    cluster: ClusterFactory,
) -> None:
    nodes = cluster(2, app=APP)
    async with AsyncClient(nodes[0].url) as first:
        for i in range(5):
            await first.get_or_create("notes", "k").add(f"note {i}")
        owner = await _owner(nodes, first)
    # 50,000 rows (several MB: SQLite spills pages to the VFS before COMMIT), then the
    # owner dies before the turn commits.
    async with AsyncClient(owner.url) as on_owner:
        big = asyncio.ensure_future(on_owner.get("notes", "k").add_many_then_sleep(50_000, 30))
        await asyncio.sleep(3.0)
        owner.kill()
        with contextlib.suppress(Exception):
            await big
    survivor = next(n for n in nodes if n is not owner)
    async with AsyncClient(survivor.url) as client:
        check = await _call_until_ok(client, "check")
    assert check == {"state": 5, "rows": 5, "top": 5, "integrity": ["ok"]}


async def test_postgres_db_kill_9_between_commits_keeps_state_and_rows_together(
    cluster: ClusterFactory,
) -> None:
    nodes = cluster(2, app=APP)
    acked = 0
    async with AsyncClient(nodes[0].url) as first:
        await first.get_or_create("notes", "k").add("first")
        owner = await _owner(nodes, first)
        stop = asyncio.Event()

        async def traffic() -> None:
            nonlocal acked
            while not stop.is_set():
                acked = await first.get("notes", "k").add_many_then_sleep(2_000, 0)

        worker = asyncio.ensure_future(traffic())
        await eventually(lambda: _value(acked), lambda n: n >= 1 + 2_000 * 3, timeout=BOUND)
        owner.kill()  # at whatever point of a turn (often inside its COMMIT's transfer)
        stop.set()
        with contextlib.suppress(Exception):
            await worker
    survivor = next(n for n in nodes if n is not owner)
    async with AsyncClient(survivor.url) as client:
        check = await _call_until_ok(client, "check")
    assert check["integrity"] == ["ok"]
    assert check["state"] == check["rows"] == check["top"] >= acked


async def _value(x: int) -> int:
    return x


async def _take(driver: PostgresDriver, actor_id: str, owner: str) -> int:
    got = await driver.activate(actor_id, owner)
    assert isinstance(got, Activation)
    return got.epoch


async def test_postgres_db_commit_of_a_fenced_owner_is_refused(postgres_url: str) -> None:
    node_a, node_b = PostgresDriver(postgres_url), PostgresDriver(postgres_url)
    await node_a.open()
    await node_b.open()
    try:
        record = ActorRecord(id="fenced", name="notes", key=("k",), created_at=time.time())
        await node_a.create_actor(record)
        old = await _take(node_a, "fenced", "node-a")
        conn_a = node_a.open_actor_db("fenced", epoch=old, create=True)
        assert conn_a is not None
        conn_a.execute("CREATE TABLE t (x); INSERT INTO t VALUES ('a')")
        await node_a.release("fenced", "node-a", old)  # e.g. node A's lease ran out
        new = await _take(node_b, "fenced", "node-b")
        conn_b = node_b.open_actor_db("fenced", epoch=new, create=False)
        assert conn_b is not None
        conn_b.execute("INSERT INTO t VALUES ('b')")

        with pytest.raises(FencedError):
            conn_a.execute("INSERT INTO t VALUES ('stale')")
        assert not conn_a.in_transaction
        with pytest.raises(FencedError):  # and it stays refused
            conn_a.execute("INSERT INTO t VALUES ('stale again')")
        node_a.close_actor_db("fenced", conn_a)
        node_b.close_actor_db("fenced", conn_b)

        conn = node_b.open_actor_db("fenced", epoch=new, create=False)
        assert conn is not None
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT x FROM t ORDER BY x").fetchall() == [("a",), ("b",)]
        conn.close()
    finally:
        await node_a.close()
        await node_b.close()


async def test_postgres_db_connection_lost_during_commit_is_a_clear_error(
    postgres_url: str,
) -> None:
    async with registry.test_client(postgres_url) as client:
        notes = client.get_or_create(Notes, "k")
        assert await notes.add("kept") == 1
        with psycopg.connect(postgres_url, autocommit=True) as admin, admin.transaction():
            # Hold the actor rows: the next COMMIT's transaction waits inside
            # actorkit.db_commit, where its connection is then terminated.
            admin.execute("SELECT id FROM actorkit.actors FOR UPDATE")
            call = asyncio.ensure_future(notes.add("lost"))
            waiting: list[Any] = []
            for _ in range(200):
                waiting = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = "
                    "'actorkit-vfs' AND wait_event_type = 'Lock'"
                ).fetchall()
                if waiting:
                    break
                await asyncio.sleep(0.02)
            assert waiting, "the COMMIT never reached PostgreSQL"
            admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
        with pytest.raises(ActorError) as info:
            await call
        assert info.value.code == "storage_unavailable", info.value
        assert await notes.check() == {"state": 1, "rows": 1, "top": 1, "integrity": ["ok"]}
        assert await notes.add("again") == 2
        assert await notes.texts() == ["kept", "again"]
