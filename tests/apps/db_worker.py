"""A write-heavy workload for the kill -9 test (``test_db_crash.py``), run as its own process.

``python tests/apps/db_worker.py DATA_DIR ACTORS`` prints ``ack <actor> <n>`` after each
acknowledged append, forever, until killed.

``python tests/apps/db_worker.py DATA_DIR stall`` makes one actor do 3 appends, then stalls
the main store's commits forever and starts a 4th append: its db transaction commits, its
state batch never does, and the worker prints ``stalled`` (then waits to be killed).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from actorkit import Actor, Registry, action
from actorkit._runtime.node import Node
from actorkit.client.base import AsyncClient
from actorkit.local import LocalTransport, local_client
from actorkit.storage import SQLiteDriver, WriteBatch


class Ledger(Actor):
    state = {"count": 0, "touches": 0}
    migrations = ["CREATE TABLE entry (n INTEGER PRIMARY KEY, payload BLOB NOT NULL)"]

    @action
    async def append(self, size: int) -> int:
        n = self.state["count"] + 1
        await self.db.execute("INSERT INTO entry (n, payload) VALUES (?, randomblob(?))", n, size)
        self.state["count"] = n
        return n

    @action
    def touch(self) -> int:
        # A state-only turn between db turns: the main store's copy gets ahead of the db's.
        self.state["touches"] += 1
        return int(self.state["touches"])

    @action
    async def check(self) -> dict[str, Any]:
        row = await self.db.fetch_one("SELECT count(*) AS rows, max(n) AS top FROM entry")
        assert row is not None
        return {"state": self.state["count"], "rows": row["rows"], "top": row["top"] or 0}


registry = Registry(Ledger)


async def main(directory: str, actors: int) -> None:
    async with registry.test_client(f"sqlite:///{directory}") as client:
        handles = [client.get_or_create(Ledger, f"k{i}") for i in range(actors)]

        async def work(i: int) -> None:
            h = handles[i]
            while True:
                n = await h.append(1500)
                print(f"ack {i} {n}", flush=True)
                if n % 3 == 0:
                    await h.touch()

        await asyncio.gather(*(work(i) for i in range(actors)))


class StallingDriver(SQLiteDriver):
    """The real SQLite driver, except that commits hang forever once ``stalled`` is set."""

    stalled = False

    async def commit(self, batches: Sequence[WriteBatch]) -> list[BaseException | None]:
        if self.stalled:
            await asyncio.Event().wait()
        return await super().commit(batches)


async def stall(directory: str) -> None:
    driver = StallingDriver(directory)
    node = Node(registry, driver, client_factory=local_client)
    async with AsyncClient(transport=LocalTransport(node, owns_node=True)) as client:
        h = client.get_or_create(Ledger, "k0")
        for _ in range(3):
            await h.append(100)
        inst = node.instances[await h.resolve()]
        before = inst.db._committed_turn
        driver.stalled = True
        pending = asyncio.ensure_future(h.append(100))
        for _ in range(6000):  # until the 4th append's db transaction has committed
            if inst.db._committed_turn is not before:
                break
            await asyncio.sleep(0.01)
        assert inst.db._committed_turn is not before
        await asyncio.sleep(0.2)
        assert not pending.done()
        print("stalled", flush=True)
        await pending


if __name__ == "__main__":
    if sys.argv[2] == "stall":
        asyncio.run(stall(sys.argv[1]))
    else:
        asyncio.run(main(sys.argv[1], int(sys.argv[2])))
