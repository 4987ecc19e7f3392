"""The process that loses power: the real runtime over the shims, killed at a chosen I/O step.

``python tests/powerloss/worker.py DATA_DIR JOURNAL_DIR MODE CRASH_AFTER RUN CHECK``

- ``MODE``: ``durable`` (the default options), ``relaxed`` (``state_save_interval``) or
  ``unsafe`` (the driver with ``synchronous=OFF``: acknowledges writes it never syncs; the
  self-test that proves the shim loses data).
- ``CHECK``: a JSON list of ``[class, key]``; each is read first and printed as
  ``seen <class> <key> <value> [<rows> <top>]`` (nothing is armed yet). Then ``ready``.
- ``RUN``: the run's number: seeds its payload sizes and names its fresh actor database.
- ``CRASH_AFTER``: 0 exits after the check; else the journal is armed to SIGKILL the
  process at that many changes and syncs from ``ready`` (or, if negative, from the start:
  the loss may come during recovery and the check), and writers run until it does,
  printing ``ack <class> <key> <value> <monotonic time>`` after each acknowledged call,
  ``sync <monotonic time>`` after each sync of the main store's WAL that made a commit
  durable, and ``crash <monotonic time>`` just before the kill.

Every line is one ``write`` to stdout (a pipe): what was printed before the kill is read.
``tests/`` must be on ``PYTHONPATH`` (the harness sees to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sqlite3
import sys
import time
from typing import Any

import apsw

from actorkit import Actor, ActorError, ActorOptions, Registry, action
from actorkit._runtime.node import Node
from actorkit.client.base import AsyncClient
from actorkit.local import LocalTransport, local_client
from actorkit.storage import SQLiteDriver
from powerloss import apsw_vfs, ctypes_vfs
from powerloss.journal import Journal

VFS = "powerloss"
#: Relaxed mode's save interval; the documented window is one interval of changes.
RELAXED_INTERVAL = 0.05


class Counter(Actor):
    """State only: every increment lives in the main store."""

    state = {"n": 0}

    @action
    def inc(self) -> int:
        self.state["n"] += 1
        return int(self.state["n"])

    @action
    def get(self) -> int:
        return int(self.state["n"])


class Ledger(Actor):
    """A row in its own database and the state counter per append (kept or lost together)."""

    state = {"n": 0}
    migrations = ["CREATE TABLE entry (n INTEGER PRIMARY KEY, payload BLOB NOT NULL)"]

    @action
    async def append(self, size: int) -> int:
        n = self.state["n"] + 1
        await self.db.execute("INSERT INTO entry (n, payload) VALUES (?, randomblob(?))", n, size)
        self.state["n"] = n
        return n

    @action
    async def get(self) -> list[int]:
        row = await self.db.fetch_one("SELECT count(*) AS rows, max(n) AS top FROM entry")
        assert row is not None
        return [int(self.state["n"]), int(row["rows"]), int(row["top"] or 0)]


class Relaxed(Actor):
    """Relaxed mode: replies do not wait for the state to be durable."""

    options = ActorOptions(state_save_interval=RELAXED_INTERVAL)
    state = {"n": 0}

    @action
    def inc(self) -> int:
        self.state["n"] += 1
        return int(self.state["n"])

    @action
    def get(self) -> int:
        return int(self.state["n"])


registry = Registry(Counter, Ledger, Relaxed)
CLASSES: dict[str, type[Actor]] = {"Counter": Counter, "Ledger": Ledger, "Relaxed": Relaxed}


class UnsafeDriver(SQLiteDriver):
    """The real driver, switched by ``go_unsafe`` to ``synchronous=OFF``: it never syncs
    again. Until then it is the default driver, so the files it made are durable."""

    def __init__(self, directory: str, *, vfs: str) -> None:
        super().__init__(directory, vfs=vfs)
        self.unsafe = False
        self.opened: list[apsw.Connection] = []

    def _conn(self) -> sqlite3.Connection:
        conn = super()._conn()
        if self.unsafe and not getattr(self._local, "unsafe", False):
            conn.execute("PRAGMA synchronous=OFF")
            self._local.unsafe = True
        return conn

    def open_actor_db(self, actor_id: str, *, epoch: int, create: bool) -> apsw.Connection | None:
        conn = super().open_actor_db(actor_id, epoch=epoch, create=create)
        if conn is not None:
            self.opened.append(conn)
            if self.unsafe:
                _synchronous_off(conn)
        return conn

    def go_unsafe(self) -> None:
        """Called with no database work in flight."""
        self.unsafe = True
        for conn in self.opened:
            with contextlib.suppress(apsw.ConnectionClosedError):
                _synchronous_off(conn)


def _synchronous_off(conn: apsw.Connection) -> None:
    """``PRAGMA synchronous=OFF``, past the runtime's authorizer (which refuses it to actor
    code: the runtime's durability rests on it)."""
    guard = conn.authorizer
    conn.authorizer = None
    try:
        conn.execute("PRAGMA synchronous=OFF").fetchall()
    finally:
        conn.authorizer = guard


def emit(*fields: Any) -> None:
    os.write(1, (" ".join(str(f) for f in fields) + "\n").encode())


def workload(mode: str, run: int) -> list[tuple[str, str]]:
    """The actors a run writes: long-lived ones, and a fresh database (a new file) per run."""
    if mode == "relaxed":
        return [("Relaxed", f"r{i}") for i in range(4)]
    return [
        *(("Counter", f"c{i}") for i in range(3)),
        *(("Ledger", f"l{i}") for i in range(2)),
        ("Ledger", f"fresh{run}"),
    ]


async def main(data_dir: str, journal_dir: str, mode: str, crash_after: int, run: int,
               check: list[list[str]]) -> None:  # fmt: skip
    journal = Journal(journal_dir)
    journal.on_crash = lambda: emit("crash", time.monotonic())

    def synced(path: str, dirty: bool) -> None:
        # A sync of the WAL with changes is a commit; one without is a checkpoint's.
        if dirty and path.endswith("actorkit.db-wal"):
            emit("sync", time.monotonic())

    journal.on_sync = synced
    if crash_after < 0:
        journal.crash_after = -crash_after
    ctypes_vfs.register(VFS, journal)
    apsw_vfs.register(VFS, journal)
    driver = (UnsafeDriver if mode == "unsafe" else SQLiteDriver)(data_dir, vfs=VFS)
    node = Node(registry, driver, client_factory=local_client)
    async with AsyncClient(transport=LocalTransport(node, owns_node=True)) as client:
        for cls_name, key in check:
            try:
                value = await client.get(CLASSES[cls_name], key).get()  # type: ignore[attr-defined]
            except ActorError as err:
                if err.code != "actor_not_found":
                    raise
                value = 0
            emit("seen", cls_name, key, *(value if isinstance(value, list) else [value]))
        emit("ready")
        if not crash_after:
            return
        if crash_after > 0:
            journal.crash_after = journal.ops + crash_after
        rng = random.Random(run)

        async def write_once(cls_name: str, key: str) -> None:
            handle = client.get_or_create(CLASSES[cls_name], key)
            if cls_name == "Ledger":
                value = await handle.append(rng.randrange(10, 3000))  # type: ignore[attr-defined]
            else:
                value = await handle.inc()  # type: ignore[attr-defined]
            emit("ack", cls_name, key, value, time.monotonic())

        async def write(cls_name: str, key: str) -> None:
            while True:
                await write_once(cls_name, key)
                if cls_name == "Relaxed":
                    # Replies need no I/O here: pace the writers so that the save timer
                    # runs and a run spans many intervals without flooding the pipe.
                    await asyncio.sleep(RELAXED_INTERVAL / 20)

        if isinstance(driver, UnsafeDriver):
            # One durable write each first, so every file exists and is synced; after it
            # nothing is synced, and the loss must undo those writes, not just remove files.
            for cls_name, key in workload(mode, run):
                await write_once(cls_name, key)
            driver.go_unsafe()
        await asyncio.gather(*(write(c, k) for c, k in workload(mode, run)))


if __name__ == "__main__":
    data, journal_dir, mode, crash_after, run, check = sys.argv[1:]
    asyncio.run(main(data, journal_dir, mode, int(crash_after), int(run), json.loads(check)))
