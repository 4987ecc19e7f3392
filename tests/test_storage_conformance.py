"""The storage driver conformance suite: every driver must pass every test here.

Tests talk to the ``Driver`` API directly (``actorkit.storage.base``). To add a driver,
append a factory to ``DRIVER_FACTORIES``; the ``driver`` fixture opens and closes it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from actorkit import FencedError, StorageError
from actorkit.storage import Driver, MemoryDriver, SQLiteDriver, WriteBatch
from actorkit.storage.base import ActorRecord

DriverFactory = Callable[[Path], Driver]

#: name → factory(tmp_path). A PostgreSQL driver is added here as ("postgres", ...).
DRIVER_FACTORIES: list[tuple[str, DriverFactory]] = [
    ("memory", lambda tmp: MemoryDriver()),
    ("sqlite", lambda tmp: SQLiteDriver(tmp / "data")),
]


@pytest.fixture(
    params=[factory for _, factory in DRIVER_FACTORIES], ids=[n for n, _ in DRIVER_FACTORIES]
)
async def driver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Driver]:
    drv: Driver = request.param(tmp_path)
    await drv.open()
    try:
        yield drv
    finally:
        await drv.close()


def record(name: str = "counter", key: tuple[str, ...] = ("a",), **kw: object) -> ActorRecord:
    return ActorRecord(
        id=str(kw.pop("id", uuid.uuid4().hex)),
        name=name,
        key=key,
        created_at=time.time(),
        **kw,  # type: ignore[arg-type]
    )


async def new_actor(driver: Driver, key: tuple[str, ...] = ("a",), name: str = "counter") -> str:
    stored, created = await driver.create_actor(record(name, key))
    assert created
    return stored.id


# -- directory -------------------------------------------------------------------------


async def test_create_actor_stores_every_field(driver: Driver) -> None:
    rec = record("room", ("x", "y"), input=b"\x81\xa1a\x01", region="eu")
    stored, created = await driver.create_actor(rec)
    assert created
    assert (stored.id, stored.name, stored.key, stored.input, stored.region) == (
        rec.id,
        "room",
        ("x", "y"),
        b"\x81\xa1a\x01",
        "eu",
    )
    assert stored.created_at == pytest.approx(rec.created_at)
    assert stored.initialized is False
    found = await driver.find_actor("room", ("x", "y"))
    assert found is not None and found.id == rec.id and found.key == ("x", "y")
    by_id = await driver.get_actor(rec.id)
    assert by_id is not None and by_id.name == "room" and by_id.region == "eu"


async def test_create_actor_conflict_returns_existing(driver: Driver) -> None:
    first, _ = await driver.create_actor(record(key=("k",)))
    second, created = await driver.create_actor(record(key=("k",)))
    assert not created
    assert second.id == first.id


async def test_create_actor_is_atomic_under_200_concurrent_callers(driver: Driver) -> None:
    results = await asyncio.gather(*(driver.create_actor(record(key=("hot",))) for _ in range(200)))
    assert sum(created for _, created in results) == 1
    assert len({stored.id for stored, _ in results}) == 1
    assert len(await driver.list_actors("counter")) == 1


async def test_find_actor_matches_name_and_exact_key(driver: Driver) -> None:
    a = await new_actor(driver, ("a", "b"))
    await new_actor(driver, ("a",))
    await new_actor(driver, ("a", "b"), name="other")
    found = await driver.find_actor("counter", ("a", "b"))
    assert found is not None and found.id == a
    assert await driver.find_actor("counter", ("a", "b", "c")) is None
    assert await driver.find_actor("counter", ("b", "a")) is None
    assert await driver.find_actor("counter", ()) is None
    assert await driver.find_actor("nobody", ("a",)) is None
    assert await driver.get_actor("no-such-id") is None


async def test_empty_and_unicode_keys(driver: Driver) -> None:
    empty = await new_actor(driver, ())
    uni = await new_actor(driver, ("ключ", "🔑", ""))
    assert (await driver.find_actor("counter", ())).id == empty  # type: ignore[union-attr]
    assert (await driver.find_actor("counter", ("ключ", "🔑", ""))).id == uni  # type: ignore[union-attr]


async def test_list_actors_pages_by_id_with_name_filter(driver: Driver) -> None:
    ids = sorted([await new_actor(driver, (str(i),)) for i in range(25)])
    others = [await new_actor(driver, (str(i),), name="other") for i in range(5)]
    page1 = await driver.list_actors("counter", limit=10)
    assert [r.id for r in page1] == ids[:10]
    page2 = await driver.list_actors("counter", after=page1[-1].id, limit=10)
    assert [r.id for r in page2] == ids[10:20]
    page3 = await driver.list_actors("counter", after=page2[-1].id, limit=10)
    assert [r.id for r in page3] == ids[20:]
    assert await driver.list_actors("counter", after=ids[-1]) == []
    everything = await driver.list_actors(limit=1000)
    assert [r.id for r in everything] == sorted(ids + others)
    assert {r.id for r in await driver.list_actors("other")} == set(others)


async def test_delete_actor_frees_key_and_removes_data_and_alarm(driver: Driver) -> None:
    actor_id = await new_actor(driver, ("gone",))
    epoch = await driver.acquire(actor_id)
    batch = WriteBatch(actor_id, epoch, puts={b"state": b"1"}, alarm=5.0, set_alarm=True)
    assert await driver.commit([batch]) == [None]
    await driver.delete_actor(actor_id)
    assert await driver.get_actor(actor_id) is None
    assert await driver.find_actor("counter", ("gone",)) is None
    assert await driver.load(actor_id) == {}
    assert await driver.due_alarms(10.0) == []
    assert await driver.next_alarm() is None
    again, created = await driver.create_actor(record(key=("gone",)))
    assert created and again.id != actor_id
    assert await driver.load(again.id) == {}
    # A write from the deleted actor's last owner is fenced, not resurrected.
    (result,) = await driver.commit([WriteBatch(actor_id, epoch, puts={b"x": b"y"})])
    assert isinstance(result, FencedError)
    assert await driver.load(actor_id) == {}


# -- ownership ---------------------------------------------------------------------------


async def test_acquire_increments_epoch(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    first = await driver.acquire(actor_id)
    second = await driver.acquire(actor_id)
    assert second == first + 1
    # The new epoch is in force for fencing (a driver may persist it lazily, with the next
    # write transaction, so ``get_actor(...).epoch`` can lag until then).
    (old,) = await driver.commit([WriteBatch(actor_id, first, puts={b"k": b"old"})])
    assert isinstance(old, FencedError)
    assert await driver.commit([WriteBatch(actor_id, second, puts={b"k": b"new"})]) == [None]
    stored = await driver.get_actor(actor_id)
    assert stored is not None and stored.epoch == second
    assert await driver.load(actor_id) == {b"k": b"new"}
    with pytest.raises(KeyError):
        await driver.acquire("no-such-id")


# -- data --------------------------------------------------------------------------------


async def test_commit_applies_puts_deletes_prefixes_alarm_and_initialized(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    epoch = await driver.acquire(actor_id)
    setup = WriteBatch(
        actor_id,
        epoch,
        puts={
            b"state": b"s0",
            b"keep": b"k",
            b"sched/1": b"a",
            b"sched/2": b"b",
            b"schedx": b"c",
            b"gone": b"g",
        },
    )
    assert await driver.commit([setup]) == [None]
    change = WriteBatch(
        actor_id,
        epoch,
        puts={b"state": b"s1", b"new": b"n"},
        deletes={b"gone", b"never-existed"},
        delete_prefixes={b"sched/"},
        alarm=42.0,
        set_alarm=True,
        mark_initialized=True,
    )
    assert await driver.commit([change]) == [None]
    assert await driver.load(actor_id) == {
        b"state": b"s1",
        b"keep": b"k",
        b"schedx": b"c",
        b"new": b"n",
    }
    stored = await driver.get_actor(actor_id)
    assert stored is not None and stored.initialized and stored.input is None
    assert await driver.next_alarm() == 42.0
    # set_alarm with alarm=None clears; set_alarm=False leaves it alone.
    assert await driver.commit([WriteBatch(actor_id, epoch, puts={b"a": b"1"})]) == [None]
    assert await driver.next_alarm() == 42.0
    assert await driver.commit([WriteBatch(actor_id, epoch, set_alarm=True)]) == [None]
    assert await driver.next_alarm() is None


async def test_delete_prefix_with_ff_bytes(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    epoch = await driver.acquire(actor_id)
    puts = {b"p\xff": b"1", b"p\xff\xff": b"2", b"p\xff\x00": b"3", b"q": b"4", b"\xff": b"5"}
    assert await driver.commit([WriteBatch(actor_id, epoch, puts=puts)]) == [None]
    assert await driver.commit([WriteBatch(actor_id, epoch, delete_prefixes={b"p\xff"})]) == [None]
    assert await driver.load(actor_id) == {b"q": b"4", b"\xff": b"5"}
    assert await driver.commit([WriteBatch(actor_id, epoch, delete_prefixes={b"\xff"})]) == [None]
    assert await driver.load(actor_id) == {b"q": b"4"}


async def test_mark_initialized_keeps_input_until_then(driver: Driver) -> None:
    stored, _ = await driver.create_actor(record(input=b"in"))
    epoch = await driver.acquire(stored.id)
    assert await driver.commit([WriteBatch(stored.id, epoch, puts={b"x": b"1"})]) == [None]
    again = await driver.get_actor(stored.id)
    assert again is not None and again.input == b"in" and not again.initialized


async def test_stale_epoch_is_fenced_without_trace_and_others_succeed(driver: Driver) -> None:
    a = await new_actor(driver, ("a",))
    b = await new_actor(driver, ("b",))
    old = await driver.acquire(a)
    assert await driver.commit([WriteBatch(a, old, puts={b"state": b"old"})]) == [None]
    new = await driver.acquire(a)  # a newer activation took over
    eb = await driver.acquire(b)
    stale = WriteBatch(
        a,
        old,
        puts={b"state": b"stale", b"x": b"1"},
        deletes={b"state"},
        delete_prefixes={b""},
        alarm=1.0,
        set_alarm=True,
        mark_initialized=True,
    )
    good_b = WriteBatch(b, eb, puts={b"state": b"b1"})
    good_a = WriteBatch(a, new, puts={b"y": b"2"})
    results = await driver.commit([good_b, stale, good_a])
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], FencedError)
    assert await driver.load(a) == {b"state": b"old", b"y": b"2"}
    assert await driver.load(b) == {b"state": b"b1"}
    assert await driver.next_alarm() is None
    stored = await driver.get_actor(a)
    assert stored is not None and not stored.initialized
    # A batch for an actor that never existed is fenced too.
    (missing,) = await driver.commit([WriteBatch("no-such-id", 1, puts={b"x": b"1"})])
    assert isinstance(missing, FencedError)


async def test_batches_in_one_commit_apply_in_order(driver: Driver) -> None:
    a = await new_actor(driver)
    epoch = await driver.acquire(a)
    batches = [WriteBatch(a, epoch, puts={b"n": str(i).encode()}) for i in range(50)]
    assert await driver.commit(batches) == [None] * 50
    assert await driver.load(a) == {b"n": b"49"}


async def test_load_isolates_actors(driver: Driver) -> None:
    a = await new_actor(driver, ("a",))
    b = await new_actor(driver, ("b",))
    ea, eb = await driver.acquire(a), await driver.acquire(b)
    await driver.commit(
        [WriteBatch(a, ea, puts={b"k": b"a"}), WriteBatch(b, eb, puts={b"k": b"b"})]
    )
    assert await driver.load(a) == {b"k": b"a"}
    assert await driver.load(b) == {b"k": b"b"}
    assert await driver.load("no-such-id") == {}


# -- alarms ------------------------------------------------------------------------------


async def test_due_alarms_and_next_alarm_ordering(driver: Driver) -> None:
    assert await driver.next_alarm() is None
    ids = [await new_actor(driver, (str(i),)) for i in range(4)]
    whens = [30.0, 10.0, 20.0, 100.0]
    for actor_id, when in zip(ids, whens, strict=True):
        epoch = await driver.acquire(actor_id)
        await driver.commit([WriteBatch(actor_id, epoch, alarm=when, set_alarm=True)])
    assert await driver.next_alarm() == 10.0
    assert await driver.due_alarms(5.0) == []
    assert await driver.due_alarms(30.0) == [(ids[1], 10.0), (ids[2], 20.0), (ids[0], 30.0)]
    assert await driver.due_alarms(1000.0, limit=2) == [(ids[1], 10.0), (ids[2], 20.0)]
    # Replacing an alarm moves it.
    epoch = await driver.acquire(ids[1])
    await driver.commit([WriteBatch(ids[1], epoch, alarm=200.0, set_alarm=True)])
    assert await driver.next_alarm() == 20.0
    assert [a for a, _ in await driver.due_alarms(1000.0)] == [ids[2], ids[0], ids[3], ids[1]]


# -- sqlite specifics --------------------------------------------------------------------


async def test_sqlite_data_survives_close_and_reopen(tmp_path: Path) -> None:
    first = SQLiteDriver(tmp_path / "data")
    await first.open()
    stored, _ = await first.create_actor(record(key=("durable",), input=b"i"))
    epoch = await first.acquire(stored.id)
    await first.commit(
        [
            WriteBatch(
                stored.id,
                epoch,
                puts={b"state": b"v"},
                alarm=7.0,
                set_alarm=True,
                mark_initialized=True,
            )
        ]
    )
    await first.close()

    second = SQLiteDriver(tmp_path / "data")
    await second.open()
    try:
        found = await second.find_actor("counter", ("durable",))
        assert found is not None and found.id == stored.id
        assert found.initialized and found.epoch == epoch
        assert await second.load(stored.id) == {b"state": b"v"}
        assert await second.next_alarm() == 7.0
        assert await second.acquire(stored.id) == epoch + 1
    finally:
        await second.close()


async def test_sqlite_refuses_second_driver_on_same_directory(tmp_path: Path) -> None:
    first = SQLiteDriver(tmp_path / "data")
    await first.open()
    try:
        second = SQLiteDriver(tmp_path / "data")
        with pytest.raises(StorageError, match="in use by another actorkit process"):
            await second.open()
        await second.close()
    finally:
        await first.close()
    # Once released, the directory can be opened again.
    third = SQLiteDriver(tmp_path / "data")
    await third.open()
    await third.close()


def _hold_directory(
    path: str, ready: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event
) -> None:
    async def hold() -> None:
        drv = SQLiteDriver(path)
        await drv.open()
        ready.set()
        while not done.is_set():  # noqa: ASYNC110 - plain process, polling is fine
            await asyncio.sleep(0.01)
        await drv.close()

    asyncio.run(hold())


async def test_sqlite_refuses_second_process_on_same_directory(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_directory, args=(str(tmp_path / "data"), ready, done))
    proc.start()
    try:
        assert await asyncio.to_thread(ready.wait, 60)
        drv = SQLiteDriver(tmp_path / "data")
        with pytest.raises(StorageError, match="in use by another actorkit process"):
            await drv.open()
        await drv.close()
    finally:
        done.set()
        await asyncio.to_thread(proc.join, 60)
    assert proc.exitcode == 0


async def test_commit_now_matches_commit_when_supported(driver: Driver) -> None:
    """``commit_now`` is optional (``None``: unsupported); when supported it is ``commit``."""
    a = await new_actor(driver)
    epoch = await driver.acquire(a)
    results = driver.commit_now([WriteBatch(a, epoch, puts={b"k": b"v"})])
    if results is None:
        assert await driver.load(a) == {}
        return
    assert results == [None]
    assert await driver.load(a) == {b"k": b"v"}
    (fenced,) = driver.commit_now([WriteBatch(a, epoch - 1, puts={b"k": b"stale"})])  # type: ignore[misc]
    assert isinstance(fenced, FencedError)
    assert await driver.load(a) == {b"k": b"v"}


# -- actor databases (self.db) -----------------------------------------------------------
# open/close/delete_actor_db are blocking: the runtime calls them from its database pool.


async def test_actor_db_is_created_on_demand_and_persists_across_close(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    assert await asyncio.to_thread(driver.open_actor_db, actor_id, create=False) is None

    def write() -> None:
        conn = driver.open_actor_db(actor_id, create=True)
        assert conn is not None
        conn.execute("CREATE TABLE t (x); INSERT INTO t VALUES (42)")
        driver.close_actor_db(actor_id, conn)

    def read() -> list[tuple[object, ...]]:
        conn = driver.open_actor_db(actor_id, create=False)
        assert conn is not None
        try:
            return [tuple(row) for row in conn.execute("SELECT x FROM t")]
        finally:
            driver.close_actor_db(actor_id, conn)

    await asyncio.to_thread(write)
    assert await asyncio.to_thread(read) == [(42,)]
    other = await new_actor(driver, key=("b",))
    assert await asyncio.to_thread(driver.open_actor_db, other, create=False) is None


async def test_delete_actor_deletes_its_database(driver: Driver) -> None:
    actor_id = await new_actor(driver)

    def create() -> None:
        conn = driver.open_actor_db(actor_id, create=True)
        assert conn is not None
        conn.execute("CREATE TABLE t (x)")
        driver.close_actor_db(actor_id, conn)

    await asyncio.to_thread(create)
    await driver.delete_actor(actor_id)
    assert await asyncio.to_thread(driver.open_actor_db, actor_id, create=False) is None
