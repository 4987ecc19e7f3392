"""``self.db``: the per-actor SQLite database, on every driver."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from actorkit import Actor, ActorError, ActorOptions, Registry, UserError, action
from actorkit._runtime.node import Node
from actorkit.client.base import AsyncClient
from actorkit.local import LocalTransport, local_client
from actorkit.storage import Driver, MemoryDriver
from runtime_helpers import node_of


class Notes(Actor):
    state = {"count": 0}
    migrations = [
        "CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE, body BLOB)",
    ]

    @action
    async def add(self, text: str) -> int:
        result = await self.db.execute("INSERT INTO note (text) VALUES (?)", text)
        self.state["count"] += 1
        return result.last_insert_rowid

    @action
    async def add_named(self, text: str) -> int:
        result = await self.db.execute("INSERT INTO note (text) VALUES (:text)", {"text": text})
        return result.rows_affected

    @action
    async def texts(self) -> list[str]:
        rows = await self.db.fetch_all("SELECT text FROM note ORDER BY id")
        return [row["text"] for row in rows]

    @action
    async def first(self) -> dict[str, Any] | None:
        return await self.db.fetch_one("SELECT id, text FROM note ORDER BY id LIMIT 1")

    @action
    async def count(self) -> dict[str, int]:
        row = await self.db.fetch_one("SELECT count(*) AS n FROM note")
        assert row is not None
        return {"rows": row["n"], "state": self.state["count"]}

    @action
    async def add_then_fail(self, text: str) -> None:
        await self.db.execute("INSERT INTO note (text) VALUES (?)", text)
        self.state["count"] += 1
        raise UserError("changed my mind", code="nope")

    @action
    async def partial(self, keep: str, drop: str) -> None:
        await self.db.execute("INSERT INTO note (text) VALUES (?)", keep)
        try:
            async with self.db.transaction():
                await self.db.execute("INSERT INTO note (text) VALUES (?)", drop)
                raise UserError("inner", code="inner")
        except UserError:
            pass

    @action
    async def run_sql(self, sql: str) -> list[dict[str, Any]]:
        return await self.db.fetch_all(sql)

    @action
    async def catch_constraint(self, text: str) -> str:
        try:
            await self.db.execute("INSERT INTO note (text) VALUES (?)", text)
        except ActorError as exc:
            return exc.code
        return "inserted"

    @action
    async def put_blob(self, text: str, size: int) -> int:
        body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        await self.db.execute("INSERT INTO note (text, body) VALUES (?, ?)", text, body)
        return len(body)

    @action
    async def blob_ok(self, text: str, size: int) -> bool:
        row = await self.db.fetch_one("SELECT body FROM note WHERE text = ?", text)
        expected = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        return row is not None and row["body"] == expected

    @action
    async def bulk(self, n: int) -> int:
        result = await self.db.executemany(
            "INSERT INTO note (text) VALUES (?)", ((f"bulk-{i}",) for i in range(n))
        )
        self.state["count"] += n
        return result.rows_affected

    @action
    def finish(self) -> None:
        self.destroy()


registry = Registry(Notes)


async def test_db_crud_and_row_dicts(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        notes = client.get_or_create(Notes, "u1")
        assert await notes.add("milk") == 1
        assert await notes.add("eggs") == 2
        assert await notes.add_named("tea") == 1
        assert await notes.texts() == ["milk", "eggs", "tea"]
        assert await notes.first() == {"id": 1, "text": "milk"}
        assert await notes.run_sql("SELECT 1 AS one WHERE 0") == []


async def test_db_persists_across_restart_and_sleep(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        notes = client.get_or_create(Notes, "u1")
        await notes.add("milk")
        node = node_of(client)
        await node.sleep_actor(await notes.resolve())
        assert not node.instances
        assert await notes.texts() == ["milk"]
        await notes.add("eggs")
    if db_storage_url.startswith("sqlite"):
        async with registry.test_client(db_storage_url) as client:
            assert await client.get(Notes, "u1").count() == {"rows": 2, "state": 2}


async def test_db_one_database_per_actor(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        a, b = client.get_or_create(Notes, "a"), client.get_or_create(Notes, "b")
        await a.add("only-a")
        await b.add("only-b")
        assert await a.texts() == ["only-a"]
        assert await b.texts() == ["only-b"]


async def test_db_action_error_rolls_back_db_and_state(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        notes = client.get_or_create(Notes, "u1")
        await notes.add("kept")
        with pytest.raises(ActorError) as info:
            await notes.add_then_fail("gone")
        assert info.value.code == "nope"
        assert await notes.texts() == ["kept"]
        assert await notes.count() == {"rows": 1, "state": 1}


async def test_db_explicit_transaction_rolls_back_only_its_block(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        notes = client.get_or_create(Notes, "u1")
        await notes.partial("keep", "drop")
        assert await notes.texts() == ["keep"]


async def test_db_sql_errors_are_clear_and_actor_keeps_working(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url, dev=False) as client:
        notes = client.get_or_create(Notes, "u1")
        await notes.add("milk")
        with pytest.raises(ActorError) as info:
            await notes.run_sql("SELEKT nonsense")
        assert (info.value.group, info.value.code) == ("actor", "sql_error")
        assert "syntax error" in info.value.message
        with pytest.raises(ActorError) as info:
            await notes.add("milk")  # UNIQUE
        assert info.value.code == "sql_error"
        assert info.value.metadata == {"sqlite_code": "SQLITE_CONSTRAINT"}
        assert "UNIQUE" in info.value.message
        assert await notes.catch_constraint("milk") == "sql_error"
        assert await notes.add("eggs") == 2
        assert await notes.count() == {"rows": 2, "state": 2}


async def test_db_large_blobs(db_storage_url: str) -> None:
    size = 5 * 1024 * 1024 + 7
    async with registry.test_client(db_storage_url) as client:
        notes = client.get_or_create(Notes, "u1")
        assert await notes.put_blob("big", size) == size
        await node_of(client).sleep_actor(await notes.resolve())
        assert await notes.blob_ok("big", size)


async def test_db_executemany_100k_rows(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        notes = client.get_or_create(Notes, "u1")
        assert await notes.bulk(100_000) == 100_000
        assert await notes.count() == {"rows": 100_000, "state": 100_000}


async def test_db_destroy_removes_database(db_storage_url: str, tmp_path: Path) -> None:
    async with registry.test_client(db_storage_url) as client:
        notes = client.get_or_create(Notes, "u1")
        await notes.add("milk")
        actor_id = await notes.resolve()
        db_file = tmp_path / "data" / "actors" / f"{actor_id}.db"
        assert db_file.exists() == db_storage_url.startswith("sqlite")
        await notes.finish()
        assert not db_file.exists()
        fresh = client.get_or_create(Notes, "u1")
        assert await fresh.texts() == []


class Bounded(Actor):
    options = ActorOptions(db_max_size=256 * 1024, db_statement_timeout=0.2)
    migrations = ["CREATE TABLE t (b BLOB)"]

    @action
    async def grow(self, kib: int) -> None:
        await self.db.execute("INSERT INTO t VALUES (zeroblob(?))", kib * 1024)

    @action
    async def spin(self) -> int:
        row = await self.db.fetch_one(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) AS n FROM c"
        )
        return 0 if row is None else int(row["n"])

    @action
    async def size(self) -> int:
        row = await self.db.fetch_one("SELECT count(*) AS n FROM t")
        return 0 if row is None else int(row["n"])


async def test_db_size_limit_and_statement_timeout(db_storage_url: str) -> None:
    async with Registry(Bounded).test_client(db_storage_url) as client:
        h = client.get_or_create(Bounded, "x")
        await h.grow(64)
        with pytest.raises(ActorError) as info:
            await h.grow(512)
        assert info.value.code == "database_too_large"
        with pytest.raises(ActorError) as info:
            await h.spin()
        assert info.value.code == "statement_timeout"
        await h.grow(32)
        assert await h.size() == 2


class Slow(Actor):
    options = ActorOptions(db_statement_timeout=300.0)

    @action
    async def spin(self) -> None:
        await self.db.fetch_one(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        )

    @action
    async def ping(self, n: int) -> int:
        await self.db.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
        await self.db.execute("INSERT INTO t VALUES (?)", n)
        row = await self.db.fetch_one("SELECT count(*) AS c FROM t")
        assert row is not None
        return int(row["c"])


async def test_db_slow_query_does_not_stall_other_actors(db_storage_url: str) -> None:
    async with Registry(Slow).test_client(db_storage_url) as client:
        a, b = client.get_or_create(Slow, "a"), client.get_or_create(Slow, "b")
        await a.ping(0)
        node = node_of(client)
        a_db = node.instances[await a.resolve()].db
        spinning = asyncio.ensure_future(a.spin())
        for _ in range(1000):
            if a_db.running:
                break
            await asyncio.sleep(0.01)
        assert a_db.running
        for i in range(1, 21):
            assert await b.ping(i) == i
        assert not spinning.done()  # A's query only ends when interrupted
        spinning.cancel()
        with pytest.raises(asyncio.CancelledError):
            await spinning
        assert await a.ping(1) == 2  # A's query was interrupted; A works


class NoDbDriver(MemoryDriver):
    open_actor_db = Driver.open_actor_db  # a driver that cannot store databases


async def test_db_unsupported_driver_is_a_clear_error() -> None:
    class Plain(Actor):
        @action
        async def use_db(self) -> None:
            await self.db.execute("SELECT 1")

        @action
        def hello(self) -> str:
            return "hi"

    node = Node(Registry(Plain, Notes), NoDbDriver(), client_factory=local_client)
    async with AsyncClient(transport=LocalTransport(node, owns_node=True)) as client:
        plain = client.get_or_create(Plain, "p")
        assert await plain.hello() == "hi"
        with pytest.raises(ActorError) as info:
            await plain.use_db()
        assert info.value.code == "database_not_supported"
        with pytest.raises(ActorError) as info:
            await client.get_or_create(Notes, "n").texts()
        assert info.value.code == "database_not_supported"


async def test_db_file_settings_on_sqlite(sqlite_url: str, tmp_path: Path) -> None:
    async with registry.test_client(sqlite_url) as client:
        notes = client.get_or_create(Notes, "u1")
        await notes.add("milk")
        actor_id = await notes.resolve()
    path = tmp_path / "data" / "actors" / f"{actor_id}.db"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT text FROM note").fetchall() == [("milk",)]
    finally:
        conn.close()


class Copies(Actor):
    state = {"n": 0}

    @action
    async def ddl(self) -> None:
        await self.db.execute("CREATE TABLE IF NOT EXISTS t (x)")
        self.state["n"] += 1

    @action
    async def read(self) -> None:
        await self.db.fetch_all("SELECT 1")
        self.state["n"] += 1

    @action
    async def copy_seq(self) -> int:
        row = await self.db.fetch_one("SELECT seq FROM _actorkit_state")
        return 0 if row is None else int(row["seq"])


async def test_db_state_copy_written_only_by_writing_turns(db_storage_url: str) -> None:
    async with Registry(Copies).test_client(db_storage_url) as client:
        h = client.get_or_create(Copies, "c")
        await h.ddl()  # a schema change is a write: it carries the state copy
        first = await h.copy_seq()
        assert first > 0
        await h.read()  # read-only: no copy, no fsync
        assert await h.copy_seq() == first
        await h.ddl()
        assert await h.copy_seq() > first
