"""Migrations: applied once each, in order, lazily on wake; a failure names its index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from actorkit import Actor, ActorError, Registry, action
from actorkit._runtime.db_engine import SyncDb
from runtime_helpers import node_of


def seed(db: SyncDb) -> None:
    db.executemany("INSERT INTO item (name) VALUES (?)", [("a",), ("b",)])


class Items(Actor):
    state = {"wakes": 0}
    migrations: Any = [
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        seed,
        "ALTER TABLE item ADD COLUMN qty INTEGER NOT NULL DEFAULT 1",
    ]

    def on_wake(self) -> None:
        self.state["wakes"] += 1

    @action
    async def items(self) -> list[dict[str, Any]]:
        return await self.db.fetch_all("SELECT name, qty FROM item ORDER BY id")

    @action
    async def applied(self) -> list[int]:
        rows = await self.db.fetch_all("SELECT idx FROM _actorkit_migrations ORDER BY idx")
        return [row["idx"] for row in rows]

    @action
    async def tables(self) -> list[str]:
        rows = await self.db.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' "
            "ESCAPE '\\' ORDER BY name"
        )
        return [row["name"] for row in rows]

    @action
    def wakes(self) -> int:
        return int(self.state["wakes"])


registry = Registry(Items)
ORIGINAL = list(Items.migrations)


@pytest.fixture(autouse=True)
def restore_migrations() -> Iterator[None]:
    yield
    Items.migrations = list(ORIGINAL)


async def test_migrations_run_once_across_many_wakes(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        h = client.get_or_create(Items, "x")
        node = node_of(client)
        actor_id = await h.resolve()
        for _ in range(20):
            assert await h.items() == [{"name": "a", "qty": 1}, {"name": "b", "qty": 1}]
            await node.sleep_actor(actor_id)
        assert await h.applied() == [0, 1, 2]
        assert await h.wakes() == 21
    if db_storage_url.startswith("sqlite"):
        async with registry.test_client(db_storage_url) as client:
            h = client.get(Items, "x")
            assert await h.items() == [{"name": "a", "qty": 1}, {"name": "b", "qty": 1}]
            assert await h.applied() == [0, 1, 2]


async def test_failing_migration_blocks_wake_then_fixed_class_wakes(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        h = client.get_or_create(Items, "x")
        node = node_of(client)
        actor_id = await h.resolve()
        await node.sleep_actor(actor_id)

        Items.migrations = [
            *ORIGINAL,
            "CREATE TABLE tag (name TEXT); INSERT INTO no_such_table VALUES (1)",
        ]
        for _ in range(2):
            with pytest.raises(ActorError) as info:
                await h.items()
            assert (info.value.group, info.value.code) == ("actor", "migration_failed")
            assert info.value.metadata == {"migration": 3}
            assert "migration 3" in info.value.message
            assert "no_such_table" in info.value.message
        assert actor_id not in node.instances

        Items.migrations = [*ORIGINAL, "CREATE TABLE tag (name TEXT)"]
        assert await h.tables() == ["item", "tag"]  # the failed attempt left no table behind
        assert await h.applied() == [0, 1, 2, 3]
        assert len(await h.items()) == 2  # seed ran exactly once


async def test_failing_migration_on_create_frees_the_key(db_storage_url: str) -> None:
    Items.migrations = ["CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)", "BOGUS SQL"]
    async with registry.test_client(db_storage_url) as client:
        with pytest.raises(ActorError) as info:
            await client.get_or_create(Items, "new").resolve()
        assert info.value.code == "migration_failed"
        assert info.value.metadata == {"migration": 1}
        with pytest.raises(ActorError) as info:
            await client.get(Items, "new").resolve()
        assert info.value.code == "actor_not_found"
        Items.migrations = list(ORIGINAL)
        assert len(await client.get_or_create(Items, "new").items()) == 2


async def test_callable_migration_exception_is_reported(db_storage_url: str) -> None:
    def broken(db: SyncDb) -> None:
        raise ValueError("bad data")

    Items.migrations = [*ORIGINAL, broken]
    async with registry.test_client(db_storage_url) as client:
        with pytest.raises(ActorError) as info:
            await client.get_or_create(Items, "y").items()
        assert info.value.metadata == {"migration": 3}
        assert "ValueError: bad data" in info.value.message


def test_migrations_attribute_is_checked_at_class_definition() -> None:
    with pytest.raises(TypeError, match="migrations"):

        class Bad(Actor):
            migrations = "CREATE TABLE t (x)"

    with pytest.raises(TypeError, match=r"migrations\[1\]"):

        class Bad2(Actor):
            migrations = ["CREATE TABLE t (x)", 42]
