"""``self.db``: the actor's own SQLite database, and how its writes join the actor's turn.

Example::

    class Todos(Actor):
        state = {"added": 0}
        migrations = ["CREATE TABLE todo (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"]

        @action
        async def add(self, text: str) -> int:
            result = await self.db.execute("INSERT INTO todo (text) VALUES (?)", text)
            self.state["added"] += 1
            return result.last_insert_rowid

        @action
        async def list(self) -> list[dict[str, Any]]:
            return await self.db.fetch_all("SELECT id, text FROM todo ORDER BY id")

Rows are plain ``dict``s (column name → value). Parameters are positional (``?``) or one dict
for named parameters (``:name``). All work runs in a thread pool, never on the event loop.

Atomicity and durability (see ``docs/storage.md``). Invariants:

- The database work of a turn (a non-interleaved action, a lifecycle hook) runs in one
  SQLite transaction, opened lazily on the first database call of the turn and holding the
  database's lock until the turn ends. When the turn succeeds the transaction commits
  *before* the turn's state batch is submitted to the main store; when it raises the
  transaction rolls back together with the state.
- A committing turn that wrote anything also writes the actor's state envelope with the
  owner's epoch and a sequence number into ``_actorkit_state`` in the same transaction, after
  checking there that no newer owner has written (else ``FencedError``). Every state batch
  sent to the main store carries the epoch and a higher sequence number (``stamp``). On wake
  the copy with the greater ``(epoch, seq)`` wins, so after a crash a turn's db writes and
  state changes are both present (the db copy is newer than the main store's) or both
  absent.
- The reply waits for both: the db commit is awaited inside the turn (``synchronous=FULL``)
  and the state batch goes through the usual output gate.
- Work outside the turn (``interleave=True`` actions, ``run()``) takes the database's lock
  per statement (or per ``transaction()`` block) and commits on its own; it is durable when
  it returns but, like the rest of such an action, is not rolled back with state.

A lost or corrupt database is reported, never papered over: see ``db_damage``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import struct
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import apsw

from actorkit._runtime import context
from actorkit._runtime.actor import actor_state
from actorkit._runtime.db_authorizer import from_outside, outside_statements
from actorkit._runtime.db_damage import DAMAGE, DB_KEY, clear_report, missing_error, report
from actorkit._runtime.db_engine import Engine, SyncDb, pool_future, run_in_pool, sql_error
from actorkit._runtime.lifecycle import Lifecycle
from actorkit._runtime.migrations import apply_migrations
from actorkit._runtime.state import STATE_KEY, encode_envelope, encode_state
from actorkit.errors import ActorError, Code, FencedError, StorageError
from actorkit.storage.base import WriteBatch

if TYPE_CHECKING:
    from actorkit._runtime.instance import ActorInstance

__all__ = ["DB_KEY", "SEQ_KEY", "ActorDatabase", "ExecuteResult", "outside_statements"]

T = TypeVar("T")

#: Main-store key holding the epoch and sequence number of the state batch it sits in.
SEQ_KEY = b"state_seq"


_SEQ = struct.Struct(">QQ")
encode_seq = _SEQ.pack  # (epoch, seq) → 16 bytes


def decode_seq(data: bytes) -> tuple[int, int]:
    """``(epoch, seq)``; 8 bytes is the older format, a bare sequence number."""
    if len(data) == _SEQ.size:
        epoch, seq = _SEQ.unpack(data)
        return int(epoch), int(seq)
    return 0, int.from_bytes(data, "big")


# The ActorDatabase whose outside-the-turn transaction() block the current task is in.
_outside_tx: contextvars.ContextVar[ActorDatabase | None] = contextvars.ContextVar(
    "actorkit_outside_tx", default=None
)


_closing: set[asyncio.Task[None]] = set()


@dataclass(frozen=True, slots=True)
class ExecuteResult:
    """What ``db.execute`` and ``db.executemany`` return."""

    rows_affected: int  # rows inserted, updated or deleted
    last_insert_rowid: int  # rowid of the last inserted row (0 if none yet)


class ActorDatabase:
    """The actor's database, ``self.db``. Methods are coroutines; see the module docstring."""

    def __init__(self, inst: ActorInstance) -> None:
        self._inst = inst
        self._engine: Engine | None = None
        # Held by a turn from its first database call until it commits or rolls back, or by
        # one outside-the-turn statement or transaction() block.
        self._lock = asyncio.Lock()
        self._turn_tx: object | None = None  # the turn holding the lock (and its transaction)
        self._committed_turn: object | None = None
        self._broken: ActorError | None = None  # SQLite aborted the turn's transaction
        self._corrupt: ActorError | None = None  # found damaged: no more database work
        self._has_db = False  # the main store knows the database exists (DB_KEY)
        self._savepoints = 0
        self._closed = False
        self._seq = 0  # the highest state sequence number written anywhere
        #: Outcomes of idempotent calls found only in the database at wake (see ``wake``).
        self.recovered: dict[bytes, bytes] = {}
        self.running = False  # a statement is executing in the pool right now

    # -- public API ------------------------------------------------------------------------

    async def execute(self, sql: str, *params: Any) -> ExecuteResult:
        """Run one statement (or several separated by ``;``) for its effect.

        Example: ``await self.db.execute("INSERT INTO t (a, b) VALUES (?, ?)", 1, "x")`` or
        ``await self.db.execute("UPDATE t SET b = :b WHERE a = :a", {"a": 1, "b": "y"})``.
        """

        def run(db: SyncDb) -> ExecuteResult:
            return ExecuteResult(db.execute(sql, *params), db.last_insert_rowid)

        return await self._op(run)

    async def executemany(
        self, sql: str, rows: Iterable[Sequence[Any] | dict[str, Any]]
    ) -> ExecuteResult:
        """Run ``sql`` once per item of ``rows`` (tuples for ``?``, dicts for ``:name``)."""
        rows = list(rows)

        def run(db: SyncDb) -> ExecuteResult:
            return ExecuteResult(db.executemany(sql, rows), db.last_insert_rowid)

        return await self._op(run)

    async def fetch_all(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Every result row, as dicts: ``[{"id": 1, "text": "milk"}, …]``."""
        return await self._op(lambda db: db.fetch_all(sql, *params))

    async def fetch_one(self, sql: str, *params: Any) -> dict[str, Any] | None:
        """The first result row as a dict, or ``None``."""
        return await self._op(lambda db: db.fetch_one(sql, *params))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A block whose database work commits together or not at all.

        Inside an action it is a SAVEPOINT in the turn's transaction: leaving the block by an
        exception undoes the block's writes (the action may catch it and carry on); the
        outer turn still decides whether everything commits. Example::

            async with self.db.transaction():
                await self.db.execute("UPDATE account SET balance = balance - ?", amount)
                await self.db.execute("INSERT INTO ledger (amount) VALUES (?)", amount)
        """
        if self._in_turn() or _outside_tx.get() is self:
            if self._in_turn():
                await self._hold_for_turn()
            self._savepoints += 1
            name = f"actorkit_sp{self._savepoints}"
            await self._exec(lambda db: db.execute(f"SAVEPOINT {name}"))
            try:
                yield
            except BaseException:
                if self._engine is not None and self._engine.in_transaction:
                    await self._exec(lambda db: db.execute(f"ROLLBACK TO {name}; RELEASE {name}"))
                raise
            await self._exec(lambda db: db.execute(f"RELEASE {name}"))
            return
        async with self._lock:
            engine = await self._open()
            token = _outside_tx.set(self)
            try:
                await self._exec(lambda db: db.execute("BEGIN IMMEDIATE"))
                try:
                    yield
                except BaseException:
                    await run_in_pool(engine.rollback)
                    raise
                await self._exec(lambda db: engine.commit())
            finally:
                _outside_tx.reset(token)

    # -- running work --------------------------------------------------------------------------

    def _in_turn(self) -> bool:
        turn = self._inst._active_turn
        return turn is not None and turn in context.call_chain.get()

    async def _op(self, fn: Callable[[SyncDb], T]) -> T:
        outside = from_outside(self)
        if self._in_turn():
            await self._hold_for_turn()
            return await self._exec(fn, outside=outside)
        if _outside_tx.get() is self:
            return await self._exec(fn, outside=outside)
        async with self._lock:
            engine = await self._open()

            def autocommit(db: SyncDb) -> T:
                engine.sync.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(db)
                except BaseException:
                    engine.rollback()
                    raise
                engine.commit()
                return result

            return await self._exec(autocommit, outside=outside)

    async def _exec(self, fn: Callable[[SyncDb], T], *, outside: bool = False) -> T:
        """Run ``fn`` in the pool; a cancelled caller interrupts the statement and waits."""
        if self._corrupt is not None:
            raise self._corrupt
        if self._broken is not None and self._turn_tx is not None:
            raise self._broken
        engine = await self._open()
        in_turn = self._turn_tx is not None and self._in_turn()

        def run() -> T:
            if in_turn and not engine.turn_begun:
                engine.begin_turn()  # lazily, in the same hop as the turn's first statement
            return engine.run(fn, outside=outside)

        self.running = True
        future = pool_future(run)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # Interrupt the statement and wait for it: the next statement on this
            # connection must not start while this one still runs.
            engine.cancelled = True
            while not future.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([future])
            engine.cancelled = False
            if not future.cancelled():
                future.exception()  # retrieved: the cancellation is what propagates
            raise
        except ActorError as exc:
            if exc.code == Code.DATABASE_CORRUPT:
                self._found_corrupt(exc)
            if in_turn and engine.turn_begun and not engine.in_transaction:
                # SQLite rolled the whole transaction back (interrupt, full, I/O error):
                # the turn's earlier writes are gone, so the turn must not commit.
                self._broken = ActorError(
                    "actor",
                    exc.code,
                    f"{exc.message} (the action's database transaction was rolled back)",
                    exc.metadata,
                )
            raise
        except StorageError as exc:
            # The driver could not make a COMMIT durable (a shared driver's VFS): the
            # connection's view of the database can no longer be trusted. Fenced: another
            # node owns the actor (a turn reports that itself); else reload on next use.
            if not isinstance(exc, FencedError):
                self._inst.node.evict(self._inst)
            elif not in_turn:
                self._inst.node.lose(self._inst)
            raise
        finally:
            self.running = False

    async def _open(self) -> Engine:
        if self._closed:
            raise ActorError("actor", Code.ACTOR_STOPPING, "the actor is stopping")
        if self._corrupt is not None:
            raise self._corrupt
        if self._engine is None:
            try:
                engine = await run_in_pool(lambda: self._make_engine(create=not self._has_db))
            except ActorError as exc:
                if exc.code == Code.DATABASE_CORRUPT:
                    self._found_corrupt(exc)
                raise
            if engine is None:
                raise report(self._inst, missing_error(self._inst.id))
            self._engine = engine
            self._remember_db()
        return self._engine

    def _make_engine(self, *, create: bool) -> Engine | None:
        inst = self._inst
        try:
            conn = inst.node.driver.open_actor_db(inst.id, epoch=inst.epoch, create=create)
        except apsw.Error as exc:  # e.g. not a database at all: SQLITE_NOTADB
            raise sql_error(exc) from None
        if conn is None:
            return None
        options = inst.definition.options
        timeout = options.db_statement_timeout or options.action_timeout
        try:
            return Engine(
                conn,
                epoch=inst.epoch,
                max_bytes=options.db_max_size,
                statement_timeout=timeout,
            )
        except BaseException:
            inst.node.driver.close_actor_db(inst.id, conn)
            raise

    # -- damage ------------------------------------------------------------------------

    def _found_corrupt(self, err: ActorError) -> None:
        """No more database work in this activation; the next one checks the file again."""
        if self._corrupt is None:
            self._corrupt = err
            report(self._inst, err)
            if self._inst.lifecycle is not Lifecycle.LOADING:
                self._inst.node.evict(self._inst)

    def _remember_db(self) -> None:
        """Record in the main store that the actor has a database (once)."""
        if self._has_db:
            return
        self._has_db = True
        inst = self._inst
        if not inst.record.initialized:
            # Being created: with the batch that marks it created (a failed create deletes
            # the actor, and a write of its own could land after that).
            inst.stage(DB_KEY, b"1")
            return
        batch = WriteBatch(inst.id, inst.epoch)
        batch.puts[DB_KEY] = b"1"
        inst._last_write = inst._submit_nowait(batch)

    # -- the turn ------------------------------------------------------------------------------

    async def _hold_for_turn(self) -> None:
        """Take the database for the current turn (its transaction opens on first use)."""
        turn = self._inst._active_turn
        if self._turn_tx is turn:
            return
        await self._lock.acquire()
        self._turn_tx = turn
        self._broken = None

    @property
    def turn_open(self) -> bool:
        """Whether a turn's transaction may be open (cheap check before ``commit_turn``)."""
        return self._turn_tx is not None

    async def commit_turn(self, outcomes: dict[bytes, bytes] | None = None) -> None:
        """End of a successful turn: commit its transaction with a copy of the state and the
        ``outcomes`` of the turn's idempotent calls (storage key → record)."""
        if self._turn_tx is None or not self._in_turn():
            return
        if self._broken is not None:
            raise self._broken
        engine = self._engine
        if engine is None or not engine.turn_begun:
            self._end_turn()
            return
        if not engine.turn_wrote:
            # Read-only: COMMIT only releases SQLite's read lock (no I/O), so do it here
            # rather than pay a thread hop.
            engine.commit()
            self._end_turn()
            return
        state: bytes | None = None
        definition = self._inst.definition
        if definition.has_state:
            encoded = encode_state(actor_state(self._inst.actor))
            state = encode_envelope(encoded, definition.state_version)
        self._seq += 1
        seq = self._seq
        try:
            keep = self._inst.definition.options.idempotency_max_keys
            await self._exec(lambda db: engine.commit(seq, state, outcomes, keep))
        except BaseException:
            self._end_turn()
            raise
        self._committed_turn = self._turn_tx
        self._end_turn()

    async def rollback_turn(self) -> None:
        """The turn failed: undo its database work (state is restored by the caller)."""
        turn = self._inst._active_turn
        if self._turn_tx is not None and self._turn_tx is turn:
            engine = self._engine
            try:
                if engine is not None:
                    await run_in_pool(engine.rollback)
            finally:
                self._end_turn()
        if turn is not None and self._committed_turn is turn:
            # Part of the turn's db work is durable (committed by save_state(), or before a
            # later step such as on_state_change failed): memory no longer matches storage,
            # so reload from storage on the next call.
            self._inst.node.evict(self._inst)

    def _end_turn(self) -> None:
        self._turn_tx = None
        self._broken = None
        self._savepoints = 0
        self._lock.release()

    # -- wake, sleep, stamping -------------------------------------------------------------

    def stamp(self, batch: WriteBatch) -> None:
        """Give a state batch for the main store the next sequence number."""
        if STATE_KEY in batch.puts:
            self._seq += 1
            batch.puts[SEQ_KEY] = encode_seq(self._inst.epoch, self._seq)

    async def wake(self, data: dict[bytes, bytes]) -> dict[bytes, bytes]:
        """Open the database if it exists (or the class has migrations), apply migrations,
        and return ``data`` with the newer of the two state copies."""
        inst = self._inst
        migrations = inst.definition.cls.migrations
        main_seq = decode_seq(data.get(SEQ_KEY, b""))
        had_db = DB_KEY in data

        outcomes: dict[bytes, bytes] = {}

        def open_and_migrate() -> tuple[Engine | None, tuple[int, int], bytes | None]:
            try:
                engine = self._make_engine(create=bool(migrations) and not had_db)
            except ActorError as exc:
                if not migrations and not had_db and exc.code == Code.DATABASE_NOT_SUPPORTED:
                    return None, (0, 0), None
                raise
            if engine is None:
                return None, (0, 0), None
            try:
                apply_migrations(engine, inst.definition.name, migrations)
                seq, stored = engine.stored_state()
                if seq > main_seq:
                    outcomes.update(engine.stored_outcomes(main_seq))
            except BaseException:
                inst.node.driver.close_actor_db(inst.id, engine.conn)
                raise
            return engine, seq, stored

        try:
            self._engine, db_seq, stored = await run_in_pool(open_and_migrate)
        except ActorError as exc:
            if exc.code in DAMAGE:
                report(inst, exc)
            raise
        if self._engine is None and had_db:
            raise report(inst, missing_error(inst.id))
        clear_report(inst.id, checked=self._engine is not None and self._engine.checked)
        self._has_db = had_db
        if self._engine is not None:
            self._remember_db()  # a database from before DB_KEY existed, or just created
        if db_seq > main_seq and stored is not None:
            data = {**data, STATE_KEY: stored}
        if outcomes:  # turns whose database writes are durable but whose batch was lost
            data = {**data, **outcomes}
            self.recovered = outcomes  # for the main store, with the wake's batch
        self._seq = max(main_seq[1], db_seq[1])
        return data

    async def close(self) -> None:
        """Close the connection; an open transaction of this actor's last turn rolls back."""
        if self._turn_tx is None:
            await self._lock.acquire()
        await self._close_holding_lock()

    async def _close_holding_lock(self) -> None:
        try:
            engine, self._engine = self._engine, None
            self._closed = True
            if engine is not None:
                driver, actor_id = self._inst.node.driver, self._inst.id

                def close() -> None:
                    try:
                        engine.rollback()
                    finally:
                        driver.close_actor_db(actor_id, engine.conn)
                        engine.closed()

                await run_in_pool(close)
        finally:
            self._turn_tx = None
            self._lock.release()

    def close_soon(self) -> None:
        """Close once the current holder of the database (if any) is done with it."""
        if self._engine is not None and not self._closed:

            async def close_when_free() -> None:
                # Always wait for the lock: a turn may hold it (evicted from inside a turn)
                # and still roll back on this connection.
                await self._lock.acquire()
                await self._close_holding_lock()

            task = asyncio.get_running_loop().create_task(close_when_free())
            _closing.add(task)
            task.add_done_callback(_closing.discard)
