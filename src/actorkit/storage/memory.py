"""``memory://``: everything in process memory. For tests and throwaway actors."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace

import apsw

from actorkit.errors import FencedError
from actorkit.protocol.keys import Key
from actorkit.storage.base import ActorRecord, Driver, WriteBatch

__all__ = ["MemoryDriver"]


class MemoryDriver(Driver):
    """Keeps the directory, data and alarms in dicts. Nothing survives the process."""

    def __init__(self) -> None:
        self._records: dict[str, ActorRecord] = {}
        self._by_key: dict[tuple[str, Key], str] = {}
        self._data: dict[str, dict[bytes, bytes]] = {}
        self._alarms: dict[str, float] = {}
        # Actor databases live as long as the driver, so they survive sleep/wake.
        self._dbs: dict[str, apsw.Connection] = {}

    async def create_actor(self, record: ActorRecord) -> tuple[ActorRecord, bool]:
        existing_id = self._by_key.get((record.name, record.key))
        if existing_id is not None:
            return replace(self._records[existing_id]), False
        stored = replace(record)
        self._records[record.id] = stored
        self._by_key[(record.name, record.key)] = record.id
        self._data[record.id] = {}
        return replace(stored), True

    async def find_actor(self, name: str, key: Key) -> ActorRecord | None:
        actor_id = self._by_key.get((name, key))
        return None if actor_id is None else replace(self._records[actor_id])

    async def get_actor(self, actor_id: str) -> ActorRecord | None:
        record = self._records.get(actor_id)
        return None if record is None else replace(record)

    async def list_actors(
        self, name: str | None = None, *, after: str | None = None, limit: int = 100
    ) -> list[ActorRecord]:
        ids = sorted(self._records)
        start = 0 if after is None else bisect.bisect_right(ids, after)
        out: list[ActorRecord] = []
        for actor_id in ids[start:]:
            record = self._records[actor_id]
            if name is None or record.name == name:
                out.append(replace(record))
                if len(out) >= limit:
                    break
        return out

    async def delete_actor(self, actor_id: str) -> None:
        record = self._records.pop(actor_id, None)
        if record is not None:
            self._by_key.pop((record.name, record.key), None)
        self._data.pop(actor_id, None)
        self._alarms.pop(actor_id, None)
        self.delete_actor_db(actor_id)

    async def acquire(self, actor_id: str) -> int:
        record = self._records[actor_id]
        record.epoch += 1
        return record.epoch

    async def load(self, actor_id: str) -> dict[bytes, bytes]:
        return dict(self._data.get(actor_id, {}))

    async def commit(self, batches: Sequence[WriteBatch]) -> list[BaseException | None]:
        return self.commit_now(batches)

    def commit_now(self, batches: Sequence[WriteBatch]) -> list[BaseException | None]:
        results: list[BaseException | None] = []
        for batch in batches:
            record = self._records.get(batch.actor_id)
            if record is None or record.epoch != batch.epoch:
                results.append(FencedError(f"actor {batch.actor_id} is owned elsewhere"))
                continue
            data = self._data.setdefault(batch.actor_id, {})
            for prefix in batch.delete_prefixes:
                for k in [k for k in data if k.startswith(prefix)]:
                    del data[k]
            for k in batch.deletes:
                data.pop(k, None)
            data.update(batch.puts)
            if batch.set_alarm:
                if batch.alarm is None:
                    self._alarms.pop(batch.actor_id, None)
                else:
                    self._alarms[batch.actor_id] = batch.alarm
            if batch.mark_initialized:
                record.initialized = True
                record.input = None
            results.append(None)
        return results

    async def due_alarms(self, now: float, limit: int = 1000) -> list[tuple[str, float]]:
        due = sorted((when, actor_id) for actor_id, when in self._alarms.items() if when <= now)
        return [(actor_id, when) for when, actor_id in due[:limit]]

    async def next_alarm(self) -> float | None:
        return min(self._alarms.values(), default=None)

    def open_actor_db(self, actor_id: str, *, create: bool) -> apsw.Connection | None:
        conn = self._dbs.get(actor_id)
        if conn is None and create:
            conn = self._dbs[actor_id] = apsw.Connection(":memory:")
        return conn

    def close_actor_db(self, actor_id: str, conn: apsw.Connection) -> None:
        pass  # kept open: the connection *is* the database

    def delete_actor_db(self, actor_id: str) -> None:
        conn = self._dbs.pop(actor_id, None)
        if conn is not None:
            conn.close()
