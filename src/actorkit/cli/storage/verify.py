"""``verify_stores``: compare two stores actor by actor, through the ``Driver`` interface.

Per actor (matched by id): the record (name, key, creation time, create input, region,
initialized), the data (a sha256 per key, so a difference names its keys), the alarm, and the
database's logical content (``dbfile.digest_db``: schema and every row, not the bytes of
its pages, which differ with the page size and layout of each store). What belongs to one
store is left out: ownership epochs (in the record, in ``state_seq`` and in the database's
state copy) and which node has the actor awake.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from actorkit._runtime.db import SEQ_KEY, decode_seq
from actorkit.cli.storage.dbfile import DbDigest, digest_db
from actorkit.cli.storage.progress import Progress
from actorkit.cli.storage.stores import all_alarms, count_actors, iter_actors, stores_databases
from actorkit.storage import Driver
from actorkit.storage.base import ActorRecord

__all__ = ["Difference", "Fingerprint", "VerifyReport", "verify_stores"]

_RECORD_FIELDS = ("name", "key", "created_at", "input", "region", "initialized")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What is compared of one actor in one store."""

    record: tuple[Any, ...]  # _RECORD_FIELDS
    data: dict[bytes, str]  # key → sha256 of the value (state_seq: of its seq only)
    alarm: float | None
    db: DbDigest | None  # None: no database (or the store keeps none)

    @property
    def data_sha256(self) -> str:
        h = hashlib.sha256()
        for k, digest in sorted(self.data.items()):
            h.update(len(k).to_bytes(4, "big") + k + digest.encode())
        return h.hexdigest()

    def summary(self) -> dict[str, Any]:
        db = self.db
        return {
            "keys": len(self.data),
            "data_sha256": self.data_sha256,
            "alarm": self.alarm,
            "db_tables": None if db is None else db.tables,
            "db_rows": None if db is None else db.rows,
            "db_sha256": None if db is None else db.sha256,
        }


@dataclass(slots=True)
class Difference:
    actor_id: str
    name: str
    key: tuple[str, ...]
    what: list[str]


@dataclass(slots=True)
class VerifyReport:
    actors: int = 0  # in the first store (--from)
    other_actors: int = 0  # in the second (--to)
    equal: int = 0
    differ: list[Difference] = field(default_factory=list)  # also: missing from --to
    extra: list[ActorRecord] = field(default_factory=list)  # only in --to
    keys: int = 0  # in the first store, of equal actors
    alarms: int = 0
    databases: int = 0
    db_rows: int = 0
    skipped_databases: bool = False
    stores_databases: tuple[bool, bool] = (False, False)  # whether each store keeps them
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.differ and not self.extra


def _key(k: bytes) -> str:
    return repr(k.decode("utf-8", "backslashreplace"))


def _value_digest(k: bytes, v: bytes) -> str:
    if k == SEQ_KEY:  # the epoch in it belongs to the store; the sequence number does not
        v = decode_seq(v)[1].to_bytes(8, "big")
    return hashlib.sha256(v).hexdigest()


def compare(a: Fingerprint, b: Fingerprint, *, databases: tuple[bool, bool]) -> list[str]:
    """What differs between the two fingerprints of one actor, in words. ``databases``:
    whether each store keeps actor databases (both False: not compared)."""
    what: list[str] = []
    for name, x, y in zip(_RECORD_FIELDS, a.record, b.record, strict=True):
        if x != y:
            what.append(f"record {name}: {x!r} vs {y!r}")
    for k in sorted(a.data.keys() | b.data.keys()):
        if k not in b.data:
            what.append(f"data key {_key(k)} missing from --to")
        elif k not in a.data:
            what.append(f"data key {_key(k)} only in --to")
        elif a.data[k] != b.data[k]:
            what.append(f"data key {_key(k)} differs")
    if a.alarm != b.alarm:
        what.append(f"alarm: {a.alarm} vs {b.alarm}")
    if databases == (True, True) and a.db != b.db:
        if a.db is None or b.db is None:
            what.append("database missing from --to" if b.db is None else "database only in --to")
        elif (a.db.tables, a.db.rows) != (b.db.tables, b.db.rows):
            what.append(
                f"database: {a.db.tables} tables/{a.db.rows} rows vs "
                f"{b.db.tables} tables/{b.db.rows} rows"
            )
        else:
            what.append("database content differs (same tables and row counts)")
    elif databases == (True, False) and a.db is not None:
        what.append("database missing from --to (that store keeps no actor databases)")
    elif databases == (False, True) and b.db is not None:
        what.append("database only in --to")
    return what


class _Verifier:
    def __init__(self, a: Driver, b: Driver, threads: int) -> None:
        self.a, self.b = a, b
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="actorkit-verify")
        self.alarms: dict[int, dict[str, float]] = {}
        self.databases = (False, False)

    def _digest(self, driver: Driver, record: ActorRecord) -> DbDigest | None:
        conn = driver.open_actor_db(record.id, epoch=record.epoch, create=False)
        if conn is None:
            return None
        try:
            return digest_db(conn)
        finally:
            driver.close_actor_db(record.id, conn)

    async def fingerprint(self, driver: Driver, record: ActorRecord, dbs: bool) -> Fingerprint:
        data = await driver.load(record.id)
        db = None
        if dbs:
            loop = asyncio.get_running_loop()
            db = await loop.run_in_executor(self.pool, self._digest, driver, record)
        return Fingerprint(
            record=tuple(getattr(record, f) for f in _RECORD_FIELDS),
            data={k: _value_digest(k, v) for k, v in data.items()},
            alarm=self.alarms[id(driver)].get(record.id),
            db=db,
        )


async def verify_stores(
    a: Driver,
    b: Driver,
    *,
    skip_databases: bool = False,
    concurrency: int = 64,
    total: int | None = None,
    progress_interval: float = 0.0,
    on_actor: Callable[[dict[str, Any]], None] | None = None,
) -> VerifyReport:
    """Compare every actor of ``a`` with the actor of the same id in ``b``, and look for
    actors only ``b`` has. ``on_actor`` gets one dict per actor (id, status, differences and
    both fingerprints' counts and checksums), for a per-actor report."""
    report = VerifyReport(skipped_databases=skip_databases)
    started = time.monotonic()
    v = _Verifier(a, b, threads=8)
    v.alarms = {id(a): await all_alarms(a), id(b): await all_alarms(b)}
    if not skip_databases:
        v.databases = (await stores_databases(a), await stores_databases(b))
        report.stores_databases = v.databases
    sem = asyncio.Semaphore(concurrency)
    progress = Progress("verifying", total or 0, interval=progress_interval)

    async def one(rec_a: ActorRecord) -> None:
        try:
            rec_b = await b.get_actor(rec_a.id)
            if rec_b is None:
                report.differ.append(
                    Difference(rec_a.id, rec_a.name, rec_a.key, ["actor missing from --to"])
                )
                if on_actor is not None:
                    on_actor(_line(rec_a, "missing", ["actor missing from --to"], None, None))
                return
            fa, fb = await asyncio.gather(
                v.fingerprint(a, rec_a, v.databases[0]), v.fingerprint(b, rec_b, v.databases[1])
            )
            report.other_actors += 1
            what = compare(fa, fb, databases=v.databases)
            if what:
                report.differ.append(Difference(rec_a.id, rec_a.name, rec_a.key, what))
            else:
                report.equal += 1
                report.keys += len(fa.data)
                report.alarms += fa.alarm is not None
                if fa.db is not None:
                    report.databases += 1
                    report.db_rows += fa.db.rows
            if on_actor is not None:
                on_actor(_line(rec_a, "differ" if what else "equal", what, fa, fb))
        finally:
            sem.release()
            progress.advance()

    try:
        async with asyncio.TaskGroup() as group:
            async for record in iter_actors(a):
                report.actors += 1
                await sem.acquire()
                group.create_task(one(record))
        # Actors only ``b`` has: worth a walk over ``b`` only if it has more than matched.
        matched = report.other_actors
        report.other_actors = await count_actors(b)
        if report.other_actors > matched:
            async for record in iter_actors(b):
                if await a.get_actor(record.id) is None:
                    report.extra.append(record)
                    if on_actor is not None:
                        on_actor(_line(record, "extra", ["actor only in --to"], None, None))
    finally:
        progress.close()
        v.pool.shutdown(wait=True)
    report.differ.sort(key=lambda d: d.actor_id)
    report.seconds = time.monotonic() - started
    return report


def _line(
    record: ActorRecord,
    status: str,
    what: list[str],
    a: Fingerprint | None,
    b: Fingerprint | None,
) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "key": list(record.key),
        "status": status,
        "differences": what,
        "from": None if a is None else a.summary(),
        "to": None if b is None else b.summary(),
    }
