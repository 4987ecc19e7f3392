"""The synchronous side of an actor's database: one APSW connection, run in a worker thread.

Everything here runs in a thread of the database pool (``run_in_pool``), never on the event
loop. ``Engine`` owns one connection and applies the limits: the database size
(``PRAGMA max_page_count``; for a file, the file and its WAL together, see ``_over_budget``),
a per-statement deadline checked by a progress handler, and the SQLite authorizers of
``db_authorizer``. Opening checks the file (``PRAGMA quick_check`` up to
``QUICK_CHECK_MAX_BYTES``). SQLite errors become ``ActorError``s with stable codes
(``sql_error``, ``database_too_large``, ``storage_full``, ``database_corrupt``,
``statement_timeout``, ``sql_not_allowed``).

Internal tables live next to the user's and start with ``_actorkit_``:

- ``_actorkit_migrations(idx, applied_at)``: which of the class's ``migrations`` ran;
- ``_actorkit_state(id = 0, seq, state, epoch)``: the epoch of the last owner that
  committed, and a copy of the actor's state envelope, written in the same SQLite
  transaction as a turn's database writes (see ``actorkit._runtime.db``). A commit from an
  owner older than the stored epoch is refused (``FencedError``) in that transaction.
- ``_actorkit_outcomes(key, record, epoch, seq)``: outcomes of idempotent calls whose turns
  wrote to the database, in the same transaction (the main store gets them too, in the
  turn's batch; on wake those newer than the main store's copy are taken from here).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import apsw

from actorkit._runtime.db_authorizer import Guard
from actorkit._runtime.db_files import DbFiles
from actorkit._runtime.db_sync import OutsideSyncDb, SyncDb
from actorkit.errors import ActorError, Code, FencedError

__all__ = [
    "DB_POOL_SIZE",
    "QUICK_CHECK_MAX_BYTES",
    "Engine",
    "SyncDb",
    "corrupt_error",
    "pool_future",
    "run_in_pool",
    "sql_error",
]

T = TypeVar("T")

#: Threads shared by all actor databases of a process. A slow query holds one thread; the
#: other actors' databases keep the rest.
DB_POOL_SIZE = 16

#: Databases up to this size are checked with ``PRAGMA quick_check`` when opened (about
#: 0.5 ms per MiB) unless this process verified the file and it is unchanged since (see
#: ``db_files``); larger ones only when SQLite meets the damage (``SQLITE_CORRUPT``).
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024


_INTERNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS _actorkit_migrations (idx INTEGER PRIMARY KEY, applied_at REAL);
CREATE TABLE IF NOT EXISTS _actorkit_state (
    id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL, state BLOB,
    epoch INTEGER NOT NULL DEFAULT 0
);
"""

#: The outcomes of idempotent calls made by turns that wrote to the database (created on
#: first use): see ``Engine.commit``.
_OUTCOMES_SCHEMA = """
CREATE TABLE IF NOT EXISTS _actorkit_outcomes (
    key BLOB PRIMARY KEY, record BLOB NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL
)
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


def corrupt_error(detail: str) -> ActorError:
    """``database_corrupt``: the actor's database fails SQLite's checks."""
    return ActorError(
        "actor",
        Code.DATABASE_CORRUPT,
        f"the actor's database is corrupt ({detail}); it is left as it is for an operator "
        "to restore (see docs/sql.md)",
        {"detail": detail},
    )


def sql_error(
    exc: apsw.Error,
    *,
    timed_out: bool = False,
    disk_full: bool = False,
    over_budget: bool = False,
    denied: str | None = None,
) -> ActorError:
    """The ``ActorError`` a caller sees for a SQLite error."""
    name = apsw.mapping_result_codes.get(getattr(exc, "result", -1), "SQLITE_ERROR")
    if isinstance(exc, apsw.FullError) and disk_full:
        return ActorError(
            "actor",
            Code.STORAGE_FULL,
            "the disk holding the actor's database is full; the write was rolled back",
            {"sqlite_code": name},
        )
    if isinstance(exc, apsw.FullError) or (isinstance(exc, apsw.InterruptError) and over_budget):
        return ActorError(
            "actor",
            Code.DATABASE_TOO_LARGE,
            "the actor's database (with its write-ahead log) reached its size limit "
            "(ActorOptions.db_max_size)",
            {"sqlite_code": name},
        )
    if isinstance(exc, (apsw.CorruptError, apsw.NotADBError)):
        return corrupt_error(_message(exc))
    if isinstance(exc, apsw.AuthError) or denied is not None:
        reason = denied or "refused by the runtime's authorizer"
        return ActorError(
            "actor", Code.SQL_NOT_ALLOWED, f"SQL not allowed: {reason}", {"sqlite_code": name}
        )
    if isinstance(exc, apsw.InterruptError) and timed_out:
        return ActorError(
            "actor",
            Code.STATEMENT_TIMEOUT,
            "a SQL statement ran longer than its time limit (ActorOptions.db_statement_timeout)",
            {"sqlite_code": name},
        )
    return ActorError("actor", Code.SQL_ERROR, f"SQL error: {_message(exc)}", {"sqlite_code": name})


def _message(exc: apsw.Error) -> str:
    message = str(exc)
    prefix = f"{type(exc).__name__}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


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
        self.max_bytes = max_bytes
        self.deadline: float | None = None  # monotonic time after which statements abort
        self.cancelled = False  # set from the event loop to abort the running statement
        self.turn_begun = False  # the turn's transaction is open (see ``begin_turn``)
        self.over_budget = False  # the progress handler stopped a statement: file + WAL
        self.committing = False  # SQLITE_FULL now can only be the disk (no page is added)
        self.checked = False  # PRAGMA quick_check passed when the database was opened
        self.guard = Guard()
        self.sync = SyncDb(conn)
        self.outside = OutsideSyncDb(conn, self.guard)
        self.files: DbFiles | None = None  # the database and its WAL, if on disk
        self.damaged = False  # SQLite reported corruption while in use
        try:
            self._setup(conn, max_bytes)
            stored_epoch = self._stored_epoch()
        except apsw.Error as exc:
            raise sql_error(exc) from None
        if stored_epoch > epoch:
            raise FencedError(f"the database was written by a newer owner (epoch {stored_epoch})")
        conn.authorizer = self.guard.actor_authorizer

    def _setup(self, conn: apsw.Connection, max_bytes: int) -> None:
        conn.authorizer = None  # a kept-open connection (memory://) has an earlier Engine's
        if conn.filename and os.path.isfile(conn.filename):
            self.files = DbFiles(conn.filename, conn.filename_wal, max_bytes)
        page_size: int = conn.execute("PRAGMA page_size").fetchall()[0][0]  # type: ignore[assignment]
        pages: int = conn.execute("PRAGMA page_count").fetchall()[0][0]  # type: ignore[assignment]
        # In memory nothing but SQLite ever touched it; a verified file is as it was left.
        trusted = not conn.filename or (self.files is not None and self.files.verified_before())
        if trusted:
            self.checked = True
        elif pages * page_size <= QUICK_CHECK_MAX_BYTES:
            found = conn.execute("PRAGMA quick_check(1)").fetchall()[0][0]
            if found != "ok":
                raise corrupt_error(str(found))
            self.checked = True
        max_pages = max(16, math.ceil(max_bytes / page_size))
        conn.execute(f"PRAGMA max_page_count = {max_pages}").fetchall()
        # Temporary tables live in a file of their own (outside the data directory).
        conn.execute(f"PRAGMA temp.max_page_count = {max_pages}").fetchall()
        if self.files is not None:
            # A checkpoint that empties the WAL also shrinks the file (counted in the limit).
            conn.execute(f"PRAGMA journal_size_limit = {min(max_bytes // 4, 4 << 20)}").fetchall()
        conn.set_progress_handler(self._progress, 1000)
        columns = [row[1] for row in conn.execute("PRAGMA table_info(_actorkit_state)")]
        if not columns:
            conn.execute(_INTERNAL_SCHEMA)
        elif "epoch" not in columns:  # written by a release without fencing in the database
            conn.execute("ALTER TABLE _actorkit_state ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0")

    def _disk_full(self) -> bool:
        if self.committing:
            return True  # COMMIT allocates no page: SQLITE_FULL came from the file system
        return self.files is not None and self.files.disk_full()

    def closed(self) -> None:
        """Call once the driver closed the connection (see ``DbFiles.remember``)."""
        if self.files is not None:
            self.files.remember(self.checked and not self.damaged)

    def _progress(self) -> bool:
        # True aborts the running statement with SQLITE_INTERRUPT.
        if self.cancelled:
            return True
        if self.deadline is not None and time.monotonic() > self.deadline:
            return True
        # A writing statement's pages spill into the WAL: stop it once file + WAL exceed
        # the limit (what a COMMIT writes is checked after it, by ``_trim_wal``).
        if (
            self.files is not None
            and self.conn.txn_state() == apsw.SQLITE_TXN_WRITE
            and self.files.over_budget()
        ):
            self.over_budget = True
            return True
        return False

    def run(self, fn: Callable[[SyncDb], T], *, outside: bool = False) -> T:
        """Run ``fn`` with the statement deadline armed; map SQLite errors. ``outside``:
        the statements come from outside the actor (see ``db_authorizer``)."""
        self.deadline = (
            None if self.statement_timeout is None else time.monotonic() + self.statement_timeout
        )
        self.over_budget = False
        self.committing = False
        self.guard.denied = None
        try:
            return fn(self.outside if outside else self.sync)
        except apsw.Error as exc:
            timed_out = self.deadline is not None and time.monotonic() > self.deadline
            err = sql_error(
                exc,
                timed_out=timed_out and not self.cancelled,
                disk_full=isinstance(exc, apsw.FullError) and self._disk_full(),
                over_budget=self.over_budget and not self.cancelled,
                denied=self.guard.denied,
            )
            self.damaged = self.damaged or err.code == Code.DATABASE_CORRUPT
            raise err from None
        finally:
            self.deadline = None
            self.committing = False

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

    def commit(
        self,
        seq: int | None = None,
        state: bytes | None = None,
        outcomes: dict[bytes, bytes] | None = None,
        keep: int = 1000,
    ) -> None:
        """Commit the open transaction. A writing turn (``seq`` given) first checks, in the
        transaction, that no newer owner wrote, and records this owner's epoch with ``seq``
        and the state envelope ``state`` — and the ``outcomes`` of its idempotent calls
        (storage key → record; the newest ``keep`` are kept), so that a crash before the
        main store has them cannot separate the turn's database writes from its outcomes."""
        try:
            if seq is not None and outcomes:
                self._record_outcomes(seq, outcomes, keep)
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
            wrote = self.conn.txn_state() == apsw.SQLITE_TXN_WRITE
            self.committing = True
            self.conn.execute("COMMIT")
            self.committing = False
        except BaseException:
            self.rollback()
            raise
        finally:
            self.turn_begun = False
        if wrote:  # (a read-only turn commits on the event loop: no file I/O there)
            self._trim_wal()

    def _record_outcomes(self, seq: int, outcomes: dict[bytes, bytes], keep: int) -> None:
        self.conn.execute(_OUTCOMES_SCHEMA)
        self.conn.executemany(
            "INSERT INTO _actorkit_outcomes (key, record, epoch, seq) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET record = excluded.record, epoch = excluded.epoch, "
            "seq = excluded.seq",
            [(key, record, self.epoch, seq) for key, record in outcomes.items()],
        )
        self.conn.execute(
            "DELETE FROM _actorkit_outcomes WHERE seq < (SELECT seq FROM _actorkit_outcomes "
            "ORDER BY seq DESC LIMIT 1 OFFSET ?)",
            (keep,),
        )

    def stored_outcomes(self, after: tuple[int, int]) -> dict[bytes, bytes]:
        """The idempotent calls' outcomes that turns after ``after`` (epoch, seq) recorded."""
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_actorkit_outcomes'"
        ).fetchall()
        if not exists:
            return {}
        epoch, seq = after
        rows: list[Any] = self.conn.execute(
            "SELECT key, record FROM _actorkit_outcomes WHERE epoch > ? OR (epoch = ? AND seq > ?)",
            (epoch, epoch, seq),
        ).fetchall()
        return {bytes(key): bytes(record) for key, record in rows}

    def _trim_wal(self) -> None:
        """After a commit: if the file and its WAL exceed the limit, move the WAL into the
        file and truncate it (the database itself is within ``max_page_count``)."""
        if self.files is not None and self.files.over_budget():
            with contextlib.suppress(apsw.Error):  # the commit is durable either way
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

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
