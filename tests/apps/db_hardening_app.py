"""The app of tests/test_db_hardening.py: actors with a database, a small size limit, and
(with ``ACTORKIT_TEST_DISK_FULL=<flag path>``) a disk that fills up on demand.

The disk: an APSW VFS registered as the process's default, passing every call through to
SQLite's own unix VFS, except that while the flag file exists a write to an actor's
database file or WAL fails with SQLITE_FULL — exactly what the unix VFS returns when
``write()`` fails with ENOSPC. A real full file system needs root (a small tmpfs or loop
mount); this is the same failure at the layer right above it. The main store (stdlib
``sqlite3``, another SQLite library) is not affected.
"""

from __future__ import annotations

import os
from typing import Any

import apsw

from actorkit import Actor, ActorOptions, Registry, action

LIMIT = 1024 * 1024  # db_max_size of Notes


class Notes(Actor):
    state = {"added": 0}
    options = ActorOptions(db_max_size=LIMIT)
    migrations = ["CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"]

    @action
    async def add(self, body: str, copies: int = 1) -> int:
        await self.db.executemany("INSERT INTO note (body) VALUES (?)", [(body,)] * copies)
        self.state["added"] += copies
        return int(self.state["added"])

    @action
    async def rewrite(self, body: str) -> int:
        result = await self.db.execute("UPDATE note SET body = ?", body)
        return result.rows_affected

    @action
    async def count(self) -> int:
        row = await self.db.fetch_one("SELECT count(*) AS n FROM note")
        return int(row["n"]) if row else 0

    @action
    def added(self) -> int:
        return int(self.state["added"])

    @action
    async def run_sql(self, sql: str) -> list[dict[str, Any]]:
        return await self.db.fetch_all(sql)


class Scratch(Actor):
    """No migrations: its database is created by the first ``self.db`` call."""

    state = {"n": 0}

    @action
    async def put(self, value: str) -> int:
        await self.db.execute("CREATE TABLE IF NOT EXISTS kv (v TEXT)")
        await self.db.execute("INSERT INTO kv (v) VALUES (?)", value)
        self.state["n"] += 1
        return int(self.state["n"])

    @action
    def n(self) -> int:
        return int(self.state["n"])


registry = Registry(Notes, Scratch)


class _FullDiskFile(apsw.VFSFile):
    def __init__(self, flag: str, filename: Any, flags: list[int]) -> None:
        self.flag = flag
        name = filename if isinstance(filename, str) else filename.filename()
        self.actor_file = "/actors/" in (name or "")
        super().__init__(_BASE, filename, flags)

    def xWrite(self, data: bytes, offset: int) -> None:
        if self.actor_file and os.path.exists(self.flag):
            raise apsw.FullError("database or disk is full (test disk)")
        super().xWrite(data, offset)


class _FullDiskVFS(apsw.VFS):
    def __init__(self, flag: str) -> None:
        self.flag = flag
        super().__init__("actorkit-test-full-disk", base=_BASE, makedefault=True)

    def xOpen(self, name: Any, flags: list[int]) -> apsw.VFSFile:
        return _FullDiskFile(self.flag, name, flags)


_BASE = apsw.vfs_names()[0]  # SQLite's own default (unix), before ours replaces it
_flag = os.environ.get("ACTORKIT_TEST_DISK_FULL")
_vfs = _FullDiskVFS(_flag) if _flag else None
