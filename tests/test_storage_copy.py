"""``actorkit storage copy|verify``: moving a store between backends, and checking it.

Stores are filled the way users fill them (the runtime, in-process) plus what only the
driver API can set up (a connection record, an actor created but never initialised); the
CLI runs as a real process, and a real ``actorkit serve`` on the copy shows the actors
working there: state, database rows, schedules (one fires on the target), create input.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import apsw
import msgspec
import pytest
from benchmarks.storage_copy import generate

from actorkit._runtime.connections import CONN_PREFIX, ConnRecord
from actorkit.cli.storage.copy import CopyError, CopyOptions, copy_store
from actorkit.cli.storage.dbfile import copy_database, digest_db, normalise_state_copy
from actorkit.cli.storage.stores import stores_databases
from actorkit.cli.storage.verify import verify_stores
from actorkit.client.sync import Client
from actorkit.storage import Driver, MemoryDriver, WriteBatch, driver_from_url
from actorkit.storage.base import Activation, ActorRecord
from apps.copy_app import Notebook, Tally, registry
from postgres_server import fresh_database
from server_fixtures import ROOT, ServerFactory, free_port

APP = "tests/apps/copy_app.py:registry"
_msgpack = msgspec.msgpack.Encoder()


def actorkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorkit", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )


def storage(*args: str) -> subprocess.CompletedProcess[str]:
    return actorkit("storage", *args, "--progress-interval", "0")


async def opened(url: str) -> Driver:
    driver = driver_from_url(url)
    await driver.open()
    return driver


async def populate(url: str, *, notebooks: bool = True, due: bool = True) -> None:
    """Three sessions of the app (epochs up to 3), then a connection record and a created,
    never initialised actor through the driver. ``due``: one schedule falls due at once."""
    for session in range(3):
        async with registry.test_client(url) as client:
            for i in range(3):
                if notebooks:
                    book = client.get_or_create(Notebook, f"n{i}", input={"title": f"book {i}"})
                    await book.add(f"note {session}")
                await client.get_or_create(Tally, f"t{i}", input={"start": 10 * i}).increment()
            if session == 0:
                await client.get_or_create(Tally, "t0").remind(3600, "later")
                if notebooks:
                    await client.get_or_create(Notebook, "n0").remind(3600, "later")
            if session == 2 and due:  # due soon: fires on the copy, once it is served
                await client.get_or_create(Tally, "t1").remind(1.0, "soon")
    driver = await opened(url)
    try:
        record = await driver.find_actor("tally", ("t0",))
        assert record is not None
        taken = await driver.activate(record.id, "test")
        assert isinstance(taken, Activation)
        conn = ConnRecord("c1", "token", {"user": "ann"}, {"user": "ann"}, ["news"], time.time())
        puts = {CONN_PREFIX + b"c1": _msgpack.encode(conn)}
        assert await driver.commit([WriteBatch(record.id, taken.epoch, puts=puts)]) == [None]
        await driver.release(record.id, "test", taken.epoch)
        fresh = ActorRecord(
            uuid.uuid4().hex, "tally", ("fresh",), 1.5e9, _msgpack.encode({"start": 41})
        )
        assert (await driver.create_actor(fresh))[1]
    finally:
        await driver.close()


def check_served(client: Client, *, notebooks: bool = True) -> None:
    """The copied actors, called on a server running on the copy."""
    tally = client.get_or_create("tally", "t0").action("show")
    assert tally == {"state": {"count": 3, "fired": []}, "schedules": [["fire", ["later"]]]}
    assert client.get_or_create("tally", "t2").action("increment") == 24
    assert client.get_or_create("tally", "fresh").action("increment") == 42  # create input
    deadline = time.monotonic() + 30
    while client.get_or_create("tally", "t1").action("show")["state"]["fired"] != ["soon"]:
        assert time.monotonic() < deadline, "the copied due schedule never fired"
        time.sleep(0.1)
    if notebooks:
        book = client.get_or_create("notebook", "n0").action("show")
        assert book["state"] == {"title": "book 0", "notes": 3, "fired": []}
        assert [n["text"] for n in book["notes"]] == ["note 0", "note 1", "note 2"]
        assert book["schedules"] == [["fire", ["later"]]]
        # The database is writable on the copy: its state copy no longer names the
        # source's epoch (3), newer than the target's first activations.
        assert client.get_or_create("notebook", "n0").action("add", "on the copy") == 4


def test_copy_sqlite_to_sqlite_and_serve(tmp_path: Path, server_factory: ServerFactory) -> None:
    src, dst = f"sqlite:///{tmp_path / 'src'}", f"sqlite:///{tmp_path / 'dst'}"
    asyncio.run(populate(src))
    out = actorkit("storage", "copy", "--from", src, "--to", dst, "--verify",
                   "--progress-interval", "0.000001")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"copied 7 actors from {src} to {dst}" in out.stdout
    assert "databases: 3 copied" in out.stdout
    assert "1 not yet initialised" in out.stdout
    assert "verified 7 actors against 7" in out.stdout and ": equal (7 equal" in out.stdout
    assert "copying: " in out.stderr and "actors/s" in out.stderr  # progress lines
    report = tmp_path / "report.jsonl"
    out = storage("verify", "--from", src, "--to", dst, "--report", str(report))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(lines) == 7 and {line["status"] for line in lines} == {"equal"}
    book = next(line for line in lines if line["key"] == ["n0"])
    assert book["from"] == book["to"] and book["from"]["db_rows"] == 3
    server = server_factory(APP, storage=dst)
    with Client(server.url) as client:
        check_served(client)


def test_copy_refuses_a_non_empty_target_unless_overwrite(tmp_path: Path) -> None:
    src, dst = f"sqlite:///{tmp_path / 'src'}", f"sqlite:///{tmp_path / 'dst'}"
    asyncio.run(populate(src, due=False))  # nothing fires in the source while it changes
    assert storage("copy", "--from", src, "--to", dst).returncode == 0
    out = storage("copy", "--from", src, "--to", dst)
    assert out.returncode == 1
    assert out.stderr.startswith("error: the target already has actors (such as ")
    assert "pass --overwrite" in out.stderr and "partial" not in out.stderr

    async def change() -> None:  # the source moves on; the target gets an actor of its own
        async with registry.test_client(src) as client:
            await client.get_or_create(Tally, "t0").increment(100)
            await client.get_or_create(Notebook, "n1").add("after the copy")
        async with registry.test_client(dst) as client:
            await client.get_or_create(Tally, "only-in-target").increment()

    asyncio.run(change())
    out = storage("verify", "--from", src, "--to", dst)
    assert out.returncode == 1
    assert "DIFFERENT (5 equal, 2 differ, 1 only in --to)" in out.stdout
    assert (
        "data key 'state' differs" in out.stdout
        and "database: 1 tables/4 rows vs 1 tables/3" in out.stdout
    )
    out = storage("copy", "--from", src, "--to", dst, "--overwrite", "--verify")
    assert out.returncode == 0, out.stderr
    assert "replaced 7 actors the target had (--overwrite)" in out.stdout
    assert "(7 equal, 0 differ, 1 only in --to)" in out.stdout  # the copy is complete
    out = storage("verify", "--from", src, "--to", dst)  # but the stores are not equal
    assert out.returncode == 1 and "(7 equal, 0 differ, 1 only in --to)" in out.stdout
    assert "only in --to: tally only-in-target" in out.stdout


async def test_verify_detects_a_changed_value_row_or_alarm(tmp_path: Path) -> None:
    src, dst = f"sqlite:///{tmp_path / 'src'}", f"sqlite:///{tmp_path / 'dst'}"
    await populate(src)
    a, b = await opened(src), await opened(dst)
    try:
        await copy_store(a, b)
        assert (await verify_stores(a, b)).ok
        book = await b.find_actor("notebook", ("n2",))
        tally = await b.find_actor("tally", ("t2",))
        assert book is not None and tally is not None
        taken = await b.activate(tally.id, "test")
        assert isinstance(taken, Activation)
        batch = WriteBatch(tally.id, taken.epoch, puts={b"state": b"\x93\x01\x01\x80"})
        batch.set_alarm, batch.alarm = True, 2e9
        assert await b.commit([batch]) == [None]
        await b.release(tally.id, "test", taken.epoch)
    finally:
        await a.close()
        await b.close()
    conn = apsw.Connection(str(tmp_path / "dst" / "actors" / f"{book.id}.db"))
    conn.execute("UPDATE note SET text = 'tampered' WHERE id = 2")
    conn.close()
    out = storage("verify", "--from", src, "--to", dst)
    assert out.returncode == 1
    assert "DIFFERENT (5 equal, 2 differ, 0 only in --to)" in out.stdout
    assert f"notebook n2 ({book.id}): database content differs (same tables and row" in out.stdout
    assert f"tally t2 ({tally.id}): data key 'state' differs; alarm: None vs 2000000000.0" in (
        out.stdout
    )


def test_copy_sqlite_to_postgres_and_serve(
    tmp_path: Path, postgres_url: str, server_factory: ServerFactory
) -> None:
    src = f"sqlite:///{tmp_path / 'src'}"
    asyncio.run(populate(src))
    pg_stores_dbs = asyncio.run(_stores_databases(postgres_url))
    if not pg_stores_dbs:  # until the PostgreSQL driver stores actor databases
        out = storage("copy", "--from", src, "--to", postgres_url)
        assert out.returncode == 1
        assert "has a database, but the target does not store actor databases: pass " in (
            out.stderr
        )
        assert asyncio.run(_count(postgres_url)) == 0  # refused before writing anything
    args = ["--skip-databases"] if not pg_stores_dbs else []
    out = storage("copy", "--from", src, "--to", postgres_url, *args)
    assert out.returncode == 0, out.stderr
    if not pg_stores_dbs:
        assert "skipped 3 actor databases: the target does not store actor databases" in out.stdout
        out = storage("verify", "--from", src, "--to", postgres_url)
        assert out.returncode == 1
        assert "database missing from --to (that store keeps no actor databases)" in out.stdout
    out = storage("verify", "--from", src, "--to", postgres_url, *args)
    assert out.returncode == 0, out.stdout
    server = server_factory(APP, storage=postgres_url)
    with Client(server.url) as client:
        check_served(client, notebooks=pg_stores_dbs)


def test_copy_postgres_to_sqlite_refuses_a_live_source(
    tmp_path: Path, postgres_url: str, server_factory: ServerFactory
) -> None:
    dst = f"sqlite:///{tmp_path / 'dst'}"
    pg_stores_dbs = asyncio.run(_stores_databases(postgres_url))
    asyncio.run(populate(postgres_url, notebooks=pg_stores_dbs))
    server = server_factory(APP, storage=postgres_url)
    out = storage("copy", "--from", postgres_url, "--to", dst)
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: --from {postgres_url} is in use by 1 live node(s) (")
    assert "pass --force" in out.stderr
    server.stop()  # a stopped node leaves the cluster
    out = storage("copy", "--from", postgres_url, "--to", dst, "--verify")
    assert out.returncode == 0, out.stderr
    assert ": equal (" in out.stdout
    served = server_factory(APP, storage=dst)
    with Client(served.url) as client:
        check_served(client, notebooks=pg_stores_dbs)


async def test_round_trip_of_1000_actors_through_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    """sqlite → postgresql → sqlite, verified equal at each step (the 10,000-actor run is
    ``python -m benchmarks.storage_copy``)."""
    src, pg, back = (
        await opened(f"sqlite:///{tmp_path / 'src'}"),
        await opened(postgres_url),
        await opened(f"sqlite:///{tmp_path / 'back'}"),
    )
    try:
        generated = await generate(src, 1000)
        assert generated.databases == 500
        skip = not await stores_databases(pg)
        first = await copy_store(src, pg, CopyOptions(skip_databases=skip))
        assert (first.actors, first.alarms, first.uninitialized) == (1000, 300, 100)
        assert (first.skipped_databases, first.databases) == ((500, 0) if skip else (0, 500))
        assert (await verify_stores(src, pg, skip_databases=skip)).ok
        assert (await copy_store(pg, back)).actors == 1000
        assert (await verify_stores(pg, back, skip_databases=skip)).ok
        trip = await verify_stores(src, back, skip_databases=skip)
        assert trip.ok and trip.equal == 1000 and trip.alarms == 300
    finally:
        for driver in (src, pg, back):
            await driver.close()


async def test_any_pair_of_drivers(tmp_path: Path, postgres_server_url: str) -> None:
    """memory → sqlite → memory with databases (a memory database is not in WAL mode: the
    logical copy), and postgresql → postgresql."""
    mem, disk, mem2 = MemoryDriver(), await opened(f"sqlite:///{tmp_path / 'd'}"), MemoryDriver()
    try:
        await generate(mem, 60)
        assert (await copy_store(mem, disk)).methods == {"backup": 30}
        assert (await copy_store(disk, mem2)).methods == {"sql": 30}
        for a, b in ((mem, disk), (disk, mem2), (mem, mem2)):
            report = await verify_stores(a, b)
            assert report.ok and report.databases == 30 and report.db_rows == 90
    finally:
        await disk.close()
    with fresh_database(postgres_server_url) as one, fresh_database(postgres_server_url) as two:
        a, b = await opened(one), await opened(two)
        try:
            await generate(a, 40)
            assert (await copy_store(a, b)).actors == 40
            assert (await verify_stores(a, b)).ok
        finally:
            await a.close()
            await b.close()


async def test_overwrite_replaces_and_a_failed_copy_says_so(tmp_path: Path) -> None:
    a, b = MemoryDriver(), MemoryDriver()
    await generate(a, 20)
    await copy_store(a, b)
    with pytest.raises(CopyError, match="already has actors") as refused:
        await copy_store(a, b)
    assert not refused.value.partial
    again = await copy_store(a, b, CopyOptions(overwrite=True))
    assert again.replaced == 20 and (await verify_stores(a, b)).ok
    with pytest.raises(CopyError, match="are the same store"):  # one store, two handles
        await copy_store(a, MemoryDriver(a.store), CopyOptions(overwrite=True))
    assert len(await a.list_actors(limit=100)) == 20  # the probe is gone, nothing replaced
    c = MemoryDriver()  # an actor awake on a live node of the target cannot be replaced
    await copy_store(a, c)
    held = (await c.list_actors(limit=1))[0]
    assert isinstance(await c.activate(held.id, "node-1"), Activation)
    with pytest.raises(CopyError, match="node-1 has it awake") as failed:
        await copy_store(a, c, CopyOptions(overwrite=True, concurrency=1))
    assert failed.value.partial


async def _stores_databases(url: str) -> bool:
    driver = await opened(url)
    try:
        return await stores_databases(driver)
    finally:
        await driver.close()


async def _count(url: str) -> int:
    driver = await opened(url)
    try:
        return len(await driver.list_actors(limit=1000))
    finally:
        await driver.close()


# -- errors ---------------------------------------------------------------------------------


def test_clear_errors(tmp_path: Path) -> None:
    src = f"sqlite:///{tmp_path / 'src'}"
    asyncio.run(populate(src, notebooks=False))
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    cases = [
        (["--from", "ftp://x", "--to", src], "error: --from ftp://x: unknown storage URL"),
        (["--from", src, "--to", "memory://"], "error: --to memory://: memory:// keeps nothing"),
        (["--from", src, "--to", down], f"error: --to {down}: cannot connect to PostgreSQL at"),
        (["--from", f"sqlite:///{tmp_path / 'none'}", "--to", src], "no actorkit store there"),
        (["--from", src, "--to", f"sqlite:///{tmp_path}/./src"], "name the same store"),
    ]
    for args, message in cases:
        out = storage("copy", *args)
        assert out.returncode == 1, (args, out)
        assert message in out.stderr and out.stderr.count("\n") == 1, (args, out.stderr)
    assert not (tmp_path / "none").exists()  # a missing source is not created

    async def while_locked() -> subprocess.CompletedProcess[str]:
        held = await opened(src)  # as a running server holds it
        try:
            return await asyncio.to_thread(
                storage, "copy", "--from", src, "--to", f"sqlite:///{tmp_path / 'dst'}"
            )
        finally:
            await held.close()

    out = asyncio.run(while_locked())
    assert out.returncode == 1
    assert "in use by another actorkit process (stop the server using it first)" in out.stderr


# -- actor databases ------------------------------------------------------------------------

_SCHEMA = """
CREATE VIRTUAL TABLE f USING fts5(a);
CREATE TABLE w (a TEXT PRIMARY KEY, b ANY) WITHOUT ROWID, STRICT;
CREATE TABLE s (a INTEGER PRIMARY KEY AUTOINCREMENT, b);
CREATE TABLE r (x, y, z AS (x * 2));
CREATE TABLE "we""ird" (id INTEGER PRIMARY KEY, v);
CREATE INDEX r_x ON r (x);
CREATE VIEW v AS SELECT * FROM r;
CREATE TRIGGER t AFTER INSERT ON s BEGIN INSERT INTO r (x) VALUES (new.b); END;
INSERT INTO f VALUES ('hello world'), ('bye');
INSERT INTO w VALUES ('k', x'00ff'), ('a', 1.5);
INSERT INTO s (b) VALUES (1), (2), (3); DELETE FROM s WHERE a = 3;
INSERT INTO r (x, y) VALUES (10, 'a'), (20, 'b'), (30, 'c'); DELETE FROM r WHERE x = 20;
INSERT INTO "we""ird" VALUES (5, NULL);
PRAGMA user_version = 7;
"""


def _db(path: Path, journal: str, page_size: int | None = None) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    if page_size:
        conn.execute(f"PRAGMA page_size = {page_size}")
    conn.execute("PRAGMA locking_mode = EXCLUSIVE").fetchall()
    conn.execute(f"PRAGMA journal_mode = {journal}").fetchall()
    return conn


@pytest.mark.parametrize(
    ("journal", "page_size", "method"),
    [
        ("wal", 4096, "backup"),
        ("wal", 8192, "sql"),
        ("memory", None, "sql"),
        ("delete", None, "sql"),
    ],
)
def test_database_copy_keeps_everything(
    tmp_path: Path, journal: str, page_size: int | None, method: str
) -> None:
    """A WAL source (as the sqlite driver keeps them) into destinations of each kind: the
    backup API where SQLite allows it, else the logical copy; the content is the same."""
    src = _db(tmp_path / "src.db", "wal")
    src.execute(_SCHEMA)
    want = digest_db(src)
    dst = _db(tmp_path / "dst.db", journal, page_size)
    dst.execute("CREATE TABLE leftover (x); INSERT INTO leftover VALUES (1)")
    assert copy_database(src, dst) == method
    assert digest_db(dst) == want and (want.tables, want.rows) == (9, 19)  # 5 are FTS shadows
    assert dst.execute("PRAGMA journal_mode").fetchall() == [(journal,)]
    assert dst.execute("SELECT rowid, y FROM r ORDER BY rowid").fetchall()[-2:] == [
        (4, "a"),
        (6, "c"),
    ]
    assert dst.execute("SELECT a FROM f WHERE f MATCH 'hello'").fetchall() == [("hello world",)]
    dst.execute("INSERT INTO s (b) VALUES (9)")  # AUTOINCREMENT continues after the copy
    assert dst.execute("SELECT max(a) FROM s").fetchall() == [(4,)]
    dst.close()
    again = _db(tmp_path / "dst.db", journal)
    assert again.execute("SELECT count(*) FROM r").fetchall() == [(6,)]


@pytest.mark.parametrize(
    ("db", "main", "db_after", "main_after"),
    [
        ((5, 7), (5, 8), (0, 7), None),  # main copy newer: stays newer
        ((5, 9), (5, 8), (0, 9), None),  # database copy newer (a crash between commits)
        ((6, 3), (5, 8), (0, 9), None),  # newer epoch, lower seq: the db must still win
        ((5, 9), (6, 2), (0, 9), 10),  # the main copy must still win
    ],
)
def test_state_copy_epochs_are_zeroed_keeping_the_winner(
    db: tuple[int, int],
    main: tuple[int, int],
    db_after: tuple[int, int],
    main_after: int | None,
) -> None:
    conn = apsw.Connection(":memory:")
    conn.execute(
        "CREATE TABLE _actorkit_state (id INTEGER PRIMARY KEY CHECK (id = 0), "
        "seq INTEGER NOT NULL, state BLOB, epoch INTEGER NOT NULL DEFAULT 0)"
    )
    conn.execute("INSERT INTO _actorkit_state VALUES (0, ?, x'01', ?)", (db[1], db[0]))
    assert normalise_state_copy(conn, main) == main_after
    assert conn.execute("SELECT epoch, seq FROM _actorkit_state").fetchall() == [db_after]
