"""Which SQL an actor's database accepts: SQLite authorizers, consulted as each statement is
prepared (APSW ``Connection.authorizer``).

Two levels:

- ``actor_authorizer`` for every statement, the actor's own included: nothing may reach
  another file (``ATTACH``, ``DETACH``, ``VACUUM INTO``, a schema other than ``main`` or
  ``temp``), load an extension, or change what the runtime's guarantees rest on — the size
  limit, the journal, durability, the lock, the schema's integrity (``_RUNTIME_PRAGMAS``
  with a value; reading them is allowed). An actor's database is self-contained so that it
  can be stored by any driver, copied, fenced and size-limited; a file it attached would be
  none of these (and the PostgreSQL driver could not open it at all).
- ``outside_authorizer`` for statements that come from outside the actor (the inspector's
  query box, the dev console; see ``outside_statements``) adds: only read-only
  introspection PRAGMAs, no transaction control (the turn owns the transaction), and no
  changes to the runtime's ``_actorkit_*`` tables (rows, indexes, triggers, ``ALTER``,
  ``DROP``) or ``sqlite_dbpage``. No trigger, whoever created it, may write them.

A refusal fails the statement with ``sql_not_allowed`` (see ``db_engine.sql_error``);
``Guard.denied`` says what was refused.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import apsw

__all__ = ["Guard", "from_outside", "outside_statements"]

# The database (an ``ActorDatabase``) whose statements come from outside the actor now.
_outside: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "actorkit_outside", default=None
)


@contextlib.contextmanager
def outside_statements(db: object) -> Iterator[None]:
    """Statements run through ``db`` (an actor's ``self.db``) in this block, and in tasks it
    starts, come from outside the actor: ``Guard.outside_authorizer`` applies. For the
    inspector's query box and the dev console (a guard rail there: console code is Python).
    Other actors called from the block are not affected."""
    token = _outside.set(db)
    try:
        yield
    finally:
        _outside.reset(token)


def from_outside(db: object) -> bool:
    """Whether statements through ``db`` come from outside its actor right now."""
    return _outside.get() is db


_OK = apsw.SQLITE_OK
_DENY = apsw.SQLITE_DENY

# Set by the engine (db_engine.Engine) or the driver; nobody may change them afterwards.
_RUNTIME_PRAGMAS = frozenset(
    {
        "data_store_directory",
        "journal_mode",
        "journal_size_limit",
        "locking_mode",
        "max_page_count",
        "mmap_size",
        "page_size",
        "query_only",
        "schema_version",
        "synchronous",
        "temp_store_directory",
        "trusted_schema",
        "wal_autocheckpoint",
        "writable_schema",
    }
)
# Read-only introspection that takes a table/index name (or a row limit) as its argument.
_INTROSPECTION = frozenset(
    {
        "foreign_key_check",
        "foreign_key_list",
        "index_info",
        "index_list",
        "index_xinfo",
        "integrity_check",
        "quick_check",
        "table_info",
        "table_list",
        "table_xinfo",
    }
)
# Settings the outside may read (no argument) but not set.
_READABLE = _RUNTIME_PRAGMAS | {
    "application_id",
    "auto_vacuum",
    "collation_list",
    "compile_options",
    "data_version",
    "encoding",
    "foreign_keys",
    "freelist_count",
    "function_list",
    "module_list",
    "page_count",
    "pragma_list",
    "recursive_triggers",
    "user_version",
}
_OWN_SCHEMAS = (None, "main", "temp")
# Changes to a table, and which argument names the table.
_ROWS = frozenset({apsw.SQLITE_INSERT, apsw.SQLITE_UPDATE, apsw.SQLITE_DELETE})
_TABLE_IN_P1 = _ROWS | {apsw.SQLITE_DROP_TABLE, apsw.SQLITE_DROP_TEMP_TABLE}
_TABLE_IN_P2 = frozenset(
    {
        apsw.SQLITE_ALTER_TABLE,
        apsw.SQLITE_CREATE_INDEX,
        apsw.SQLITE_CREATE_TEMP_INDEX,
        apsw.SQLITE_DROP_INDEX,
        apsw.SQLITE_DROP_TEMP_INDEX,
        apsw.SQLITE_CREATE_TRIGGER,
        apsw.SQLITE_CREATE_TEMP_TRIGGER,
        apsw.SQLITE_DROP_TRIGGER,
        apsw.SQLITE_DROP_TEMP_TRIGGER,
    }
)
# SQLite guards its schema table itself (writable_schema is refused above) and DDL writes
# it on the statement's behalf; sqlite_dbpage would write raw pages.
_PROTECTED_PREFIX = "_actorkit_"
_PROTECTED_SQLITE = frozenset({"sqlite_dbpage"})


def _protected(op: int, p1: str | None, p2: str | None) -> str | None:
    """The runtime's (or SQLite's) table that ``op`` would change, if any."""
    name = p1 if op in _TABLE_IN_P1 else p2 if op in _TABLE_IN_P2 else None
    if name is None:
        return None
    lowered = name.lower()
    if lowered.startswith(_PROTECTED_PREFIX) or lowered in _PROTECTED_SQLITE:
        return name
    return None


class Guard:
    """The two authorizers of one connection, and the reason of the last refusal."""

    def __init__(self) -> None:
        self.denied: str | None = None

    def _deny(self, reason: str) -> int:
        if self.denied is None:  # the first refusal names the cause
            self.denied = reason
        return _DENY

    def actor_authorizer(
        self, op: int, p1: str | None, p2: str | None, schema: str | None, trigger: str | None
    ) -> int:
        """For every statement: no other files, no extensions, runtime settings fixed."""
        if op == apsw.SQLITE_ATTACH:
            if not p1:  # plain VACUUM attaches a temporary copy of its own
                return _OK
            return self._deny("ATTACH (and VACUUM INTO) is not allowed")
        if op == apsw.SQLITE_DETACH:
            return self._deny("DETACH is not allowed")
        if op == apsw.SQLITE_FUNCTION and (p2 or "").lower() == "load_extension":
            return self._deny("load_extension() is not allowed")
        if op == apsw.SQLITE_PRAGMA:
            name = (p1 or "").lower()
            if name in _RUNTIME_PRAGMAS and p2 is not None:
                return self._deny(f"PRAGMA {name} is set by the runtime and cannot be changed")
            return _OK
        if schema not in _OWN_SCHEMAS and not schema.startswith("vacuum_"):
            return self._deny(f"schema {schema!r} is not the actor's database")
        if trigger is not None and op in _ROWS and _protected(op, p1, p2) is not None:
            # The runtime uses no triggers; one writing its tables was planted (say from
            # the query box) to act later with the actor's own rights.
            return self._deny(f"a trigger may not change {p1!r}")
        return _OK

    def outside_authorizer(
        self, op: int, p1: str | None, p2: str | None, schema: str | None, trigger: str | None
    ) -> int:
        """For statements from the inspector or the console: stricter still."""
        verdict = self.actor_authorizer(op, p1, p2, schema, trigger)
        if verdict != _OK:
            return verdict
        if op == apsw.SQLITE_PRAGMA:
            name = (p1 or "").lower()
            if name in _INTROSPECTION or (name in _READABLE and p2 is None):
                return _OK
            return self._deny(f"PRAGMA {name} is not allowed from outside the actor")
        if op in (apsw.SQLITE_TRANSACTION, apsw.SQLITE_SAVEPOINT):
            return self._deny("transaction control is not allowed (the query runs in a turn)")
        if op == apsw.SQLITE_ATTACH:  # plain VACUUM: it cannot run inside the turn anyway
            return self._deny("VACUUM is not allowed from outside the actor")
        table = _protected(op, p1, p2)
        if table is not None:
            return self._deny(f"table {table!r} belongs to the runtime")
        return _OK
