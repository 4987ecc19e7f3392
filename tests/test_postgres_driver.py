"""What only the PostgreSQL driver has: leases on the database's clock, races between
handles (nodes), schema creation and versions, connection failures, and index use at scale.

The behaviour every driver shares is in ``test_storage_conformance.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import psycopg
import pytest

from actorkit import FencedError, StorageError
from actorkit.storage import driver_from_url
from actorkit.storage.base import Activation, ActorRecord, Member, OwnedElsewhere, WriteBatch
from actorkit.storage.postgres import FIND_SQL, GET_SQL, PostgresDriver
from actorkit.storage.postgres_schema import SCHEMA_VERSION


@asynccontextmanager
async def opened(url: str, **kw: float) -> AsyncIterator[PostgresDriver]:
    drv = PostgresDriver(url, **kw)  # type: ignore[arg-type]
    await drv.open()
    try:
        yield drv
    finally:
        await drv.close()


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[PostgresDriver]:
    async with opened(postgres_url) as drv:
        yield drv


def sql(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A plain connection, to look at (or tamper with) what the driver stored."""
    return psycopg.connect(url, autocommit=True)


async def new_actor(drv: PostgresDriver, key: tuple[str, ...] = ("a",)) -> str:
    record = ActorRecord(uuid.uuid4().hex, "counter", key, time.time())
    stored, created = await drv.create_actor(record)
    assert created
    return stored.id


async def take(drv: PostgresDriver, actor_id: str, owner: str) -> int:
    got = await drv.activate(actor_id, owner)
    assert isinstance(got, Activation), got
    return got.epoch


async def wait_until_expired(drv: PostgresDriver, member_id: str, within: float = 10.0) -> None:
    """Poll ``members()`` until the member's lease has run out on the database's clock."""
    deadline = time.monotonic() + within
    while True:
        (member,) = [m for m in await drv.members() if m.id == member_id]
        if member.lease_left <= 0:
            assert not member.live
            return
        assert time.monotonic() < deadline, member
        await asyncio.sleep(min(0.05, member.lease_left))


@pytest.fixture
def free_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    yield port  # closed: nothing listens there


# -- leases and membership ---------------------------------------------------------------


async def test_lease_runs_out_on_the_database_clock_and_frees_the_actors(
    pg: PostgresDriver,
) -> None:
    await pg.join(Member("node-a", "http://a"), 0.5)
    actor_id = await new_actor(pg)
    old = await take(pg, actor_id, "node-a")
    await pg.commit([WriteBatch(actor_id, old, puts={b"state": b"a"}, alarm=5.0, set_alarm=True)])
    assert await pg.activate(actor_id, "node-b") == OwnedElsewhere("node-a")
    assert await pg.claim_alarms("node-a", 10.0, hold=3600.0) == [(actor_id, 5.0)]
    assert await pg.claim_alarms("node-b", 10.0, hold=3600.0) == []
    await wait_until_expired(pg, "node-a")
    assert await pg.renew("node-a", 0.5) is False  # too late: node-a must join again
    # An expired member's claim is void and its actor is anyone's.
    assert await pg.claim_alarms("node-b", 10.0, hold=3600.0) == [(actor_id, 5.0)]
    got = await pg.activate(actor_id, "node-b")
    assert isinstance(got, Activation) and got.epoch == old + 1
    assert got.data == {b"state": b"a"}
    (late,) = await pg.commit([WriteBatch(actor_id, old, puts={b"state": b"late"})])
    assert isinstance(late, FencedError)
    # node-a joins again: it is live, but the actor stays node-b's.
    await pg.join(Member("node-a", "http://a"), 30.0)
    assert await pg.renew("node-a", 30.0) is True
    assert await pg.activate(actor_id, "node-a") == OwnedElsewhere("node-b")


async def test_leave_clears_the_members_ownership(pg: PostgresDriver, postgres_url: str) -> None:
    await pg.join(Member("node-a", "http://a"), 30.0)
    await pg.join(Member("node-c", "http://c"), 30.0)
    mine = [await new_actor(pg, (str(i),)) for i in range(3)]
    other = await new_actor(pg, ("other",))
    epochs = [await take(pg, actor_id, "node-a") for actor_id in mine]
    await take(pg, other, "node-c")
    await pg.leave("node-a")
    with sql(postgres_url) as conn:
        owners = dict(conn.execute("SELECT id, owner FROM actorkit.actors").fetchall())
    assert owners == {**dict.fromkeys(mine), other: "node-c"}
    for actor_id, epoch in zip(mine, epochs, strict=True):
        assert await take(pg, actor_id, "node-b") == epoch + 1
    assert await pg.activate(other, "node-b") == OwnedElsewhere("node-c")


async def test_join_removes_members_long_dead_and_keeps_the_rest(
    pg: PostgresDriver, postgres_url: str
) -> None:
    await pg.join(Member("alive", "http://alive"), 30.0)
    with sql(postgres_url) as conn:
        conn.execute(  # killed half an hour ago, and just now
            "INSERT INTO actorkit.members (id, url, region, actor_types, started_at, lease_until) "
            "VALUES ('long-dead', 'http://x', NULL, '{}', 0, now() - interval '30 min'),"
            " ('just-dead', 'http://y', NULL, '{}', 0, now() - interval '1 s')"
        )
    await pg.join(Member("newcomer", "http://new"), 30.0)
    ids = {m.id for m in await pg.members()}
    assert ids == {"alive", "just-dead", "newcomer"}


async def test_leave_racing_commits_of_many_actors_does_not_deadlock(
    postgres_url: str,
) -> None:
    """leave() and commit() lock the same actor rows: in the same (id) order, or PostgreSQL
    would abort one of them as a deadlock."""
    async with opened(postgres_url) as a, opened(postgres_url) as b:
        for round_ in range(3):
            owner = f"node-{round_}"
            await a.join(Member(owner, None), 30.0)
            ids = [await new_actor(a, (str(round_), str(i))) for i in range(150)]
            epochs = {actor_id: await take(a, actor_id, owner) for actor_id in ids}
            batches = [WriteBatch(i, e, puts={b"k": b"v"}) for i, e in epochs.items()]
            commits = [a.commit(batches[::-1]) for _ in range(4)]
            results = await asyncio.gather(*commits, b.leave(owner))
            assert all(r == [None] * len(batches) for r in results[:-1])
            for actor_id in ids:  # and node-b may take them all at once
                assert isinstance(await b.activate(actor_id, "node-b"), Activation)


async def test_owner_that_never_joined_is_registered_and_removed_by_close(
    postgres_url: str,
) -> None:
    async with opened(postgres_url, lease=60.0) as a, opened(postgres_url) as b:
        actor_id = await new_actor(a)
        await take(a, actor_id, "node-a")
        await b.join(Member("node-b", "http://b"), 30.0)
        listed = {m.id: m for m in await b.members()}
        assert listed["node-a"].url is None and 50 < listed["node-a"].lease_left <= 60
        await a.close()
        assert [m.id for m in await b.members()] == ["node-b"]  # b's own row stays


# -- races between handles ---------------------------------------------------------------


async def test_three_handles_claiming_the_same_alarms_claim_each_once(postgres_url: str) -> None:
    async with opened(postgres_url) as a, opened(postgres_url) as b, opened(postgres_url) as c:
        ids = [await new_actor(a, (str(i),)) for i in range(30)]
        for i, actor_id in enumerate(ids):
            epoch = await take(a, actor_id, "writer")
            await a.commit([WriteBatch(actor_id, epoch, alarm=float(i), set_alarm=True)])
            await a.release(actor_id, "writer", epoch)
        claimed: dict[str, str] = {}  # actor id → the owner that claimed it
        for wave in range(20):  # new owners each wave: earlier claims are held by live ones
            if len(claimed) == len(ids):
                break
            claimers = [(h, f"node-{wave}-{n}") for n, h in enumerate((a, b, c) * 3)]
            results = await asyncio.gather(
                *(h.claim_alarms(owner, 100.0, hold=3600.0, limit=4) for h, owner in claimers)
            )
            for (_, owner), got in zip(claimers, results, strict=True):
                assert got == sorted(got, key=lambda a: a[1])  # earliest first
                for actor_id, _ in got:
                    assert actor_id not in claimed, (actor_id, owner, claimed.get(actor_id))
                    claimed[actor_id] = owner
        assert sorted(claimed) == sorted(ids)
        assert len(set(claimed.values())) > 3  # the claims really were spread out


async def write_until_fenced(
    drv: PostgresDriver, actor_id: str, epoch: int, acked: list[int], started: asyncio.Event
) -> list[int]:
    """Commit n = 1, 2, … one after another until one is fenced; return the fenced ones."""
    n = 0
    while True:
        n += 1
        (result,) = await drv.commit([WriteBatch(actor_id, epoch, puts={b"n": b"%d" % n})])
        if result is not None:
            assert isinstance(result, FencedError)
            return [n]
        acked.append(n)
        if n == 3:
            started.set()


async def test_commits_racing_a_takeover_are_fenced_from_the_takeover_on(
    postgres_url: str,
) -> None:
    """Writes of an owner that is being replaced: those acknowledged before the new owner's
    activation are all in what it loads; every later one is fenced."""
    async with opened(postgres_url) as a, opened(postgres_url) as b:
        for round_ in range(10):
            actor_id = await new_actor(a, (str(round_),))
            epoch = await take(a, actor_id, f"node-a{round_}")
            acked: list[int] = []
            started = asyncio.Event()
            writer = asyncio.create_task(write_until_fenced(a, actor_id, epoch, acked, started))
            await started.wait()
            await b.leave(f"node-a{round_}")  # as if its lease had run out
            got = await b.activate(actor_id, "node-b")
            fenced = await writer
            assert isinstance(got, Activation)
            assert acked == list(range(1, len(acked) + 1)) and fenced == [len(acked) + 1]
            assert got.data == {b"n": b"%d" % acked[-1]}
            assert await b.load(actor_id) == {b"n": b"%d" % acked[-1]}


async def test_open_concurrently_on_a_fresh_database(postgres_url: str) -> None:
    drivers = [PostgresDriver(postgres_url, pool_size=2) for _ in range(4)]
    try:
        await asyncio.gather(*(d.open() for d in drivers))
        await new_actor(drivers[0])
        assert len(await drivers[3].list_actors()) == 1
    finally:
        for d in drivers:
            await d.close()
    with sql(postgres_url) as conn:
        rows = conn.execute("SELECT k, v FROM actorkit.meta").fetchall()
    assert rows == [("schema_version", str(SCHEMA_VERSION))]


# -- opening, versions, failures ---------------------------------------------------------


async def test_unreachable_server_is_a_quick_clear_storage_error(free_port: int) -> None:
    drv = driver_from_url(f"postgresql://postgres@127.0.0.1:{free_port}/nowhere")
    assert isinstance(drv, PostgresDriver)
    started = time.monotonic()
    with pytest.raises(StorageError, match=f"127.0.0.1:{free_port}") as info:
        await drv.open()
    assert time.monotonic() - started < 5
    assert "refused" in str(info.value).lower() and "\n" not in str(info.value)
    await drv.close()  # safe after a failed open
    with pytest.raises(StorageError, match="not open"):
        await drv.get_actor("x")


async def test_silent_server_times_out_instead_of_hanging() -> None:
    # Accepts TCP connections (the kernel does, from the backlog) but never says a word.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        drv = PostgresDriver(f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=2)
        started = time.monotonic()
        with pytest.raises(StorageError, match=f"127.0.0.1:{port}.*timeout"):
            await drv.open()
        assert time.monotonic() - started < 5


async def test_close_waits_for_commits_in_flight(pg: PostgresDriver) -> None:
    actor_id = await new_actor(pg)
    epoch = await take(pg, actor_id, "node-a")
    bulk = {i.to_bytes(4, "big"): b"v" * 100 for i in range(20_000)}
    pending = asyncio.ensure_future(pg.commit([WriteBatch(actor_id, epoch, puts=bulk)]))
    await asyncio.sleep(0)  # the commit has started
    await pg.close()
    assert pending.done() and pending.result() == [None]
    with pytest.raises(StorageError, match="not open"):
        await pg.load(actor_id)
    async with opened(pg.url) as again:
        assert len(await again.load(actor_id)) == 20_000


async def test_newer_schema_version_is_refused(postgres_url: str) -> None:
    async with opened(postgres_url):
        pass
    with sql(postgres_url) as conn:
        conn.execute("UPDATE actorkit.meta SET v = '99' WHERE k = 'schema_version'")
    drv = PostgresDriver(postgres_url)
    with pytest.raises(StorageError, match=r"schema version 99.*upgrade actorkit"):
        await drv.open()
    await drv.close()


async def test_reopen_keeps_data_and_epochs(postgres_url: str) -> None:
    async with opened(postgres_url) as first:
        actor_id = await new_actor(first)
        epoch = await take(first, actor_id, "node-a")
        await first.commit([WriteBatch(actor_id, epoch, puts={b"k": b"v"}, mark_initialized=True)])
    async with opened(postgres_url) as second:
        got = await second.activate(actor_id, "node-b")
        assert isinstance(got, Activation)
        assert got.epoch == epoch + 1 and got.data == {b"k": b"v"} and got.record.initialized


def kill_connections(url: str) -> None:
    """End every other session on the database: to the pool, a server restart."""
    with sql(url) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


async def test_pool_recovers_by_itself_after_losing_its_connections(
    pg: PostgresDriver, postgres_url: str
) -> None:
    actor_id = await new_actor(pg)
    epoch = await take(pg, actor_id, "node-a")
    kill_connections(postgres_url)
    # A call that is safe to repeat is tried again on a live connection: no error at all.
    assert await pg.commit([WriteBatch(actor_id, epoch, puts={b"k": b"v"})]) == [None]
    assert await pg.load(actor_id) == {b"k": b"v"}
    kill_connections(postgres_url)
    # One that is not (a create might have committed) fails clearly, once.
    with pytest.raises(StorageError, match="PostgreSQL at ") as info:
        await new_actor(pg, ("b",))
    assert "\n" not in str(info.value)
    for i in range(2 * pg.pool_size):  # and the pool has replaced its dead connections
        await new_actor(pg, (f"c{i}",))
    made = 1 + 2 * pg.pool_size
    assert len(await pg.list_actors()) in (made, made + 1)  # "b" may or may not exist


async def test_commits_are_synchronous_even_if_the_server_default_is_not(
    postgres_url: str,
) -> None:
    with sql(postgres_url) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_isolation = serializable')
    async with opened(postgres_url) as drv:
        assert drv.db.pool is not None
        async with drv.db.pool.connection() as pooled:
            cur = await pooled.execute(
                "SELECT current_setting('synchronous_commit'), "
                "current_setting('default_transaction_isolation')"
            )
            assert await cur.fetchone() == ("on", "read committed")


def test_missing_psycopg_names_the_extra_to_install() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from actorkit.storage import driver_from_url\n"
        "try:\n    driver_from_url('postgresql://localhost/x')\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'actorkit[postgres]'" in out.stdout


# -- keys and scale ----------------------------------------------------------------------


async def test_long_keys_of_escaped_characters_fit_the_index(pg: PostgresDriver) -> None:
    # 16 parts of 64 control characters: ~6 KiB of JSON, over btree's ~2.7 KiB per entry.
    key = tuple(chr(i % 32) * 64 for i in range(16))
    actor_id = await new_actor(pg, key)
    found = await pg.find_actor("counter", key)
    assert found is not None and found.id == actor_id and found.key == key
    assert await pg.find_actor("counter", key[:-1]) is None


async def test_lookups_use_the_indexes_with_100_000_actors(
    pg: PostgresDriver, postgres_url: str
) -> None:
    with sql(postgres_url) as conn:
        conn.execute(
            "INSERT INTO actorkit.actors (id, name, key, key_hash, created_at) "
            "SELECT md5(i::text), 'bulk', '[\"' || i || '\"]', "
            "sha256(convert_to('[\"' || i || '\"]', 'UTF8')), 0 "
            "FROM generate_series(1, 100000) AS i"
        )
        conn.execute("ANALYZE actorkit.actors")
    found = await pg.find_actor("bulk", ("77777",))
    assert found is not None and found.id == hashlib.md5(b"77777").hexdigest()
    by_id = await pg.get_actor(found.id)
    assert by_id is not None and by_id.key == ("77777",)
    assert len(await pg.list_actors("bulk", after=found.id, limit=10)) == 10
    with sql(postgres_url) as conn:
        for query, params in [
            (FIND_SQL, ("bulk", found.id.encode())),
            (GET_SQL, (found.id,)),
        ]:
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query, params).fetchall())
            assert "Index Scan" in plan or "Index Only Scan" in plan, plan
            assert "Seq Scan" not in plan, plan
    # Flat: a lookup among 100,000 costs what it costs among a handful.
    started = time.perf_counter()
    for i in range(1, 201):
        assert await pg.find_actor("bulk", (str(i * 400),)) is not None
    per_lookup = (time.perf_counter() - started) / 200
    assert per_lookup < 0.01, per_lookup
