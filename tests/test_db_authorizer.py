"""The SQLite authorizers of ``self.db`` (``_runtime/db_authorizer.py``), on every driver:
the actor's own code cannot reach other files or undo the runtime's settings; statements
from outside the actor (inspector, console) are held to read-only introspection on top."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actorkit import Actor, ActorError, Registry, action
from actorkit.options import DEFAULT_DB_MAX_SIZE
from runtime_helpers import node_of


class Vault(Actor):
    state = {"n": 0}
    migrations = ["CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)"]

    @action
    async def sql(self, sql: str) -> list[dict[str, Any]]:
        return await self.db.fetch_all(sql)

    @action
    async def add(self, name: str) -> int:
        await self.db.execute("INSERT INTO item (name) VALUES (?)", name)
        self.state["n"] += 1
        return int(self.state["n"])


registry = Registry(Vault)


async def _refused(coro: Any, what: str) -> ActorError:
    with pytest.raises(ActorError) as info:
        await coro
    assert info.value.code == "sql_not_allowed", info.value
    assert info.value.group == "actor"
    assert what in info.value.message, info.value.message
    return info.value


async def test_db_actor_code_cannot_attach_or_change_runtime_pragmas(
    db_storage_url: str, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    async with registry.test_client(db_storage_url) as client:
        vault = client.get_or_create(Vault, "v")
        await vault.add("a")
        await _refused(vault.sql(f"ATTACH DATABASE '{other}' AS other"), "ATTACH")
        with pytest.raises(ActorError):  # inside the turn's transaction, or refused as ATTACH
            await vault.sql(f"VACUUM INTO '{other}'")
        await _refused(vault.sql("PRAGMA max_page_count = 2147483646"), "max_page_count")
        await _refused(vault.sql("PRAGMA synchronous = OFF"), "synchronous")
        await _refused(vault.sql("PRAGMA writable_schema = ON"), "writable_schema")
        await _refused(vault.sql("SELECT load_extension('/tmp/x.so')"), "load_extension")
        assert not other.exists()
        # Reading the settings, and PRAGMAs that are the actor's own business, still work.
        limit = (await vault.sql("PRAGMA max_page_count"))[0]["max_page_count"]
        page_size = (await vault.sql("PRAGMA page_size"))[0]["page_size"]
        assert limit * page_size == DEFAULT_DB_MAX_SIZE  # unchanged
        await vault.sql("PRAGMA user_version = 7")
        assert await vault.sql("SELECT count(*) AS n FROM item") == [{"n": 1}]
        assert await vault.add("b") == 2


async def test_db_outside_statements_are_read_only_introspection(db_storage_url: str) -> None:
    from actorkit._runtime.db import outside_statements

    async with registry.test_client(db_storage_url) as client:
        vault = client.get_or_create(Vault, "v")
        await vault.add("a")
        node = node_of(client)
        actor_id = await vault.resolve()

        async def outside(sql: str) -> list[dict[str, Any]]:
            async def run(actor: Any) -> list[dict[str, Any]]:
                with outside_statements(actor.db):
                    rows: list[dict[str, Any]] = await actor.db.fetch_all(sql)
                return rows

            result: list[dict[str, Any]] = await node.run_in_turn(actor_id, run)
            return result

        # The actor itself may set user_version (prepared, then cached by APSW)...
        await vault.sql("PRAGMA user_version = 7")
        # ...the same text from outside is refused all the same: no cached statement escapes.
        await _refused(outside("PRAGMA user_version = 7"), "user_version")
        await _refused(outside("PRAGMA journal_mode = DELETE"), "journal_mode")
        await _refused(outside("UPDATE _actorkit_state SET epoch = 999"), "_actorkit_state")
        await _refused(outside("DELETE FROM _actorkit_migrations"), "_actorkit_migrations")
        await _refused(outside("ALTER TABLE _actorkit_state RENAME TO x"), "_actorkit_state")
        await _refused(outside("CREATE INDEX i ON _actorkit_state (seq)"), "_actorkit_state")
        await _refused(outside("DROP TABLE _actorkit_migrations"), "_actorkit_migrations")
        # A trigger planted from outside cannot act later with the actor's rights.
        await outside(
            "CREATE TRIGGER planted AFTER INSERT ON item "
            "BEGIN UPDATE _actorkit_state SET epoch = 999; END"
        )
        await _refused(vault.add("fires the trigger"), "a trigger may not change")
        await outside("DROP TRIGGER planted")
        await _refused(outside("COMMIT"), "transaction")
        await _refused(outside("SAVEPOINT x"), "transaction")
        assert [c["name"] for c in await outside("PRAGMA table_info(item)")] == ["id", "name"]
        assert await outside("PRAGMA user_version") == [{"user_version": 7}]
        await outside("INSERT INTO item (name) VALUES ('from outside')")
        await outside("CREATE INDEX item_name ON item (name)")  # the actor's own schema
        assert await outside("SELECT name FROM item ORDER BY id") == [
            {"name": "a"},
            {"name": "from outside"},
        ]
        # The actor's own statements are back under its own authorizer afterwards.
        await vault.sql("PRAGMA user_version = 8")
        assert await vault.add("b") == 2
