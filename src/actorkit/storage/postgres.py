"""``postgresql://…``: the cluster driver — several processes (nodes) share one database.

Ownership lives in the database: each actor row has an ``owner`` and an ``epoch``; an owner
holds its actors while its row in ``members`` has a lease running on the *database's*
clock. Every write names the epoch its writer activated with and is applied only if that
epoch is still the actor's, checked under the actor row's lock in the write's own
transaction (fencing). Commits are synchronous: a method returns after PostgreSQL made the
change durable.

Each method is one round trip: a statement, or a call of one of the functions in
``postgres_schema`` for those that must lock first and read after. See ``docs/storage.md``.

Example::

    driver = PostgresDriver("postgresql://app@db.internal/actors", pool_size=20)
    await driver.open()  # creates or upgrades the schema
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from actorkit.errors import FencedError
from actorkit.protocol.keys import Key
from actorkit.storage.base import (
    Activation,
    ActorRecord,
    Driver,
    Member,
    OwnedElsewhere,
    WriteBatch,
)

try:
    import psycopg  # noqa: F401 - fail here, naming the extra, if it is missing
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the postgresql:// storage driver needs psycopg: pip install 'actorkit[postgres]'"
    ) from exc

from actorkit.storage.postgres_pool import PostgresPool, Row
from actorkit.storage.postgres_vfs import ActorDbPages

if TYPE_CHECKING:
    import apsw

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DEFAULT_LEASE", "DEFAULT_POOL_SIZE", "PostgresDriver"]

DEFAULT_POOL_SIZE = 10
#: Seconds after its lease ran out that a member's row is removed (by the next ``join``).
DEAD_MEMBER_SECONDS = 600.0

#: Seconds an owner that never called ``join`` stays live after its first ``activate`` or
#: ``claim_alarms`` through a handle (the runtime joins and renews explicitly).
DEFAULT_LEASE = 10.0
DEFAULT_CONNECT_TIMEOUT = 5.0

_FIELDS = "id, name, key, created_at, input, region, initialized, epoch"
# Reads also name the owner, if its lease is live (informational: activate decides).
_RECORD = (
    f"{_FIELDS}, (SELECT m.id FROM actorkit.members m WHERE m.id = actors.owner "
    "AND m.lease_until > clock_timestamp()) AS live_owner"
)
FIND_SQL = f"SELECT {_RECORD} FROM actorkit.actors WHERE name = %s AND key_hash = %s"
GET_SQL = f"SELECT {_RECORD} FROM actorkit.actors WHERE id = %s"
_LIST_SQL = {  # (name given, after given) → query; static texts, so each gets a good plan
    (False, False): f"SELECT {_RECORD} FROM actorkit.actors ORDER BY id LIMIT %s",
    (False, True): f"SELECT {_RECORD} FROM actorkit.actors WHERE id > %s ORDER BY id LIMIT %s",
    (True, False): f"SELECT {_RECORD} FROM actorkit.actors WHERE name = %s ORDER BY id LIMIT %s",
    (True, True): f"SELECT {_RECORD} FROM actorkit.actors WHERE name = %s AND id > %s "
    "ORDER BY id LIMIT %s",
}
_LEASE = "clock_timestamp() + make_interval(secs => %s)"
# Members leave: their rows go, and their actors are free at once. The actor rows are
# locked in id order, as commit locks them, so a concurrent commit cannot deadlock with it.
_LEAVE_SQL = (
    "WITH gone AS (DELETE FROM actorkit.members WHERE id = ANY (%(ids)s)), "
    "held AS (SELECT id FROM actorkit.actors WHERE owner = ANY (%(ids)s) ORDER BY id FOR UPDATE) "
    "UPDATE actorkit.actors a SET owner = NULL FROM held "
    "WHERE a.id = held.id AND a.owner = ANY (%(ids)s)"
)

_key_encoder = msgspec.json.Encoder()
_key_decoder = msgspec.json.Decoder(tuple[str, ...])


def _encode_key(key: Key) -> tuple[str, bytes]:
    """The key as stored (a JSON array) and its sha256, which the unique index holds."""
    encoded = _key_encoder.encode(list(key))
    return encoded.decode(), hashlib.sha256(encoded).digest()


def _record(row: Row) -> ActorRecord:
    return ActorRecord(
        id=row[0],
        name=row[1],
        key=_key_decoder.decode(row[2]),
        created_at=row[3],
        input=row[4],
        region=row[5],
        initialized=row[6],
        epoch=row[7],
        owner=row[8] if len(row) > 8 else None,
    )


@dataclass(slots=True)
class _Group:
    """The batches of one commit call for one actor at one epoch, merged in order."""

    index: int  # 1-based, as the commit function's arrays count
    kv: dict[bytes, bytes | None] = field(default_factory=dict)  # None: delete
    set_alarm: bool = False
    alarm: float | None = None
    init: bool = False


class PostgresDriver(Driver):
    """Stores everything in PostgreSQL (schema ``actorkit``), shared by every node whose
    driver points at the same database.

    ``pool_size`` connections serve the async methods; ``lease`` is how long an owner that
    never called ``join`` stays live (see ``DEFAULT_LEASE``); ``connect_timeout`` bounds
    ``open()`` against a server that does not answer, and twice it bounds the wait for a
    pooled connection.
    """

    shared = True

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        lease: float = DEFAULT_LEASE,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self.lease = lease
        self.db = PostgresPool(url, size=pool_size, connect_timeout=connect_timeout)
        # Actor databases (self.db): pages in PostgreSQL through an SQLite VFS, on a small
        # blocking pool of their own (the runtime calls the VFS from its database threads).
        self.pages = ActorDbPages(url, self.db.where, timeout=2 * connect_timeout)
        self._known: set[str] = set()  # owners known to have a members row
        self._mine: set[str] = set()  # member rows this handle created: close() deletes them

    async def open(self) -> None:
        await self.db.open()
        try:
            await asyncio.to_thread(self.pages.open)
        except BaseException:
            await self.db.close()
            raise

    async def close(self) -> None:
        mine, self._mine = sorted(self._mine), set()
        self._known.clear()
        # As leave(): our owners stop being live, their actors are free at once. (Should
        # that fail, their leases run out by themselves.)
        try:
            await self.db.close((_LEAVE_SQL, {"ids": mine}) if mine else None)
        finally:
            await asyncio.to_thread(self.pages.close)

    # -- membership ----------------------------------------------------------------------

    async def join(self, member: Member, lease: float) -> None:
        await self.db.query(
            "INSERT INTO actorkit.members AS m "
            "(id, url, region, actor_types, started_at, lease_until) "
            f"VALUES (%s, %s, %s, %s::text[], %s, {_LEASE}) ON CONFLICT (id) DO UPDATE SET "
            "url = excluded.url, region = excluded.region, actor_types = excluded.actor_types, "
            "started_at = excluded.started_at, lease_until = excluded.lease_until",
            (
                member.id,
                member.url,
                member.region,
                list(member.actor_types),
                member.started_at,
                lease,
            ),
            fetch=False,
        )
        self._known.add(member.id)
        self._mine.add(member.id)
        # Rows of members long dead (killed, never to return under that id) go: their
        # actors were free since their leases ran out; the table stays small.
        await self.db.query(
            "DELETE FROM actorkit.members WHERE lease_until < clock_timestamp() - "
            "make_interval(secs => %s)",
            (DEAD_MEMBER_SECONDS,),
            fetch=False,
        )

    async def renew(self, member_id: str, lease: float) -> bool:
        row = await self.db.one(
            f"UPDATE actorkit.members SET lease_until = {_LEASE} "
            "WHERE id = %s AND lease_until > clock_timestamp() RETURNING true",
            (lease, member_id),
        )
        return row is not None

    async def leave(self, member_id: str) -> None:
        await self.db.query(_LEAVE_SQL, {"ids": [member_id]}, fetch=False)
        self._known.discard(member_id)
        self._mine.discard(member_id)

    async def members(self) -> list[Member]:
        rows = await self.db.query(
            "SELECT id, url, region, actor_types, started_at, "
            "extract(epoch FROM lease_until - clock_timestamp())::float8 "
            "FROM actorkit.members ORDER BY id"
        )
        return [Member(r[0], r[1], r[2], tuple(r[3]), r[4], r[5]) for r in rows]

    async def _ensure_member(self, owner: str) -> None:
        """Give an owner that never joined a members row (url NULL, this handle's lease),
        so it is live like an owner of the single-process drivers; close() removes it."""
        if owner in self._known:
            return
        row = await self.db.one(
            "INSERT INTO actorkit.members (id, started_at, lease_until) "
            f"VALUES (%s, extract(epoch FROM clock_timestamp()), {_LEASE}) "
            "ON CONFLICT (id) DO NOTHING RETURNING true",
            (owner, self.lease),
            repeatable=False,  # run twice, it would not know it had registered the owner
        )
        if row is not None:
            self._mine.add(owner)
        self._known.add(owner)

    # -- directory -----------------------------------------------------------------------

    async def create_actor(self, record: ActorRecord) -> tuple[ActorRecord, bool]:
        key, key_hash = _encode_key(record.key)
        row = await self.db.one(
            "SELECT * FROM actorkit.create_actor(%s, %s, %s, %s, %s, %s, %s)",
            (record.id, record.name, key, key_hash, record.created_at, record.input, record.region),
            repeatable=False,  # run twice, it would answer created=False for its own insert
        )
        assert row is not None  # the function loops until it inserted or found one
        return _record(row[1:]), row[0]

    async def find_actor(self, name: str, key: Key) -> ActorRecord | None:
        row = await self.db.one(FIND_SQL, (name, _encode_key(key)[1]))
        return None if row is None else _record(row)

    async def get_actor(self, actor_id: str) -> ActorRecord | None:
        row = await self.db.one(GET_SQL, (actor_id,))
        return None if row is None else _record(row)

    async def list_actors(
        self, name: str | None = None, *, after: str | None = None, limit: int = 100
    ) -> list[ActorRecord]:
        params = [p for p in (name, after) if p is not None]
        query = _LIST_SQL[name is not None, after is not None]
        return [_record(row) for row in await self.db.query(query, (*params, limit))]

    async def delete_actor(self, actor_id: str, epoch: int) -> None:
        row = await self.db.one("SELECT actorkit.delete_actor(%s, %s)", (actor_id, epoch))
        if row is not None and row[0] is not None and row[0] != epoch:
            raise FencedError(f"actor {actor_id} is owned elsewhere")

    # -- ownership -----------------------------------------------------------------------

    async def activate(self, actor_id: str, owner: str) -> Activation | OwnedElsewhere | None:
        await self._ensure_member(owner)
        row = await self.db.one("SELECT * FROM actorkit.activate(%s, %s)", (actor_id, owner))
        if row is None:
            return None
        if row[0] is not None:
            return OwnedElsewhere(row[0])
        keys, values = row[9], row[10]
        data = dict(zip(keys, values, strict=True)) if keys is not None else {}
        return Activation(_record(row[1:9]), data)

    async def release(self, actor_id: str, owner: str, epoch: int) -> None:
        await self.db.query(
            "UPDATE actorkit.actors SET owner = NULL WHERE id = %s AND owner = %s AND epoch = %s",
            (actor_id, owner, epoch),
            fetch=False,
        )

    # -- data ----------------------------------------------------------------------------

    async def load(self, actor_id: str) -> dict[bytes, bytes]:
        rows = await self.db.query("SELECT k, v FROM actorkit.kv WHERE actor_id = %s", (actor_id,))
        return {k: v for k, v in rows}

    async def commit(self, batches: Sequence[WriteBatch]) -> list[BaseException | None]:
        if not batches:
            return []
        # Merge the batches per (actor, epoch), in order: of one actor's groups at most one
        # can match its epoch, so the merged last-write-wins result is exactly what applying
        # the surviving batches one by one would give.
        groups: dict[tuple[str, int], _Group] = {}
        for batch in batches:
            group = groups.get((batch.actor_id, batch.epoch))
            if group is None:
                group = groups[batch.actor_id, batch.epoch] = _Group(len(groups) + 1)
            for k in batch.deletes:
                group.kv[k] = None
            group.kv.update(batch.puts)
            if batch.set_alarm:
                group.set_alarm, group.alarm = True, batch.alarm
            group.init = group.init or batch.mark_initialized
        kv_g: list[int] = []
        kv_k: list[bytes] = []
        kv_v: list[bytes | None] = []
        for group in groups.values():
            for k, v in group.kv.items():
                kv_g.append(group.index)
                kv_k.append(k)
                kv_v.append(v)
        row = await self.db.one(
            # %b: arrays in binary are several times cheaper to build than as text.
            "SELECT actorkit.commit(%b::text[], %b::bigint[], %b::boolean[], "
            "%b::float8[], %b::boolean[], %b::integer[], %b::bytea[], %b::bytea[])",
            (
                [actor_id for actor_id, _ in groups],
                [epoch for _, epoch in groups],
                [g.set_alarm for g in groups.values()],
                [g.alarm for g in groups.values()],
                [g.init for g in groups.values()],
                kv_g,
                kv_k,
                kv_v,
            ),
        )
        assert row is not None
        applied: list[bool] = row[0]
        return [
            None
            if applied[groups[b.actor_id, b.epoch].index - 1]
            else FencedError(f"actor {b.actor_id} is owned elsewhere")
            for b in batches
        ]

    # -- alarms --------------------------------------------------------------------------

    async def due_alarms(self, now: float, limit: int = 1000) -> list[tuple[str, float]]:
        rows = await self.db.query(
            "SELECT actor_id, at FROM actorkit.alarms WHERE at <= %s "
            "ORDER BY at, actor_id LIMIT %s",
            (now, limit),
        )
        return [(actor_id, at) for actor_id, at in rows]

    async def claim_alarms(
        self, owner: str, now: float, *, hold: float, limit: int = 1000
    ) -> list[tuple[str, float]]:
        await self._ensure_member(owner)
        rows = await self.db.query(
            "SELECT * FROM actorkit.claim_alarms(%s, %s, %s, %s)", (owner, now, hold, limit)
        )
        return sorted(((actor_id, at) for actor_id, at in rows), key=lambda a: (a[1], a[0]))

    # -- actor databases -------------------------------------------------------------------

    def open_actor_db(self, actor_id: str, *, epoch: int, create: bool) -> apsw.Connection | None:
        return self.pages.open_connection(actor_id, epoch=epoch, create=create)

    def close_actor_db(self, actor_id: str, conn: apsw.Connection) -> None:
        # Nothing to flush (every COMMIT is in PostgreSQL already); a connection whose
        # file failed may complain while closing.
        with contextlib.suppress(Exception):
            conn.close()

    def delete_actor_db(self, actor_id: str) -> None:
        self.pages.delete(actor_id)
