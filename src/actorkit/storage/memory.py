"""``memory://``: everything in process memory. For tests and throwaway actors.

Several ``MemoryDriver`` handles may share one ``MemoryStore`` (``MemoryDriver(store)``):
they then behave like nodes sharing a database, which is how tests race two owners on one
actor and fence one of them.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace

import apsw

from actorkit.errors import FencedError
from actorkit.protocol.keys import Key
from actorkit.storage.base import Activation, ActorRecord, Driver, OwnedElsewhere, WriteBatch

__all__ = ["MemoryDriver", "MemoryStore"]


class MemoryStore:
    """What ``memory://`` keeps: the directory, data, alarms, owners and actor databases."""

    def __init__(self) -> None:
        self.records: dict[str, ActorRecord] = {}
        self.by_key: dict[tuple[str, Key], str] = {}
        self.data: dict[str, dict[bytes, bytes]] = {}
        self.alarms: dict[str, float] = {}
        self.owners: dict[str, str] = {}  # actor id → owner holding it
        self.live: dict[str, MemoryDriver] = {}  # owner → the open handle it activated through
        self.claims: dict[str, tuple[str, float]] = {}  # actor id → (owner, claimed until)
        # Actor databases live as long as the store, so they survive sleep/wake.
        self.dbs: dict[str, apsw.Connection] = {}

    def holder(self, actor_id: str) -> str | None:
        """The live owner holding ``actor_id``, if any."""
        owner = self.owners.get(actor_id)
        return owner if owner is not None and owner in self.live else None


class MemoryDriver(Driver):
    """Keeps everything in a ``MemoryStore`` (a new one unless given). Nothing survives the
    process."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else MemoryStore()

    async def close(self) -> None:
        live = self.store.live
        for owner in [o for o, handle in live.items() if handle is self]:
            del live[owner]

    # -- directory ---------------------------------------------------------------------

    async def create_actor(self, record: ActorRecord) -> tuple[ActorRecord, bool]:
        s = self.store
        existing_id = s.by_key.get((record.name, record.key))
        if existing_id is not None:
            return replace(s.records[existing_id]), False
        stored = replace(record)
        s.records[record.id] = stored
        s.by_key[(record.name, record.key)] = record.id
        s.data[record.id] = {}
        return replace(stored), True

    def _read(self, record: ActorRecord) -> ActorRecord:
        return replace(record, owner=self.store.holder(record.id))

    async def find_actor(self, name: str, key: Key) -> ActorRecord | None:
        actor_id = self.store.by_key.get((name, key))
        return None if actor_id is None else self._read(self.store.records[actor_id])

    async def get_actor(self, actor_id: str) -> ActorRecord | None:
        record = self.store.records.get(actor_id)
        return None if record is None else self._read(record)

    async def list_actors(
        self, name: str | None = None, *, after: str | None = None, limit: int = 100
    ) -> list[ActorRecord]:
        records = self.store.records
        ids = sorted(records)
        start = 0 if after is None else bisect.bisect_right(ids, after)
        out: list[ActorRecord] = []
        for actor_id in ids[start:]:
            record = records[actor_id]
            if name is None or record.name == name:
                out.append(self._read(record))
                if len(out) >= limit:
                    break
        return out

    async def delete_actor(self, actor_id: str, epoch: int) -> None:
        s = self.store
        record = s.records.get(actor_id)
        if record is None:
            return
        if record.epoch != epoch:
            raise FencedError(f"actor {actor_id} is owned elsewhere")
        del s.records[actor_id]
        s.by_key.pop((record.name, record.key), None)
        for table in (s.data, s.alarms, s.owners, s.claims):
            table.pop(actor_id, None)
        self.delete_actor_db(actor_id)

    # -- ownership ---------------------------------------------------------------------

    async def activate(self, actor_id: str, owner: str) -> Activation | OwnedElsewhere | None:
        s = self.store
        record = s.records.get(actor_id)
        if record is None:
            return None
        holder = s.holder(actor_id)
        if holder is not None and holder != owner:
            return OwnedElsewhere(holder)
        s.live.setdefault(owner, self)
        s.owners[actor_id] = owner
        s.claims.pop(actor_id, None)
        record.epoch += 1
        return Activation(replace(record), dict(s.data.get(actor_id, {})))

    async def release(self, actor_id: str, owner: str, epoch: int) -> None:
        s = self.store
        record = s.records.get(actor_id)
        if record is not None and record.epoch == epoch and s.owners.get(actor_id) == owner:
            del s.owners[actor_id]

    # -- data ----------------------------------------------------------------------------

    async def load(self, actor_id: str) -> dict[bytes, bytes]:
        return dict(self.store.data.get(actor_id, {}))

    async def commit(self, batches: Sequence[WriteBatch]) -> list[BaseException | None]:
        return self.commit_now(batches)

    def commit_now(self, batches: Sequence[WriteBatch]) -> list[BaseException | None]:
        s = self.store
        results: list[BaseException | None] = []
        for batch in batches:
            record = s.records.get(batch.actor_id)
            if record is None or record.epoch != batch.epoch:
                results.append(FencedError(f"actor {batch.actor_id} is owned elsewhere"))
                continue
            data = s.data.setdefault(batch.actor_id, {})
            for k in batch.deletes:
                data.pop(k, None)
            data.update(batch.puts)
            if batch.set_alarm:
                if batch.alarm is None:
                    s.alarms.pop(batch.actor_id, None)
                else:
                    s.alarms[batch.actor_id] = batch.alarm
            if batch.mark_initialized:
                record.initialized = True
                record.input = None
            results.append(None)
        return results

    # -- alarms --------------------------------------------------------------------------

    async def due_alarms(self, now: float, limit: int = 1000) -> list[tuple[str, float]]:
        due = sorted(
            (when, actor_id) for actor_id, when in self.store.alarms.items() if when <= now
        )
        return [(actor_id, when) for when, actor_id in due[:limit]]

    async def claim_alarms(
        self, owner: str, now: float, *, hold: float, limit: int = 1000
    ) -> list[tuple[str, float]]:
        s = self.store
        claimed: list[tuple[str, float]] = []
        for actor_id, when in await self.due_alarms(now, len(s.alarms)):
            holder = s.holder(actor_id)
            if holder is not None and holder != owner:
                continue
            claim = s.claims.get(actor_id)
            if claim is not None and claim[0] != owner and claim[1] > now and claim[0] in s.live:
                continue
            s.live.setdefault(owner, self)
            s.claims[actor_id] = (owner, now + hold)
            claimed.append((actor_id, when))
            if len(claimed) >= limit:
                break
        return claimed

    # -- actor databases ---------------------------------------------------------------------

    def open_actor_db(self, actor_id: str, *, epoch: int, create: bool) -> apsw.Connection | None:
        conn = self.store.dbs.get(actor_id)
        if conn is None and create:
            conn = self.store.dbs[actor_id] = apsw.Connection(":memory:")
        return conn

    def close_actor_db(self, actor_id: str, conn: apsw.Connection) -> None:
        pass  # kept open: the connection *is* the database

    def delete_actor_db(self, actor_id: str) -> None:
        conn = self.store.dbs.pop(actor_id, None)
        if conn is not None:
            conn.close()
