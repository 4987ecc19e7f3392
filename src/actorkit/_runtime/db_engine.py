"""The synchronous side of an actor's database: one APSW connection, run in a worker thread.

Everything here runs in a thread of the database pool (``run_in_pool``), never on the event
loop. ``Engine`` owns one connection and applies the limits: the database size
(``PRAGMA max_page_count``) and a per-statement deadline checked by a progress handler.
SQLite errors become ``ActorError``s with stable codes (``sql_error``,
``database_too_large``, ``statement_timeout``).

Internal tables live next to the user's and start with ``_actorkit_``:

- ``_actorkit_migrations(idx, applied_at)``: which of the class's ``migrations`` ran;
- ``_actorkit_state(id = 0, seq, state, epoch)``: the epoch of the last owner that
  committed, and a copy of the actor's state envelope, written in the same SQLite
  transaction as a turn's database writes (see ``actorkit._runtime.db``). A commit from an
  owner older than the stored epoch is refused (``FencedError``) in that transaction.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import apsw

from actorkit.errors import ActorError, Code, FencedError

__all__ = ["DB_POOL_SIZE", "Engine", "SyncDb", "pool_future", "run_in_pool", "sql_error"]

T = TypeVar("T")

#: Threads shared by all actor databases of a process. A slow query holds one thread; the
#: other actors' databases keep the rest.
DB_POOL_SIZE = 16

_INTERNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS _actorkit_migrations (idx INTEGER PRIMARY KEY, applied_at REAL);
CREATE TABLE IF NOT EXISTS _actorkit_state (
    id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL, state BLOB,
    epoch INTEGER NOT NULL DEFAULT 0
);
"""

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(DB_POOL_SIZE, thread_name_prefix="actorkit-db")
        return _pool


def pool_future(fn: Callable[[], T]) -> asyncio.Future[T]:
    """Start ``fn`` in the pool; the future resolves with its result."""
    return asyncio.get_running_loop().run_in_executor(_get_pool(), fn)


async def run_in_pool(fn: Callable[[], T]) -> T:
    return await pool_future(fn)


def sql_error(exc: apsw.Error, *, timed_out: bool = False) -> ActorError:
    """The ``ActorError`` a caller sees for a SQLite error."""
    name = apsw.mapping_result_codes.get(getattr(exc, "result", -1), "SQLITE_ERROR")
    if isinstance(exc, apsw.FullError):
        return ActorError(
            "actor",
            Code.DATABASE_TOO_LARGE,
            "the actor's database reached its size limit (ActorOptions.db_max_size)",
            {"sqlite_code": name},
        )
    if isinstance(exc, apsw.InterruptError) and timed_out:
        return ActorError(
            "actor",
            Code.STATEMENT_TIMEOUT,
            "a SQL statement ran longer than its time limit (ActorOptions.db_statement_timeout)",
            {"sqlite_code": name},
        )
    message = str(exc)
    prefix = f"{type(exc).__name__}: "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return ActorError("actor", Code.SQL_ERROR, f"SQL error: {message}", {"sqlite_code": name})


def _rows(cursor: apsw.Cursor) -> list[dict[str, Any]]:
    try:
        names = [d[0] for d in cursor.description]
    except apsw.ExecutionCompleteError:
        return []
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _bindings(params: Sequence[Any]) -> Any:
    if len(params) == 1 and isinstance(params[0], dict):
        return params[0]
    return tuple(params)


class SyncDb:
    """The blocking database API handed to callable migrations: ``def m(db): db.execute(...)``."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    @property
    def last_insert_rowid(self) -> int:
        return int(self._conn.last_insert_rowid())

    def execute(self, sql: str, *params: Any) -> int:
        """Run ``sql``; returns the number of rows changed."""
        before = self._conn.total_changes()
        self._conn.execute(sql, _bindings(params)).fetchall()
        return int(self._conn.total_changes() - before)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any] | dict[str, Any]]) -> int:
        before = self._conn.total_changes()
        self._conn.executemany(sql, rows).fetchall()
        return int(self._conn.total_changes() - before)

    def fetch_all(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return _rows(self._conn.execute(sql, _bindings(params)))

    def fetch_one(self, sql: str, *params: Any) -> dict[str, Any] | None:
        rows = self.fetch_all(sql, *params)
        return rows[0] if rows else None


class Engine:
    """One open actor database. Every method blocks; call them through ``run_in_pool`` and
    never two at a time (``ActorDatabase`` serializes them)."""

    def __init__(
        self,
        conn: apsw.Connection,
        *,
        epoch: int,
        max_bytes: int,
        statement_timeout: float | None,
    ) -> None:
        self.conn = conn
        self.epoch = epoch  # the owner's epoch: commits are refused once a newer one wrote
        self.statement_timeout = statement_timeout
        self.deadline: float | None = None  # monotonic time after which statements abort
        self.cancelled = False  # set from the event loop to abort the running statement
        self.turn_begun = False  # the turn's transaction is open (see ``begin_turn``)
        self.sync = SyncDb(conn)
        page_size: int = conn.execute("PRAGMA page_size").fetchall()[0][0]  # type: ignore[assignment]
        max_pages = max(16, math.ceil(max_bytes / page_size))
        conn.execute(f"PRAGMA max_page_count = {max_pages}").fetchall()
        conn.set_progress_handler(self._progress, 1000)
        columns = [row[1] for row in conn.execute("PRAGMA table_info(_actorkit_state)")]
        if not columns:
            conn.execute(_INTERNAL_SCHEMA)
        elif "epoch" not in columns:  # written by a release without fencing in the database
            conn.execute("ALTER TABLE _actorkit_state ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0")
        stored_epoch = self._stored_epoch()
        if stored_epoch > epoch:
            raise FencedError(f"the database was written by a newer owner (epoch {stored_epoch})")

    def _progress(self) -> bool:
        # True aborts the running statement with SQLITE_INTERRUPT.
        if self.cancelled:
            return True
        return self.deadline is not None and time.monotonic() > self.deadline

    def run(self, fn: Callable[[SyncDb], T]) -> T:
        """Run ``fn`` with the statement deadline armed; map SQLite errors."""
        self.deadline = (
            None if self.statement_timeout is None else time.monotonic() + self.statement_timeout
        )
        try:
            return fn(self.sync)
        except apsw.Error as exc:
            timed_out = self.deadline is not None and time.monotonic() > self.deadline
            raise sql_error(exc, timed_out=timed_out and not self.cancelled) from None
        finally:
            self.deadline = None

    @property
    def in_transaction(self) -> bool:
        return bool(self.conn.in_transaction)

    def begin_turn(self) -> None:
        """Open a turn's transaction (deferred: it touches the file on the first statement)."""
        self.conn.execute("BEGIN")
        self.turn_begun = True

    @property
    def turn_wrote(self) -> bool:
        """The open transaction holds the write lock: it changed rows or the schema."""
        return self.turn_begun and self.conn.txn_state() == apsw.SQLITE_TXN_WRITE

    def _stored_epoch(self) -> int:
        rows: list[Any] = self.conn.execute(
            "SELECT epoch FROM _actorkit_state WHERE id = 0"
        ).fetchall()
        return int(rows[0][0]) if rows else 0

    def commit(self, seq: int | None = None, state: bytes | None = None) -> None:
        """Commit the open transaction. A writing turn (``seq`` given) first checks, in the
        transaction, that no newer owner wrote, and records this owner's epoch with ``seq``
        and the state envelope ``state``."""
        try:
            if seq is not None:
                stored_epoch = self._stored_epoch()
                if stored_epoch > self.epoch:
                    raise FencedError(
                        f"the database was written by a newer owner (epoch {stored_epoch})"
                    )
                self.conn.execute(
                    "INSERT INTO _actorkit_state (id, seq, state, epoch) VALUES (0, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, state = excluded.state, "
                    "epoch = excluded.epoch",
                    (seq, state, self.epoch),
                )
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise
        finally:
            self.turn_begun = False

    def rollback(self) -> None:
        self.turn_begun = False
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def stored_state(self) -> tuple[tuple[int, int], bytes | None]:
        """``((epoch, seq), envelope)`` of the state copy in this database (``((0, 0), None)``
        if none)."""
        rows: list[Any] = self.conn.execute(
            "SELECT epoch, seq, state FROM _actorkit_state WHERE id = 0"
        ).fetchall()
        if not rows:
            return (0, 0), None
        epoch, seq, state = rows[0]
        return (int(epoch), int(seq)), None if state is None else bytes(state)
