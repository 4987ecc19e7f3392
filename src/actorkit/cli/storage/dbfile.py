"""Actor databases (``self.db``) during a copy: copy one, normalise the runtime's state copy
in it, and checksum its logical content. Everything here blocks: run it in a thread.

Copying works for any pair of connections a driver hands out, whatever stores the pages
(a file, ``:memory:``, a VFS):

- **SQLite's backup API** (``dest.backup("main", src, "main")``) copies pages exactly
  (rowids, free pages, ``user_version``, everything). It is used when it is safe: SQLite
  cannot change the page size of a database in WAL mode, and copying a WAL-mode source
  into a destination that is *not* in WAL mode writes the WAL flag into the destination's
  header (its connection then sees an empty database).
- Otherwise a **logical copy** in one transaction: the schema in creation order (tables,
  then rows with their rowids, then ``sqlite_sequence``, indexes, triggers and views), and
  ``user_version``/``application_id``.

The checksum (``digest_db``) hashes the schema (minus root page numbers) and every row of
every table in a fixed order, so two databases with the same content get the same digest
whatever their page size, journal mode or layout on disk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import apsw

__all__ = [
    "STATE_TABLE",
    "DbDigest",
    "copy_database",
    "database_size",
    "digest_db",
    "normalise_state_copy",
]

#: The runtime's table holding the actor's state copy and the epoch of its last writer
#: (see ``actorkit._runtime.db_engine``).
STATE_TABLE = "_actorkit_state"
_STATE_COLUMNS = "id, seq, state"  # its content, minus the store-specific epoch


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _one(conn: apsw.Connection, sql: str) -> Any:
    rows: list[Any] = conn.execute(sql).fetchall()
    return rows[0][0] if rows else None


def _is_stat(name: str) -> bool:
    return name.startswith("sqlite_stat")


def _tables(conn: apsw.Connection) -> dict[str, tuple[str, bool]]:
    """name → (kind, without rowid) of the tables in ``main``; kind is ``table``,
    ``virtual`` or ``shadow`` (a table a virtual table keeps its data in)."""
    rows = conn.execute(
        "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main' AND type <> 'view'"
    )
    return {str(name): (str(kind), bool(wr)) for name, kind, wr in rows}


# -- copying -----------------------------------------------------------------------------


def copy_database(src: apsw.Connection, dst: apsw.Connection) -> str:
    """Make ``dst`` hold what ``src`` holds (anything ``dst`` had is replaced). Returns the
    method used: ``"backup"`` or ``"sql"``."""
    src_wal = _one(src, "PRAGMA journal_mode") == "wal"
    dst_mode = _one(dst, "PRAGMA journal_mode")
    same_pages = _one(src, "PRAGMA page_size") == _one(dst, "PRAGMA page_size")
    if (dst_mode == "wal" and same_pages) or (not src_wal and dst_mode != "wal"):
        with dst.backup("main", src, "main") as backup:
            backup.step(-1)
        if _one(dst, "PRAGMA journal_mode") == dst_mode:
            return "backup"
        # Not expected given the rule above; never leave a destination in a foreign mode.
        dst.execute(f"PRAGMA journal_mode = {dst_mode}").fetchall()
        return "backup"
    _logical_copy(src, dst)
    return "sql"


def _logical_copy(src: apsw.Connection, dst: apsw.Connection) -> None:
    objects: list[tuple[str, str, str | None]] = [
        (str(t), str(n), s)
        for t, n, s in src.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY rowid")
    ]
    kinds = _tables(src)
    dst.execute("BEGIN IMMEDIATE")
    try:
        _clear(dst)
        for type_, name, sql in objects:  # in creation order; a virtual table makes its shadows
            if type_ != "table" or sql is None or name.startswith("sqlite_"):
                continue
            if kinds[name][0] != "shadow":
                dst.execute(sql)
        for name, (kind, without_rowid) in kinds.items():
            if kind != "virtual" and not name.startswith("sqlite_"):
                _copy_rows(src, dst, name, without_rowid, clear=kind == "shadow")
        if "sqlite_sequence" in kinds:
            dst.execute("DELETE FROM sqlite_sequence")
            dst.executemany(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                src.execute("SELECT name, seq FROM sqlite_sequence").fetchall(),
            )
        for type_, _name, sql in objects:
            if type_ in ("index", "trigger", "view") and sql is not None:
                dst.execute(sql)
        for pragma in ("user_version", "application_id"):
            dst.execute(f"PRAGMA {pragma} = {int(_one(src, f'PRAGMA {pragma}'))}")
        dst.execute("COMMIT")
    except BaseException:
        if dst.in_transaction:
            dst.execute("ROLLBACK")
        raise


def _clear(dst: apsw.Connection) -> None:
    """Drop everything in ``dst`` (normally it is new and empty)."""
    for type_ in ("view", "trigger"):
        names = dst.execute(f"SELECT name FROM sqlite_schema WHERE type = '{type_}'").fetchall()
        for (name,) in names:
            dst.execute(f"DROP {type_.upper()} IF EXISTS {_q(str(name))}")
    kinds = _tables(dst)
    # Virtual tables first: dropping one drops its shadow tables.
    for name in sorted(kinds, key=lambda n: kinds[n][0] != "virtual"):
        if not name.startswith("sqlite_"):
            dst.execute(f"DROP TABLE IF EXISTS {_q(name)}")
    if "sqlite_sequence" in kinds:
        dst.execute("DELETE FROM sqlite_sequence")


def _rowid_name(conn: apsw.Connection, table: str) -> str | None:
    """The name to select a rowid table's rowid by, or ``None`` if an INTEGER PRIMARY KEY
    column already is the rowid."""
    columns = list(conn.execute(f"PRAGMA table_xinfo({_q(table)})"))
    pk = [c for c in columns if c[5]]
    if len(pk) == 1 and str(pk[0][2]).upper() == "INTEGER":
        return None
    names = {str(c[1]).lower() for c in columns}
    return next((n for n in ("rowid", "_rowid_", "oid") if n not in names), None)


def _copy_rows(
    src: apsw.Connection, dst: apsw.Connection, table: str, without_rowid: bool, *, clear: bool
) -> None:
    # Generated and hidden columns (c[6] != 0) cannot be inserted.
    columns = [_q(str(c[1])) for c in src.execute(f"PRAGMA table_xinfo({_q(table)})") if not c[6]]
    rowid = None if without_rowid else _rowid_name(src, table)
    listed = ", ".join(([rowid] if rowid else []) + columns)
    if clear:
        dst.execute(f"DELETE FROM {_q(table)}")
    marks = ", ".join("?" * (len(columns) + bool(rowid)))
    rows = src.execute(f"SELECT {listed} FROM {_q(table)}")
    dst.executemany(f"INSERT INTO {_q(table)} ({listed}) VALUES ({marks})", rows)


# -- the runtime's state copy ---------------------------------------------------------------


def normalise_state_copy(dst: apsw.Connection, main_seq: tuple[int, int] | None) -> int | None:
    """Set the epoch of the database's state copy to 0, keeping which copy wins on wake.

    Epochs belong to one store (the target's start again at 1), so the copy stores epoch 0
    with both copies of the state — here and in the main store's ``state_seq`` — and keeps
    their sequence numbers, which the runtime issues in increasing order across activations.
    ``main_seq`` is the main store's ``(epoch, seq)``. Returns a new sequence number for the
    main store's copy in the (not expected) case where sequence numbers alone would pick
    another copy than ``(epoch, seq)`` did, else ``None``.
    """
    columns = {str(c[1]) for c in dst.execute(f"PRAGMA table_info({STATE_TABLE})")}
    if not columns:
        return None
    epoch_col = "epoch" if "epoch" in columns else "0"
    rows: list[Any] = dst.execute(
        f"SELECT {epoch_col}, seq, state IS NOT NULL FROM {STATE_TABLE} WHERE id = 0"
    ).fetchall()
    if not rows:
        return None
    epoch, seq, has_state = int(rows[0][0]), int(rows[0][1]), bool(rows[0][2])
    main = main_seq or (0, 0)
    if epoch:
        dst.execute(f"UPDATE {STATE_TABLE} SET epoch = 0 WHERE id = 0")
    db_wins = has_state and (epoch, seq) > main
    if db_wins and seq <= main[1]:
        dst.execute(f"UPDATE {STATE_TABLE} SET seq = ? WHERE id = 0", (main[1] + 1,))
    elif not db_wins and has_state and seq > main[1]:
        return seq + 1
    return None


# -- checksums ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DbDigest:
    """The logical content of an actor database: counts and a sha256."""

    tables: int  # the application's tables (not ``sqlite_*`` nor ``_actorkit_*``)
    rows: int  # rows in those tables
    sha256: str


def digest_db(conn: apsw.Connection) -> DbDigest:
    """Hash the schema and all rows; the state copy's epoch (store-specific) is left out."""
    h = hashlib.sha256()
    for pragma in ("user_version", "application_id"):
        h.update(f"{pragma}={_one(conn, f'PRAGMA {pragma}')}\n".encode())
    schema = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")
    for row in schema:
        if not _is_stat(row[1]):
            h.update(repr(tuple(row)).encode() + b"\n")
    tables = rows = 0
    for name, (kind, without_rowid) in sorted(_tables(conn).items()):
        if kind == "virtual" or _is_stat(name) or name == "sqlite_schema":
            continue  # a virtual table's rows live in its shadow tables
        user = not name.startswith(("sqlite_", "_actorkit_"))
        tables += user
        h.update(b"rows " + name.encode() + b"\n")
        for values in _ordered_rows(conn, name, without_rowid):
            h.update(repr(values).encode() + b"\n")
            rows += user
    return DbDigest(tables, rows, h.hexdigest())


def _ordered_rows(conn: apsw.Connection, table: str, without_rowid: bool) -> apsw.Cursor:
    if table == STATE_TABLE:
        return conn.execute(f"SELECT {_STATE_COLUMNS} FROM {STATE_TABLE} ORDER BY id")
    if without_rowid:
        pk = sorted((c[5], str(c[1])) for c in conn.execute(f"PRAGMA table_info({_q(table)})"))
        order = ", ".join(_q(name) for n, name in pk if n) or "1"
        return conn.execute(f"SELECT * FROM {_q(table)} ORDER BY {order}")
    rowid = _rowid_name(conn, table)
    if rowid is None:  # an INTEGER PRIMARY KEY: the rowid is a column already
        return conn.execute(f"SELECT * FROM {_q(table)} ORDER BY rowid")
    return conn.execute(f"SELECT {rowid}, * FROM {_q(table)} ORDER BY {rowid}")


def database_size(conn: apsw.Connection) -> int:
    """Bytes in use by the database (pages × page size)."""
    return int(_one(conn, "PRAGMA page_count")) * int(_one(conn, "PRAGMA page_size"))
