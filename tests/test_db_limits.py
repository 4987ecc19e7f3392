"""``ActorOptions.db_max_size`` counts the write-ahead log: a statement whose pages spill
into the WAL is stopped once the file and its WAL pass the limit (real SQLite files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actorkit import Actor, ActorError, ActorOptions, Registry, action
from runtime_helpers import node_of

LIMIT = 8 * 1024 * 1024


class Blobs(Actor):
    options = ActorOptions(db_max_size=LIMIT)
    migrations = ["CREATE TABLE blob (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"]

    @action
    async def fill(self, rows: int) -> int:
        await self.db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO blob (body) SELECT randomblob(1000) FROM n",
            rows,
        )
        row = await self.db.fetch_one("SELECT count(*) AS n FROM blob")
        return int(row["n"]) if row else 0

    @action
    async def rewrite(self) -> int:
        result = await self.db.execute("UPDATE blob SET body = randomblob(1000)")
        return result.rows_affected

    @action
    async def scratch(self, rows: int) -> int:
        await self.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS scratch AS "
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "SELECT randomblob(1000) AS body FROM n",
            rows,
        )
        row = await self.db.fetch_one("SELECT count(*) AS n FROM temp.scratch")
        return int(row["n"]) if row else 0

    @action
    async def checksum(self) -> int:
        row = await self.db.fetch_one("SELECT sum(length(body)) + count(*) AS s FROM blob")
        return int(row["s"]) if row and row["s"] is not None else 0


registry = Registry(Blobs)


def _on_disk(path: Path) -> int:
    """The database file and its WAL, in bytes."""
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def test_db_statement_spilling_into_the_wal_stops_at_the_limit(tmp_path: Path) -> None:
    async with registry.test_client(f"sqlite:///{tmp_path / 'data'}") as client:
        blobs = client.get_or_create(Blobs, "b")
        # 5 MB of rows: well within 8 MiB, in one transaction that spills into the WAL.
        assert await blobs.fill(5000) == 5000
        actor_id = await blobs.resolve()
        path = tmp_path / "data" / "actors" / f"{actor_id}.db"
        before = await blobs.checksum()

        # Rewriting every row needs a second copy of ~5 MB in the WAL: more than the limit.
        with pytest.raises(ActorError) as info:
            await blobs.rewrite()
        assert info.value.code == "database_too_large", info.value
        assert "write-ahead log" in info.value.message
        assert await blobs.checksum() == before  # nothing of it kept
        # Stopped as it ran: never more than the limit plus SQLite's page cache (2 MiB).
        assert _on_disk(path) <= LIMIT + 2 * 1024 * 1024, _on_disk(path)

        # The actor works on, and its database is intact after sleep and wake.
        await node_of(client).sleep_actor(actor_id)
        assert _on_disk(path) == os.stat(path).st_size  # no WAL left
        assert await blobs.checksum() == before
        assert await blobs.fill(100) == 5100


async def test_db_temporary_tables_have_the_limit_too(tmp_path: Path) -> None:
    async with registry.test_client(f"sqlite:///{tmp_path / 'data'}") as client:
        blobs = client.get_or_create(Blobs, "t")
        with pytest.raises(ActorError) as info:
            await blobs.scratch(10_000)  # 10 MB in a temporary table: past 8 MiB
        assert info.value.code == "database_too_large", info.value
        assert await blobs.scratch(1000) == 1000
