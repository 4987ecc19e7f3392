"""The PostgreSQL driver's connections: opening (schema included), one statement per call
on a pooled connection, errors as ``StorageError``, and recovery after a server restart.

Every statement is prepared (``prepare=True``) and returns binary results; connections are in
autocommit mode, so a statement (or a function call) is its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeAlias

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from actorkit.errors import StorageError, StorageUnavailable
from actorkit.storage.postgres_schema import ensure_schema

__all__ = ["Conn", "Params", "PostgresPool", "Row"]

log = logging.getLogger("actorkit.storage")

Conn: TypeAlias = psycopg.AsyncConnection[tuple[Any, ...]]
Row: TypeAlias = tuple[Any, ...]
Params: TypeAlias = Sequence[Any] | dict[str, Any]


def describe(url: str) -> str:
    """``host:port/dbname`` for messages (never the password)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "(unparsable URL)"
    host = info.get("host") or info.get("hostaddr") or "localhost"
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or info.get('user') or ''}"


def reason(exc: BaseException) -> str:
    """psycopg's message on one line, without its repetition of host and port."""
    if isinstance(exc, TimeoutError):
        return "connection timeout expired"
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return first.rsplit(" failed: ", 1)[-1].strip() or type(exc).__name__


async def _configure(conn: Conn) -> None:
    # Every fence relies on READ COMMITTED's fresh snapshot per statement; a commit is
    # durable only with synchronous_commit on (whatever the server's defaults say).
    await conn.execute(
        "SELECT set_config('default_transaction_isolation', 'read committed', false), "
        "CASE WHEN current_setting('synchronous_commit') = 'off' "
        "THEN set_config('synchronous_commit', 'on', false) END"
    )


class PostgresPool:
    """``size`` connections to ``url``. ``connect_timeout`` bounds ``open()`` against a
    server that does not answer; twice it bounds the wait for a free connection."""

    def __init__(self, url: str, *, size: int, connect_timeout: float) -> None:
        self.url = url
        self.size = size
        self.connect_timeout = connect_timeout
        self.where = describe(url)
        self.pool: AsyncConnectionPool[Conn] | None = None
        self._closing = False
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def open(self) -> None:
        """Connect, create or upgrade the schema, then fill the pool."""
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(2, math.ceil(self.connect_timeout)),  # libpq: whole s, ≥ 2
        }
        try:
            if "application_name" not in conninfo_to_dict(self.url):
                kwargs["application_name"] = "actorkit"
            conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(self.url, **kwargs), self.connect_timeout + 1
            )
        except (psycopg.Error, TimeoutError) as exc:
            raise StorageError(
                f"cannot connect to PostgreSQL at {self.where}: {reason(exc)}"
            ) from exc
        try:
            async with conn:
                await ensure_schema(conn, self.where)
        except psycopg.Error as exc:
            raise StorageError(
                f"cannot prepare the actorkit schema in PostgreSQL at {self.where}: {reason(exc)}"
            ) from exc
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self.url,
            kwargs=kwargs,
            min_size=self.size,
            max_size=self.size,
            open=False,
            configure=_configure,
            timeout=2 * self.connect_timeout,
            name="actorkit",
        )
        try:
            await pool.open(wait=True, timeout=2 * self.connect_timeout)
        except psycopg.Error as exc:
            await pool.close()
            raise StorageError(
                f"cannot open {self.size} connections to PostgreSQL at {self.where}: {reason(exc)}"
            ) from exc
        self.pool = pool
        self._closing = False

    async def close(self, last: tuple[str, Params] | None = None) -> None:
        """Refuse new calls, wait for those in flight, run the ``last`` statement (if any:
        errors are only logged), close the connections."""
        pool = self.pool
        if pool is None:
            return
        self._closing = True
        await self._idle.wait()
        try:
            if last is not None:
                async with pool.connection() as conn:
                    await conn.execute(*last)
        except psycopg.Error as exc:
            log.warning("PostgreSQL at %s: closing: %s", self.where, reason(exc))
        finally:
            self.pool = None
            await pool.close()

    @contextlib.asynccontextmanager
    async def _using(self) -> AsyncIterator[AsyncConnectionPool[Conn]]:
        """The pool, counting the call in flight (``close()`` waits for it to finish)."""
        pool = self.pool
        if pool is None or self._closing:
            raise StorageError(f"the PostgreSQL driver for {self.where} is not open")
        self._inflight += 1
        self._idle.clear()
        try:
            yield pool
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()

    async def query(
        self, query: str, params: Params = (), *, fetch: bool = True, repeatable: bool = True
    ) -> list[Row]:
        """Run one statement on a pooled connection; its rows (``[]`` unless ``fetch``).

        After a server restart every idle pooled connection is dead, and each would fail one
        call. So when a connection turns out broken, the pool checks the others (replacing
        the dead) and a ``repeatable`` statement — one that may have committed already and
        is still right to run again — is tried once more.
        """
        async with self._using() as pool:
            for attempt in (1, 2):
                broken = False
                try:
                    async with pool.connection() as conn:
                        try:
                            cur = await conn.execute(query, params, prepare=True, binary=True)
                            return await cur.fetchall() if fetch else []
                        except psycopg.OperationalError:
                            broken = conn.broken
                            raise
                except psycopg.Error as exc:
                    if broken:
                        with contextlib.suppress(psycopg.Error):
                            await pool.check()
                        if attempt == 1 and repeatable:
                            log.info("PostgreSQL at %s: %s; trying again", self.where, reason(exc))
                            continue
                    # A dead connection, or none to be had: the server is away, not wrong.
                    away = broken or isinstance(exc, PoolTimeout) or exc.sqlstate is None
                    kind = StorageUnavailable if away else StorageError
                    raise kind(f"PostgreSQL at {self.where}: {reason(exc)}") from exc
        raise AssertionError("unreachable")

    async def one(self, query: str, params: Params = (), *, repeatable: bool = True) -> Row | None:
        rows = await self.query(query, params, repeatable=repeatable)
        return rows[0] if rows else None
