"""An actor with ``self.db`` for the cluster tests of actor databases on PostgreSQL
(``tests/test_postgres_actor_db.py``), run by several ``actorkit serve`` processes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from actorkit import Actor, ActorOptions, Registry, action


class Notes(Actor):
    state = {"count": 0}
    options = ActorOptions(sleep_timeout=300.0, action_timeout=120.0)
    migrations = ["CREATE TABLE note (n INTEGER PRIMARY KEY, text TEXT NOT NULL)"]

    @action
    async def add(self, text: str) -> int:
        n = self.state["count"] + 1
        await self.db.execute("INSERT INTO note (n, text) VALUES (?, ?)", n, text)
        self.state["count"] = n
        return n

    @action
    async def add_many_then_sleep(self, rows: int, seconds: float) -> int:
        """Insert ``rows`` rows in the turn's transaction, then wait before it commits."""
        start = self.state["count"]
        await self.db.executemany(
            "INSERT INTO note (n, text) VALUES (?, ?)",
            [(start + i + 1, "x" * 100) for i in range(rows)],
        )
        self.state["count"] = start + rows
        await asyncio.sleep(seconds)
        return start + rows

    @action
    async def check(self) -> dict[str, Any]:
        row = await self.db.fetch_one("SELECT count(*) AS rows, max(n) AS top FROM note")
        ok = await self.db.fetch_all("PRAGMA integrity_check")
        assert row is not None
        return {
            "state": self.state["count"],
            "rows": row["rows"],
            "top": row["top"] or 0,
            "integrity": [r["integrity_check"] for r in ok],
        }

    @action
    async def texts(self) -> list[str]:
        return [r["text"] for r in await self.db.fetch_all("SELECT text FROM note ORDER BY n")]

    @action
    def pid(self) -> int:
        return os.getpid()


registry = Registry(Notes)
