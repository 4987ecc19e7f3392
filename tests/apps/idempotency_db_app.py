"""An app for the idempotency test of turns that write ``self.db``: a journal whose keyed
``write`` inserts a row (and counts runs in its state).

With ``ACTORKIT_TEST_CRASH_FLAG`` naming a file, the process kills itself (``SIGKILL``) when
the main store is about to commit a batch that holds an idempotent call's outcome while that
file exists: the moment after the turn's database transaction committed and before its batch
reached the main store.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

from actorkit import Actor, Registry, action
from actorkit.storage.base import WriteBatch
from actorkit.storage.sqlite import SQLiteDriver


class Journal(Actor):
    state = {"runs": 0}
    migrations = ["CREATE TABLE entry (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"]

    @action
    async def write(self, text: str) -> int:
        await self.db.execute("INSERT INTO entry (text) VALUES (?)", text)
        self.state["runs"] += 1
        return int(self.state["runs"])

    @action
    async def rows(self) -> int:
        found = await self.db.fetch_all("SELECT count(*) AS n FROM entry")
        return int(found[0]["n"])


def _crash_before_outcomes_reach_the_main_store(flag: str) -> None:
    commit = SQLiteDriver.commit

    def crash_if_armed(batches: Sequence[WriteBatch]) -> None:
        if os.path.exists(flag) and any(
            key.startswith(b"idem/") for batch in batches for key in batch.puts
        ):
            os.kill(os.getpid(), signal.SIGKILL)

    async def crashing(
        self: SQLiteDriver, batches: Sequence[WriteBatch]
    ) -> list[BaseException | None]:
        crash_if_armed(batches)
        return await commit(self, batches)

    SQLiteDriver.commit = crashing  # type: ignore[method-assign]


if flag := os.environ.get("ACTORKIT_TEST_CRASH_FLAG"):
    _crash_before_outcomes_reach_the_main_store(flag)

registry = Registry(Journal)
