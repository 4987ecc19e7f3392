"""``sqlite:///path``: the default driver — one SQLite file in WAL mode under a data directory.

Every commit is fsynced (``synchronous=FULL``) before it is reported durable; the runtime
groups many actors' writes into one commit, so the fsync cost is shared. One process owns a
data directory at a time (an exclusive lock on ``<dir>/lock``).

Each actor's own database (``self.db``) is a separate file, ``<dir>/actors/<actor id>.db``,
also in WAL mode with ``synchronous=FULL``; see ``docs/storage.md`` for how its commits and
the state commits stay consistent.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, TypeVar

import apsw
import msgspec

from actorkit.errors import FencedError, StorageError
from actorkit.protocol.keys import Key
from actorkit.storage.base import Activation, ActorRecord, Driver, OwnedElsewhere, WriteBatch

__all__ = ["SQLiteDriver"]

T = TypeVar("T")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    created_at REAL NOT NULL,
    input BLOB,
    region TEXT,
    initialized INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, key)
);
CREATE TABLE IF NOT EXISTS kv (
    actor_id TEXT NOT NULL,
    k BLOB NOT NULL,
    v BLOB NOT NULL,
    PRIMARY KEY (actor_id, k)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alarms (actor_id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS alarms_at ON alarms (at);
"""

_RECORD_COLUMNS = "id, name, key, created_at, input, region, initialized, epoch"
_key_encoder = msgspec.json.Encoder()
_key_decoder = msgspec.json.Decoder(tuple[str, ...])


def _record(row: tuple[Any, ...]) -> ActorRecord:
    return ActorRecord(
        id=row[0],
        name=row[1],
        key=_key_decoder.decode(row[2]),
        created_at=row[3],
        input=row[4],
        region=row[5],
        initialized=bool(row[6]),
        epoch=row[7],
    )


class SQLiteDriver(Driver):
    """Stores everything in ``<directory>/actorkit.db``. Per-actor SQLite databases live in
    ``<directory>/actors/``.

    ``vfs`` names a registered SQLite VFS to open every file through (the main store's in the
    ``sqlite3`` module's SQLite, the actor databases' in APSW's); for tests that simulate
    power loss (``tests/powerloss``). ``None``: SQLite's default.
    """

    def __init__(self, directory: str | os.PathLike[str], *, vfs: str | None = None) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "actorkit.db"
        self.vfs = vfs
        self._lock_file: IO[str] | None = None
        # One thread writes (SQLite allows one writer); another reads, which WAL lets run
        # alongside the writer.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="actorkit-sqlite-w")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="actorkit-sqlite-r")
        self._local = threading.local()
        self._ops: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._epochs: dict[str, int] = {}  # epochs granted but not yet written
        # Ownership lives in memory: the directory lock makes this process the only one that
        # can activate actors here, so every owner that activated through it is live, and
        # after a crash none is.
        self._owners: dict[str, tuple[str, int]] = {}  # actor id → (owner, its epoch)
        self._claims: dict[str, tuple[str, float]] = {}  # actor id → (owner, claimed until)

    # -- plumbing ----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            target: str | Path = self.path
            uri = False
            if self.vfs is not None:
                target, uri = f"{self.path.absolute().as_uri()}?vfs={self.vfs}", True
            conn = sqlite3.connect(target, isolation_level=None, check_same_thread=True, uri=uri)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=5000")
            self._local.conn = conn
        return conn

    async def _run(self, executor: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, fn)
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite: {exc}") from exc

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in a write transaction shared with every other write queued meanwhile.

        Writes queue while a transaction is in flight and the next transaction takes them
        all (group commit): one fsync covers many callers. Each write runs in its own
        savepoint, so one failing write does not undo the others.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._ops.append((fn, future))
        if self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        result: T = await future
        return result

    async def _drain(self) -> None:
        try:
            while self._ops:
                ops, self._ops = self._ops, []
                epochs = dict(self._epochs)
                try:
                    results = await self._run(
                        self._writer, functools.partial(self._apply_ops, ops, epochs)
                    )
                except Exception as exc:
                    results = [(False, exc)] * len(ops)
                else:
                    for actor_id, epoch in epochs.items():
                        if self._epochs.get(actor_id) == epoch:
                            del self._epochs[actor_id]
                for (_, future), (ok, value) in zip(ops, results, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._drainer = None

    def _apply_ops(
        self,
        ops: list[tuple[Callable[[sqlite3.Connection], Any], Any]],
        epochs: dict[str, int],
    ) -> list[tuple[bool, Any]]:
        conn = self._conn()
        results: list[tuple[bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            if epochs:
                conn.executemany(
                    "UPDATE actors SET epoch = ?1 WHERE id = ?2 AND epoch < ?1",
                    [(epoch, actor_id) for actor_id, epoch in epochs.items()],
                )
            for fn, _ in ops:
                conn.execute("SAVEPOINT op")
                try:
                    value = fn(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    results.append((False, exc))
                else:
                    conn.execute("RELEASE op")
                    results.append((True, value))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> Callable[[], T]:
        return lambda: fn(self._conn())

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_file = open(self.directory / "lock", "a+")  # noqa: SIM115, ASYNC230 - held until close
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise StorageError(
                f"data directory {self.directory} is in use by another actorkit process"
            ) from None
        self._lock_file = lock_file

        def init(conn: sqlite3.Connection) -> None:
            conn.executescript(_SCHEMA)  # autocommits; runs before any other write
            row = conn.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path} has schema version {row[0]}; this actorkit reads up to "
                    f"{SCHEMA_VERSION}: upgrade actorkit"
                )

        try:
            await self._run(self._writer, lambda: init(self._conn()))
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._owners.clear()
        self._claims.clear()
        while self._drainer is not None:
            await asyncio.shield(self._drainer)

        def close_conn() -> None:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()
                self._local.conn = None

        for executor in (self._writer, self._reader):
            await asyncio.get_running_loop().run_in_executor(executor, close_conn)
            executor.shutdown(wait=True)
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _with_pending_epoch(self, record: ActorRecord | None) -> ActorRecord | None:
        if record is not None:
            record.epoch = max(record.epoch, self._epochs.get(record.id, 0))
            record.owner = self._holder(record.id)
        return record

    # -- directory ---------------------------------------------------------------------

    async def create_actor(self, record: ActorRecord) -> tuple[ActorRecord, bool]:
        key = _key_encoder.encode(list(record.key)).decode()

        def create(conn: sqlite3.Connection) -> tuple[ActorRecord, bool]:
            cur = conn.execute(
                "INSERT INTO actors (id, name, key, created_at, input, region) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, key) DO NOTHING",
                (record.id, record.name, key, record.created_at, record.input, record.region),
            )
            row = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM actors WHERE name = ? AND key = ?",
                (record.name, key),
            ).fetchone()
            return _record(row), cur.rowcount == 1

        return await self._write(create)

    async def find_actor(self, name: str, key: Key) -> ActorRecord | None:
        encoded = _key_encoder.encode(list(key)).decode()

        def find(conn: sqlite3.Connection) -> ActorRecord | None:
            row = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM actors WHERE name = ? AND key = ?",
                (name, encoded),
            ).fetchone()
            return None if row is None else _record(row)

        return self._with_pending_epoch(await self._run(self._reader, self._read(find)))

    async def get_actor(self, actor_id: str) -> ActorRecord | None:
        def get(conn: sqlite3.Connection) -> ActorRecord | None:
            row = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM actors WHERE id = ?", (actor_id,)
            ).fetchone()
            return None if row is None else _record(row)

        return self._with_pending_epoch(await self._run(self._reader, self._read(get)))

    async def list_actors(
        self, name: str | None = None, *, after: str | None = None, limit: int = 100
    ) -> list[ActorRecord]:
        def list_(conn: sqlite3.Connection) -> list[ActorRecord]:
            rows = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM actors WHERE (?1 IS NULL OR name = ?1) "
                "AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3",
                (name, after, limit),
            ).fetchall()
            return [_record(row) for row in rows]

        records = await self._run(self._reader, self._read(list_))
        for record in records:
            self._with_pending_epoch(record)
        return records

    async def delete_actor(self, actor_id: str, epoch: int) -> None:
        def delete(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT epoch FROM actors WHERE id = ?", (actor_id,)).fetchone()
            if row is None:
                return False
            if row[0] != epoch:
                raise FencedError(f"actor {actor_id} is owned elsewhere")
            conn.execute("DELETE FROM actors WHERE id = ?", (actor_id,))
            conn.execute("DELETE FROM kv WHERE actor_id = ?", (actor_id,))
            conn.execute("DELETE FROM alarms WHERE actor_id = ?", (actor_id,))
            return True

        if await self._write(delete):
            self._owners.pop(actor_id, None)
            self._claims.pop(actor_id, None)
            await asyncio.get_running_loop().run_in_executor(
                self._writer, self.delete_actor_db, actor_id
            )

    # -- ownership ---------------------------------------------------------------------

    async def activate(self, actor_id: str, owner: str) -> Activation | OwnedElsewhere | None:
        # The new epoch needs no fsync of its own: no other process can activate actors here
        # (the directory lock). It is written, before anything else, by the next write
        # transaction — the first that could carry a write made under it — so fencing sees
        # it whenever it matters.
        holder = self._holder(actor_id)
        if holder is not None and holder != owner:
            return OwnedElsewhere(holder)

        def read(conn: sqlite3.Connection) -> tuple[ActorRecord, dict[bytes, bytes]] | None:
            row = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM actors WHERE id = ?", (actor_id,)
            ).fetchone()
            if row is None:
                return None
            rows = conn.execute("SELECT k, v FROM kv WHERE actor_id = ?", (actor_id,))
            return _record(row), {bytes(k): bytes(v) for k, v in rows}

        # A write transaction may persist the pending epoch and drop it from ``_epochs``
        # while we read (our read can predate that write), so keep what was pending before.
        pending = self._epochs.get(actor_id, 0)
        found = await self._run(self._reader, self._read(read))
        if found is None:
            return None
        holder = self._holder(actor_id)  # another owner may have won while we read
        if holder is not None and holder != owner:
            return OwnedElsewhere(holder)
        record, data = found
        record.epoch = max(record.epoch, pending, self._epochs.get(actor_id, 0)) + 1
        self._epochs[actor_id] = record.epoch
        self._owners[actor_id] = (owner, record.epoch)
        self._claims.pop(actor_id, None)
        return Activation(record, data)

    async def release(self, actor_id: str, owner: str, epoch: int) -> None:
        if self._owners.get(actor_id) == (owner, epoch):
            del self._owners[actor_id]

    def _holder(self, actor_id: str) -> str | None:
        held = self._owners.get(actor_id)
        return None if held is None else held[0]

    # -- data ----------------------------------------------------------------------------

    async def load(self, actor_id: str) -> dict[bytes, bytes]:
        def load(conn: sqlite3.Connection) -> dict[bytes, bytes]:
            rows = conn.execute("SELECT k, v FROM kv WHERE actor_id = ?", (actor_id,))
            return {bytes(k): bytes(v) for k, v in rows}

        return await self._run(self._reader, self._read(load))

    async def commit(self, batches: Sequence[WriteBatch]) -> list[BaseException | None]:
        def commit(conn: sqlite3.Connection) -> list[BaseException | None]:
            results: list[BaseException | None] = []
            for batch in batches:
                row = conn.execute(
                    "SELECT epoch FROM actors WHERE id = ?", (batch.actor_id,)
                ).fetchone()
                if row is None or row[0] != batch.epoch:
                    results.append(FencedError(f"actor {batch.actor_id} is owned elsewhere"))
                    continue
                _apply(conn, batch)
                results.append(None)
            return results

        return await self._write(commit)

    # -- alarms --------------------------------------------------------------------------

    async def due_alarms(self, now: float, limit: int = 1000) -> list[tuple[str, float]]:
        def due(conn: sqlite3.Connection) -> list[tuple[str, float]]:
            rows = conn.execute(
                "SELECT actor_id, at FROM alarms WHERE at <= ? ORDER BY at LIMIT ?", (now, limit)
            )
            return [(actor_id, at) for actor_id, at in rows]

        return await self._run(self._reader, self._read(due))

    async def claim_alarms(
        self, owner: str, now: float, *, hold: float, limit: int = 1000
    ) -> list[tuple[str, float]]:
        claimed: list[tuple[str, float]] = []
        # Read past the alarms that may be skipped (held or claimed by others).
        skippable = len(self._owners) + len(self._claims)
        for actor_id, when in await self.due_alarms(now, limit + skippable):
            holder = self._holder(actor_id)
            if holder is not None and holder != owner:
                continue
            claim = self._claims.get(actor_id)
            if claim is not None and claim[0] != owner and claim[1] > now:
                continue
            self._claims[actor_id] = (owner, now + hold)
            claimed.append((actor_id, when))
            if len(claimed) >= limit:
                break
        return claimed

    # -- actor databases -----------------------------------------------------------------

    def _actor_db_path(self, actor_id: str) -> Path:
        if not actor_id or not all(c.isalnum() or c in "-_" for c in actor_id):
            raise StorageError(f"actor id {actor_id!r} cannot name a database file")
        return self.directory / "actors" / f"{actor_id}.db"

    def open_actor_db(self, actor_id: str, *, epoch: int, create: bool) -> apsw.Connection | None:
        path = self._actor_db_path(actor_id)
        new = not path.exists()
        if new and not create:
            return None
        path.parent.mkdir(exist_ok=True)
        conn = apsw.Connection(str(path), vfs=self.vfs)
        try:
            conn.set_busy_timeout(5000)
            # One process owns the data directory, so take the file's lock for good: the
            # WAL index then lives in heap memory (no -shm file, one fewer fd per actor).
            conn.execute("PRAGMA locking_mode=EXCLUSIVE").fetchall()
            conn.execute("PRAGMA journal_mode=WAL").fetchall()
            conn.execute("PRAGMA synchronous=FULL").fetchall()
        except BaseException:
            conn.close()
            raise
        if new:
            _fsync_dir(path.parent)  # the new file's directory entry survives a crash
        return conn

    def delete_actor_db(self, actor_id: str) -> None:
        path = self._actor_db_path(actor_id)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if path.parent.exists():
            _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _apply(conn: sqlite3.Connection, batch: WriteBatch) -> None:
    actor_id = batch.actor_id
    if batch.deletes:
        conn.executemany(
            "DELETE FROM kv WHERE actor_id = ? AND k = ?", [(actor_id, k) for k in batch.deletes]
        )
    if batch.puts:
        conn.executemany(
            "INSERT INTO kv (actor_id, k, v) VALUES (?, ?, ?) "
            "ON CONFLICT (actor_id, k) DO UPDATE SET v = excluded.v",
            [(actor_id, k, v) for k, v in batch.puts.items()],
        )
    if batch.set_alarm:
        if batch.alarm is None:
            conn.execute("DELETE FROM alarms WHERE actor_id = ?", (actor_id,))
        else:
            conn.execute(
                "INSERT INTO alarms (actor_id, at) VALUES (?, ?) "
                "ON CONFLICT (actor_id) DO UPDATE SET at = excluded.at",
                (actor_id, batch.alarm),
            )
    if batch.mark_initialized:
        conn.execute("UPDATE actors SET initialized = 1, input = NULL WHERE id = ?", (actor_id,))
