"""Actor databases in PostgreSQL: an APSW VFS that keeps each actor's SQLite pages in the
tables ``actorkit.db_meta`` and ``actorkit.db_pages`` (see ``docs/storage.md``).

How one actor's database lives (``PageFile``):

- **Open** reads every page in one statement into memory. That copy is the cache SQLite
  reads from; it stays valid while this node owns the actor — single activation means no
  one else writes the pages, and the epoch check below rejects us once someone else may.
- **Writes** go to a dirty overlay in memory. SQLite runs with ``journal_mode=MEMORY`` and
  ``locking_mode=EXCLUSIVE``: no journal file, no file locks.
- **xSync**, which SQLite calls once per COMMIT (``synchronous=FULL``), sends the dirty
  pages and the new file size as ONE PostgreSQL transaction (``actorkit.db_commit``) that
  first checks, under the actor row's lock, that the actor's epoch is still the one this
  connection was opened at. Rejected: ``FencedError``; any other failure:
  ``StorageError``. Either way SQLite gets an I/O error and rolls the transaction back.
- PostgreSQL only ever holds what a COMMIT wrote in full, so a crash at any point leaves
  the last committed database. After a failed xSync the file refuses all further work
  (its outcome may be unknown — a lost acknowledgement): the runtime drops the connection
  and the next open reads the truth back from PostgreSQL.
- Except when PostgreSQL answered that its disk is full (SQLSTATE 53100): then nothing was
  written, for certain. SQLite gets SQLITE_FULL (the runtime's ``storage_full``), rolls
  its transaction back, and the file carries on from its committed pages.

APSW raises the Python exception a VFS method raised from the statement that caused it, so
the runtime sees ``FencedError`` / ``StorageError`` from ``COMMIT``.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from typing import Any

import apsw
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from actorkit.errors import FencedError, StorageError, StorageUnavailable

__all__ = ["DEFAULT_DB_PAGE_SIZE", "VFS_NAME", "VFS_POOL_SIZE", "ActorDbPages"]

#: The name the VFS is registered under, once per process.
VFS_NAME = "actorkit-pg"
#: SQLite page size of new actor databases: one row of ``db_pages`` per page. Larger pages
#: mean fewer rows to fetch on wake, but more bytes written per small commit.
DEFAULT_DB_PAGE_SIZE = 16384
#: Blocking connections for VFS traffic per driver (opens and commits, not held between).
VFS_POOL_SIZE = 4

_LOAD_SQL = (
    "SELECT m.page_size, m.size_bytes, p.page_no, p.data FROM actorkit.db_meta m "
    "LEFT JOIN actorkit.db_pages p ON p.actor_id = m.actor_id AND "
    "p.page_no::bigint * m.page_size < m.size_bytes WHERE m.actor_id = %s"
)
_COMMIT_SQL = "SELECT actorkit.db_commit(%s, %s, %s, %s, %b::integer[], %b::bytea[])"
_DELETE_SQL = (
    "WITH m AS (DELETE FROM actorkit.db_meta WHERE actor_id = %(id)s) "
    "DELETE FROM actorkit.db_pages WHERE actor_id = %(id)s"
)


_DISK_FULL = "53100"  # SQLSTATE disk_full


class _DiskFull(StorageError):
    """PostgreSQL refused a write: its disk is full. Nothing of it was applied."""


def _configure(conn: psycopg.Connection[Any]) -> None:
    # As the async pool: fences need READ COMMITTED, commits need synchronous_commit on.
    conn.execute(
        "SELECT set_config('default_transaction_isolation', 'read committed', false), "
        "CASE WHEN current_setting('synchronous_commit') = 'off' "
        "THEN set_config('synchronous_commit', 'on', false) END"
    )


class ActorDbPages:
    """The pages of every actor database on one PostgreSQL database: a small blocking pool
    (the VFS runs in the runtime's database threads) and ``open_connection``."""

    def __init__(self, url: str, where: str, *, size: int = VFS_POOL_SIZE, timeout: float = 10):
        self.where = where
        self.pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            url,
            kwargs={"autocommit": True, "application_name": "actorkit-vfs"},
            min_size=1,
            max_size=size,
            open=False,
            configure=_configure,
            timeout=timeout,
            name="actorkit-vfs",
        )

    def open(self) -> None:
        self.pool.open(wait=True, timeout=self.pool.timeout)

    def close(self) -> None:
        self.pool.close()

    def _run(self, query: str, params: Any, *, fetch: bool) -> list[tuple[Any, ...]]:
        broken = False
        try:
            with self.pool.connection() as conn:
                try:
                    cur = conn.execute(query, params, prepare=True, binary=True)
                    return cur.fetchall() if fetch else []
                except psycopg.OperationalError:
                    broken = conn.broken
                    raise
        except psycopg.Error as exc:
            if broken:  # the server restarted? Replace the pool's other dead connections.
                with contextlib.suppress(psycopg.Error):
                    self.pool.check()
            # Never tried again: a COMMIT whose answer was lost may have been applied.
            away = broken or isinstance(exc, PoolTimeout) or exc.sqlstate is None
            kind = StorageUnavailable if away else StorageError
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if exc.sqlstate == _DISK_FULL:
                kind = _DiskFull
            raise kind(f"PostgreSQL at {self.where}: actor database: {first}") from exc

    def load(self, actor_id: str) -> tuple[int, int, dict[int, bytes]] | None:
        """``(page_size, size_bytes, pages)`` of the actor's database; ``None`` if none."""
        rows = self._run(_LOAD_SQL, (actor_id,), fetch=True)
        if not rows:
            return None
        pages = {row[2]: row[3] for row in rows if row[2] is not None}
        return rows[0][0], rows[0][1], pages

    def commit(
        self, actor_id: str, epoch: int, page_size: int, size: int, pages: dict[int, bytes]
    ) -> None:
        """Write ``pages`` and the new size in one transaction, if ``epoch`` is current."""
        nos = sorted(pages)
        params = (actor_id, epoch, page_size, size, nos, [pages[n] for n in nos])
        row = self._run(_COMMIT_SQL, params, fetch=True)
        if not row[0][0]:
            raise FencedError(f"actor {actor_id} is owned elsewhere (database commit refused)")

    def delete(self, actor_id: str) -> None:
        self._run(_DELETE_SQL, {"id": actor_id}, fetch=False)

    def open_connection(self, actor_id: str, *, epoch: int, create: bool) -> apsw.Connection | None:
        """The actor's database as an APSW connection through the VFS (``None`` if it does
        not exist and not ``create``). Commits are refused unless ``epoch`` is current."""
        loaded = self.load(actor_id)
        if loaded is None and not create:
            return None
        page_size, size, pages = loaded or (DEFAULT_DB_PAGE_SIZE, 0, {})
        name = f"{uuid.uuid4().hex}/{actor_id}"
        with _registry_lock:
            _opening[name] = PageFile(self, actor_id, epoch, page_size, size, pages)
        try:
            conn = apsw.Connection(name, vfs=_vfs_name())
        finally:
            with _registry_lock:
                _opening.pop(name, None)
        try:
            if loaded is None:
                conn.execute(f"PRAGMA page_size = {DEFAULT_DB_PAGE_SIZE}").fetchall()
            conn.execute("PRAGMA locking_mode = EXCLUSIVE").fetchall()
            conn.execute("PRAGMA journal_mode = MEMORY").fetchall()
            conn.execute("PRAGMA synchronous = FULL").fetchall()  # xSync on every COMMIT
        except BaseException:
            conn.close()
            raise
        return conn


class PageFile(apsw.VFSFile):
    """One open actor database: committed pages, a dirty overlay, the file's size.

    Bytes ``[n * page_size, (n + 1) * page_size)`` of the file are page ``n`` (0-based); a
    page may be shorter only past the end of the file. ``page_size`` is fixed when the
    database is created; SQLite's own page size normally equals it (else reads and writes
    are split and merged, still correct).
    """

    # Deliberately not calling VFSFile.__init__: that would open a file of the base VFS;
    # every method SQLite calls is implemented here.
    def __init__(
        self,
        store: ActorDbPages,
        actor_id: str,
        epoch: int,
        page_size: int,
        size: int,
        pages: dict[int, bytes],
    ) -> None:
        self.store = store
        self.actor_id = actor_id
        self.epoch = epoch
        self.page_size = page_size
        self.pages = pages  # committed
        self.size = size  # committed
        self.dirty: dict[int, bytes] = {}
        self.dirty_size = size
        self.broken: BaseException | None = None

    def _check(self) -> None:
        # Raised again with the first failure's type: SQLite's rollback after a failed
        # xSync calls in here too, and APSW may report that later exception to the caller.
        broken = self.broken
        if broken is not None:
            kind = type(broken) if isinstance(broken, StorageError) else StorageError
            raise kind(f"{broken} (actor {self.actor_id}'s database must be reopened)")

    def _page(self, n: int) -> bytes:
        data = self.dirty.get(n)
        return data if data is not None else self.pages.get(n, b"")

    def xRead(self, amount: int, offset: int) -> bytes:
        self._check()
        ps = self.page_size
        end = min(offset + amount, self.dirty_size)
        if offset % ps == 0 and end - offset == ps:  # the common case: one whole page
            return self._page(offset // ps)
        out = bytearray()
        pos = offset
        while pos < end:
            n, within = divmod(pos, ps)
            chunk = self._page(n)[within : within + end - pos]
            chunk = chunk.ljust(min(ps - within, end - pos), b"\0")
            out += chunk
            pos += len(chunk)
        return bytes(out)  # shorter than ``amount``: APSW zero-fills, SQLite sees EOF

    def xWrite(self, data: bytes, offset: int) -> None:
        self._check()
        ps = self.page_size
        if offset % ps == 0 and len(data) == ps:
            self.dirty[offset // ps] = bytes(data)
        else:
            pos, view = offset, memoryview(data)
            while view:
                n, within = divmod(pos, ps)
                take = min(ps - within, len(view))
                page = bytearray(self._page(n).ljust(within, b"\0"))
                page[within : within + take] = view[:take]
                self.dirty[n] = bytes(page)
                pos += take
                view = view[take:]
        self.dirty_size = max(self.dirty_size, offset + len(data))

    def xTruncate(self, newsize: int) -> None:
        self._check()
        self.dirty_size = newsize
        keep = -(-newsize // self.page_size)
        for n in [n for n in self.dirty if n >= keep]:
            del self.dirty[n]

    def xSync(self, flags: int) -> None:
        self._check()
        if not self.dirty and self.dirty_size == self.size:
            return
        keep = -(-self.dirty_size // self.page_size)
        try:
            self.store.commit(
                self.actor_id, self.epoch, self.page_size, self.dirty_size, self.dirty
            )
        except _DiskFull as exc:  # refused, so certainly not applied: carry on
            self.dirty.clear()
            self.dirty_size = self.size
            raise apsw.FullError(str(exc)) from exc
        except BaseException as exc:
            # Fenced: nothing was written, and this epoch can never commit again.
            # Otherwise the outcome may be unknown (the connection died after COMMIT was
            # sent). Either way nothing local can be trusted from here on: refuse all work.
            self.dirty.clear()
            self.dirty_size = self.size
            self.broken = exc
            raise
        self.pages.update(self.dirty)
        for n in [n for n in self.pages if n >= keep]:
            del self.pages[n]
        self.dirty.clear()
        self.size = self.dirty_size

    def xFileSize(self) -> int:
        return self.dirty_size

    def xLock(self, level: int) -> None:  # one writer: single activation
        pass

    def xUnlock(self, level: int) -> None:
        pass

    def xCheckReservedLock(self) -> bool:
        return False

    def xFileControl(self, op: int, ptr: int) -> bool:
        return False

    def xSectorSize(self) -> int:
        return self.page_size

    def xDeviceCharacteristics(self) -> int:
        return int(apsw.SQLITE_IOCAP_POWERSAFE_OVERWRITE)

    def xClose(self) -> None:
        self.pages, self.dirty = {}, {}


# Files being opened, by the unique name open_connection gave them (xOpen takes them).
_opening: dict[str, PageFile] = {}
_registry_lock = threading.Lock()
_vfs: _PostgresVFS | None = None


class _PostgresVFS(apsw.VFS):
    """Main databases come from ``_opening``; temporary files (sorts, temp tables) go to
    the default VFS; any other file (a journal or WAL) is refused."""

    def __init__(self) -> None:
        super().__init__(VFS_NAME, base="")

    def xOpen(self, name: str | apsw.URIFilename | None, flags: list[int]) -> apsw.VFSFile:
        if name is None:
            return apsw.VFSFile("", name, flags)
        filename = name if isinstance(name, str) else name.filename()
        with _registry_lock:
            file = _opening.pop(filename, None)
        if file is None:
            raise apsw.CantOpenError(f"{VFS_NAME}: no file {filename!r}")
        flags[1] = flags[0]
        return file

    def xAccess(self, pathname: str, flags: int) -> bool:  # no journal, no WAL
        return False

    def xDelete(self, filename: str, syncdir: bool) -> None:
        pass

    def xFullPathname(self, name: str) -> str:
        return name


def _vfs_name() -> str:
    """Register the VFS on first use (once per process)."""
    global _vfs
    with _registry_lock:
        if _vfs is None:
            _vfs = _PostgresVFS()
    return VFS_NAME
