"""``copy_store``: copy everything one store holds into another, through the ``Driver``
interface only — so it works for every pair of drivers (sqlite, postgresql, memory).

Per actor: read the record and its data from the source (``load``: state, schedules,
connection records, ``state_seq``); create the record in the target with the same id, name,
key, creation time, region and create input; take it (``activate``) to get an epoch; copy its
database (``open_actor_db`` on both sides, see ``dbfile``); write its data, alarm and
``initialized`` in one ``WriteBatch``; release it. Batches of many actors share a ``commit``
(group commit), and ``concurrency`` actors are in flight at once.

Epochs are per store: the target's start again at 1. The runtime's state copies carry the
epoch of their writer (``state_seq`` in the main store, ``_actorkit_state`` in the actor's
database), and a wake compares them; so the copy stores epoch 0 in both and keeps their
sequence numbers (``dbfile.normalise_state_copy``). Without that, an actor whose source
epoch was 57 could not write its database on the target until its epoch there passed 57.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from actorkit._runtime.committer import Committer
from actorkit._runtime.db import SEQ_KEY, decode_seq, encode_seq
from actorkit.cli.storage.dbfile import copy_database, database_size, normalise_state_copy
from actorkit.cli.storage.progress import Progress
from actorkit.cli.storage.stores import all_alarms, iter_actors, stores_databases
from actorkit.storage import Driver, WriteBatch
from actorkit.storage.base import Activation, ActorRecord

if TYPE_CHECKING:
    import apsw

__all__ = ["CopyError", "CopyOptions", "CopyReport", "copy_store", "describe"]

T = TypeVar("T")


class CopyError(Exception):
    """The copy stopped; the message is one line for the CLI. ``partial``: it stopped after
    writing had begun, having finished ``copied`` actors."""

    def __init__(self, message: str, copied: int = 0, *, partial: bool = False) -> None:
        super().__init__(message)
        self.copied = copied
        self.partial = partial


@dataclass(slots=True)
class CopyOptions:
    overwrite: bool = False  # replace target actors that have a source actor's name and key
    skip_databases: bool = False  # the target cannot store actor databases: leave them out
    concurrency: int = 64  # actors in flight at once
    db_threads: int = 16  # threads copying actor databases


@dataclass(slots=True)
class CopyReport:
    actors: int = 0
    replaced: int = 0  # existing target actors replaced (--overwrite)
    uninitialized: int = 0  # records still holding their create input
    keys: int = 0
    key_bytes: int = 0
    alarms: int = 0
    databases: int = 0
    database_bytes: int = 0
    skipped_databases: int = 0
    methods: dict[str, int] = field(default_factory=dict)  # database copy method → count
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.actors / self.seconds if self.seconds > 0 else 0.0


def describe(record: ActorRecord) -> str:
    key = "/".join(record.key) or "(no key)"
    return f"{record.name} {key} ({record.id})"


class _Copier:
    def __init__(self, source: Driver, target: Driver, options: CopyOptions) -> None:
        self.source, self.target, self.options = source, target, options
        self.owner = f"actorkit-copy-{uuid.uuid4().hex[:8]}"
        self.report = CopyReport()
        self.writer = Committer(target)  # group commit, as the runtime does it
        self.pool = ThreadPoolExecutor(options.db_threads, thread_name_prefix="actorkit-copy")
        self.alarms: dict[str, float] = {}
        self.copy_dbs = False  # both sides store databases
        self.read_dbs = False  # the source stores databases

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def _open_source_db(self, record: ActorRecord) -> apsw.Connection | None:
        return self.source.open_actor_db(record.id, epoch=record.epoch, create=False)

    def _has_db(self, record: ActorRecord) -> bool:
        conn = self._open_source_db(record)
        if conn is None:
            return False
        self.source.close_actor_db(record.id, conn)
        return True

    def _copy_db(
        self,
        record: ActorRecord,
        src: apsw.Connection,
        epoch: int,
        main_seq: tuple[int, int] | None,
    ) -> tuple[str, int, int | None]:
        """Copy the actor's database from ``src``, and close it: (method, bytes, new main
        seq)."""
        try:
            dst = self.target.open_actor_db(record.id, epoch=epoch, create=True)
            assert dst is not None, "open_actor_db(create=True) returned None"
            try:
                method = copy_database(src, dst)
                new_seq = normalise_state_copy(dst, main_seq)
                return method, database_size(dst), new_seq
            finally:
                self.target.close_actor_db(record.id, dst)
        finally:
            self.source.close_actor_db(record.id, src)

    async def _create(self, record: ActorRecord) -> int:
        """Create the record in the target; returns its epoch there (0: never activated)."""
        fresh = ActorRecord(
            id=record.id,
            name=record.name,
            key=record.key,
            created_at=record.created_at,
            input=record.input,
            region=record.region,
        )
        stored, created = await self.target.create_actor(fresh)
        if created:
            return stored.epoch
        if not self.options.overwrite:
            raise CopyError(
                f"the target already has actor {describe(stored)} with the name and key of "
                f"{record.id}: pass --overwrite to replace it"
            )
        taken = await self.target.activate(stored.id, self.owner)
        if isinstance(taken, Activation):
            await self.target.delete_actor(stored.id, taken.epoch)
        elif taken is not None:
            raise CopyError(f"cannot replace {describe(stored)}: node {taken.owner} has it awake")
        stored, created = await self.target.create_actor(fresh)
        if not created:
            raise CopyError(f"actor {describe(stored)} was created again while being replaced")
        self.report.replaced += 1
        return stored.epoch

    async def _activate(self, record: ActorRecord) -> int:
        taken = await self.target.activate(record.id, self.owner)
        if not isinstance(taken, Activation):
            raise CopyError(f"actor {describe(record)} was taken by another node during the copy")
        return taken.epoch

    async def copy_one(self, record: ActorRecord) -> None:
        data = await self.source.load(record.id)
        # A new record's epoch (0) is what its first write must name: no activation needed,
        # and any activation by someone else after the create makes our write fail (fenced)
        # rather than overwrite theirs. An actor with a database is activated, so its
        # database is written by an owner, as the runtime always does.
        epoch = await self._create(record)
        owned = False
        main_seq = decode_seq(data[SEQ_KEY]) if SEQ_KEY in data else None
        src = await self._in_thread(self._open_source_db, record) if self.read_dbs else None
        if src is not None and not self.copy_dbs:
            await self._in_thread(self.source.close_actor_db, record.id, src)
            self.report.skipped_databases += 1
        elif src is not None:
            try:
                epoch, owned = await self._activate(record), True
            except BaseException:
                await self._in_thread(self.source.close_actor_db, record.id, src)
                raise
            method, size, new_seq = await self._in_thread(
                self._copy_db, record, src, epoch, main_seq
            )
            self.report.databases += 1
            self.report.database_bytes += size
            self.report.methods[method] = self.report.methods.get(method, 0) + 1
            if new_seq is not None:
                main_seq = (0, new_seq)
        puts = dict(data)
        if main_seq is not None:
            puts[SEQ_KEY] = encode_seq(0, main_seq[1])
        alarm = self.alarms.get(record.id)
        await self.writer.submit(
            WriteBatch(
                record.id,
                epoch,
                puts=puts,
                alarm=alarm,
                set_alarm=alarm is not None,
                mark_initialized=record.initialized,
            )
        )
        if owned:
            await self.target.release(record.id, self.owner, epoch)
        r = self.report
        r.actors += 1
        r.keys += len(data)
        r.key_bytes += sum(len(k) + len(v) for k, v in data.items())
        r.alarms += alarm is not None
        r.uninitialized += not record.initialized

    async def check_distinct(self) -> None:
        """Refuse to overwrite the source itself (one PostgreSQL database under two URLs):
        replacing an actor would delete it from the source before it is copied. Checked
        with a probe record created in the target and looked for in the source."""
        probe = ActorRecord(uuid.uuid4().hex, "actorkit-copy-probe", (self.owner,), time.time())
        await self.target.create_actor(probe)
        try:
            same = await self.source.get_actor(probe.id) is not None
        finally:
            taken = await self.target.activate(probe.id, self.owner)
            if isinstance(taken, Activation):
                await self.target.delete_actor(probe.id, taken.epoch)
        if same:
            raise CopyError("--from and --to are the same store")

    async def prescan(self, progress: Progress | None) -> None:
        """The target stores no databases and --skip-databases was not given: stop before
        writing anything if a source actor has one."""
        async for record in iter_actors(self.source):
            if await self._in_thread(self._has_db, record):
                raise CopyError(
                    f"actor {describe(record)} has a database, but the target does not store "
                    "actor databases: pass --skip-databases to copy everything else"
                )
            if progress is not None:
                progress.advance()

    async def run(self, progress: Progress | None) -> None:
        sem = asyncio.Semaphore(self.options.concurrency)

        async def one(record: ActorRecord) -> None:
            try:
                await self.copy_one(record)
            except CopyError:
                raise
            except Exception as exc:
                raise CopyError(f"copying actor {describe(record)}: {exc}") from exc
            finally:
                sem.release()
            if progress is not None:
                progress.advance()

        async with asyncio.TaskGroup() as group:
            async for record in iter_actors(self.source):
                await sem.acquire()
                group.create_task(one(record))


async def copy_store(
    source: Driver,
    target: Driver,
    options: CopyOptions | None = None,
    *,
    total: int | None = None,
    progress_interval: float = 0.0,
) -> CopyReport:
    """Copy every actor of ``source`` into ``target`` (both open). Raises ``CopyError``.

    A target that already has actors is refused unless ``options.overwrite``; then each
    target actor with a source actor's name and key is deleted (with its data, alarm and
    database) and replaced by the source's, and the target's other actors are kept.
    ``total`` (the source's actor count) sizes the progress display.
    """
    options = options or CopyOptions()
    copier = _Copier(source, target, options)
    started = time.monotonic()
    if not options.overwrite:
        existing = await target.list_actors(limit=1)
        if existing:
            raise CopyError(
                f"the target already has actors (such as {describe(existing[0])}): copy into an "
                "empty store, or pass --overwrite to replace the target's actors that the "
                "source also has"
            )
    else:
        await copier.check_distinct()
    copier.read_dbs = await stores_databases(source)
    copier.copy_dbs = copier.read_dbs and await stores_databases(target)
    total = total or 0
    try:
        if copier.read_dbs and not copier.copy_dbs and not options.skip_databases:
            scan = Progress("checking databases", total, interval=progress_interval)
            try:
                await copier.prescan(scan)
            finally:
                scan.close()
        copier.alarms = await all_alarms(source)
        progress = Progress("copying", total, interval=progress_interval)
        try:
            await copier.run(progress)
        except ExceptionGroup as group:
            raise CopyError(_first_error(group), copier.report.actors, partial=True) from group
        finally:
            progress.close()
    finally:
        copier.pool.shutdown(wait=True)
    copier.report.seconds = time.monotonic() - started
    return copier.report


def _first_error(group: BaseExceptionGroup[BaseException]) -> str:
    """The message of the first ``CopyError`` in ``group`` (else of its first exception)."""
    errors: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            errors.append(exc)
    first = next((e for e in errors if isinstance(e, CopyError)), errors[0])
    return str(first) if isinstance(first, CopyError) else f"{type(first).__name__}: {first}"
