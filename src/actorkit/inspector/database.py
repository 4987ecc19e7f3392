"""The Database tab: an actor's SQLite tables, their rows, and a query box.

Every query runs as one turn of the actor through ``self.db`` (so it sees exactly what
actions see, and a failing statement leaves nothing behind), under the authorizer for
statements from outside the actor (``_runtime/db_authorizer.py``): no ``ATTACH``, no
PRAGMA but read-only introspection, no transaction control, no writes to the runtime's
tables; a refused statement fails with ``sql_not_allowed``. Tables starting with
``_actorkit_`` belong to the runtime and are not listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actorkit._runtime.db_authorizer import outside_statements
from actorkit.errors import ActorError, Code, validation_error
from actorkit.inspector.views import to_json_value

if TYPE_CHECKING:
    from actorkit._runtime.actor import Actor
    from actorkit._runtime.node import Node

__all__ = ["MAX_ROWS", "QUERY_ERRORS", "SQL_ERROR", "list_tables", "query", "table_rows"]

MAX_ROWS = 1000
SQL_ERROR = Code.SQL_ERROR  # the code self.db raises for a failing statement
#: Codes that mean the query itself is at fault (HTTP 400), not the server.
QUERY_ERRORS = frozenset({Code.SQL_ERROR, Code.SQL_NOT_ALLOWED})

_TABLES = (
    "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
    "AND name NOT LIKE '\\_actorkit\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
    "ORDER BY name"
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _tables(actor: Actor) -> list[dict[str, Any]]:
    db: Any = actor.db
    with outside_statements(db):
        tables: list[dict[str, Any]] = await db.fetch_all(_TABLES)
        for table in tables:
            row = await db.fetch_one(f"SELECT count(*) AS n FROM {_quote(table['name'])}")
            table["rows"] = row["n"] if row else 0
    return tables


async def list_tables(node: Node, actor_id: str) -> list[dict[str, Any]]:
    """``[{"name", "type", "rows"}]`` of the actor's own tables and views."""
    tables: list[dict[str, Any]] = await node.run_in_turn(actor_id, _tables)
    return tables


async def table_rows(
    node: Node, actor_id: str, table: str, offset: int, limit: int
) -> dict[str, Any]:
    """A page of ``table``: ``{"columns", "rows", "total", "offset", "limit"}``."""

    async def read(actor: Actor) -> dict[str, Any]:
        names = {t["name"] for t in await _tables(actor)}
        if table not in names:
            raise ActorError("inspector", Code.NOT_FOUND, f"no table {table!r}", {"table": table})
        db: Any = actor.db
        quoted = _quote(table)
        with outside_statements(db):
            total = (await db.fetch_one(f"SELECT count(*) AS n FROM {quoted}"))["n"]
            rows = await db.fetch_all(f"SELECT * FROM {quoted} LIMIT ? OFFSET ?", limit, offset)
            columns = [c["name"] for c in await db.fetch_all(f"PRAGMA table_info({quoted})")]
        return {
            "table": table,
            "columns": columns,
            "rows": to_json_value(rows),
            "total": total,
            "offset": offset,
            "limit": limit,
        }

    result: dict[str, Any] = await node.run_in_turn(actor_id, read)
    return result


async def query(node: Node, actor_id: str, sql: str, params: list[Any]) -> dict[str, Any]:
    """Run ``sql`` (any statement) as one turn; ``{"columns", "rows", "truncated"}``."""
    if not sql.strip():
        raise validation_error("sql is empty")

    async def run(actor: Actor) -> list[dict[str, Any]]:
        db: Any = actor.db
        with outside_statements(db):
            rows: list[dict[str, Any]] = await db.fetch_all(sql, *params)
        return rows

    try:
        rows = await node.run_in_turn(actor_id, run)
    except ActorError:
        raise
    except Exception as exc:
        raise validation_error(f"query failed: {exc}", {"reason": type(exc).__name__}) from None
    columns = list(rows[0]) if rows else []
    return {
        "columns": columns,
        "rows": to_json_value(rows[:MAX_ROWS]),
        "truncated": len(rows) > MAX_ROWS,
    }
