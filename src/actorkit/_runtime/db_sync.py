"""The blocking statement API of an actor's database: ``SyncDb`` (handed to callable
migrations and used by ``Engine``), and ``OutsideSyncDb`` for statements from outside the
actor, which run under the stricter authorizer of ``db_authorizer``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apsw

from actorkit._runtime.db_authorizer import Guard

__all__ = ["OutsideSyncDb", "SyncDb"]


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

    def _cursor(self, sql: str, bindings: Any) -> apsw.Cursor:
        return self._conn.execute(sql, bindings)

    def execute(self, sql: str, *params: Any) -> int:
        """Run ``sql``; returns the number of rows changed."""
        before = self._conn.total_changes()
        self._cursor(sql, _bindings(params)).fetchall()
        return int(self._conn.total_changes() - before)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any] | dict[str, Any]]) -> int:
        before = self._conn.total_changes()
        self._conn.executemany(sql, rows).fetchall()
        return int(self._conn.total_changes() - before)

    def fetch_all(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return _rows(self._cursor(sql, _bindings(params)))

    def fetch_one(self, sql: str, *params: Any) -> dict[str, Any] | None:
        rows = self.fetch_all(sql, *params)
        return rows[0] if rows else None


class OutsideSyncDb(SyncDb):
    """``SyncDb`` for statements from outside the actor: each runs under the stricter
    authorizer, prepared afresh (never from the statement cache, where a statement may have
    been prepared under the actor's authorizer)."""

    def __init__(self, conn: apsw.Connection, guard: Guard) -> None:
        super().__init__(conn)
        self._guard = guard

    @contextlib.contextmanager
    def _strict(self) -> Iterator[None]:
        # Setting an authorizer expires every prepared statement, so none escapes it.
        self._conn.authorizer = self._guard.outside_authorizer
        try:
            yield
        finally:
            self._conn.authorizer = self._guard.actor_authorizer

    def _cursor(self, sql: str, bindings: Any) -> apsw.Cursor:
        return self._conn.execute(sql, bindings, can_cache=False)

    def execute(self, sql: str, *params: Any) -> int:
        with self._strict():
            return super().execute(sql, *params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any] | dict[str, Any]]) -> int:
        with self._strict():
            before = self._conn.total_changes()
            self._conn.executemany(sql, rows, can_cache=False).fetchall()
            return int(self._conn.total_changes() - before)

    def fetch_all(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        with self._strict():
            return super().fetch_all(sql, *params)
