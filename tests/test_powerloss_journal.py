"""The power-loss shims themselves: through each VFS, a rollback keeps exactly what was
synced (in this process; the harness does the same after a real kill -9)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import apsw

from powerloss import apsw_vfs, ctypes_vfs
from powerloss.journal import Journal, roll_back


def _register(tmp_path: Path) -> tuple[str, Journal]:
    name = f"powerloss-{uuid.uuid4().hex[:8]}"
    journal = Journal(tmp_path / "journal")
    apsw_vfs.register(name, journal)
    ctypes_vfs.register(name, journal)
    return name, journal


def _copy(data: Path, name: str) -> Path:
    """A copy of database ``name`` and its WAL as rolled back: the writer still holds locks
    on the originals (a killed process would not)."""
    copy = data.parent / "copy"
    copy.mkdir(exist_ok=True)
    for suffix in ("", "-wal"):
        source = data / f"{name}{suffix}"
        if source.exists():
            (copy / source.name).write_bytes(source.read_bytes())
    return copy / name


def _apsw_rows(path: Path) -> int:
    conn = apsw.Connection(str(path))
    try:
        return int(conn.execute("SELECT count(*) FROM t").fetchall()[0][0])  # type: ignore[arg-type]
    finally:
        conn.close()


def test_powerloss_journal_roll_back_keeps_synced_apsw_writes(tmp_path: Path) -> None:
    name, journal = _register(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    conn = apsw.Connection(str(data / "a.db"), vfs=name)
    conn.execute("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (x BLOB)")
    for _ in range(50):
        conn.execute("INSERT INTO t VALUES (randomblob(3000))")
    syncs = journal.syncs
    conn.execute("PRAGMA synchronous=OFF")
    for _ in range(30):
        conn.execute("INSERT INTO t VALUES (randomblob(3000))")
    assert journal.syncs == syncs  # nothing after this point was synced
    assert _apsw_rows(_copy(data, "a.db")) == 80  # the page cache has it all

    summary = roll_back(journal.directory, data)

    assert summary.records > 0
    assert _apsw_rows(_copy(data, "a.db")) == 50
    conn.close()


def test_powerloss_journal_roll_back_keeps_synced_sqlite3_writes(tmp_path: Path) -> None:
    name, journal = _register(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    uri = f"{(data / 'm.db').as_uri()}?vfs={name}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (x BLOB)")
    for _ in range(50):
        conn.execute("INSERT INTO t VALUES (randomblob(3000))")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a truncate and db writes, synced
    for _ in range(20):
        conn.execute("INSERT INTO t VALUES (randomblob(3000))")
    conn.execute("PRAGMA synchronous=OFF")
    for _ in range(30):
        conn.execute("INSERT INTO t VALUES (randomblob(3000))")
    assert (data / "m.db-shm").exists()

    summary = roll_back(journal.directory, data)

    assert summary.records > 0
    assert not (data / "m.db-shm").exists()  # the WAL index is memory, gone with the power
    check = sqlite3.connect(_copy(data, "m.db"))
    try:
        assert check.execute("SELECT count(*) FROM t").fetchone() == (70,)
    finally:
        check.close()
    conn.close()


def test_powerloss_journal_new_file_without_directory_sync_is_lost(tmp_path: Path) -> None:
    name, journal = _register(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    conn = apsw.Connection(str(data / "n.db"), vfs=name)
    # A rollback-journal database that never syncs: nothing ever makes its entry durable.
    conn.execute("PRAGMA synchronous=OFF; CREATE TABLE t (x)")
    conn.close()
    assert (data / "n.db").exists()

    summary = roll_back(journal.directory, data)

    assert summary.removed == 1
    assert not (data / "n.db").exists()
