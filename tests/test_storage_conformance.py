"""The storage driver conformance suite: every driver must pass every test here.

Tests talk to the ``Driver`` API directly (``actorkit.storage.base``). To add a driver,
append a factory to ``DRIVER_FACTORIES``; the ``driver`` fixture opens and closes it.

Tests named ``test_memory_*`` need two driver handles on one store (two nodes sharing a
backend) and use ``MemoryDriver(store)`` directly; ``test_postgres_*`` are the same tests
with two ``PostgresDriver`` handles on one database. Tests named ``test_sqlite_*`` cover the
SQLite driver's single-process specifics (restart, directory lock).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from actorkit import FencedError, StorageError
from actorkit.storage import Driver, MemoryDriver, SQLiteDriver, WriteBatch
from actorkit.storage.base import Activation, ActorRecord, Member, OwnedElsewhere
from actorkit.storage.postgres import PostgresDriver

#: Builds a driver; takes what it needs from the test's fixtures (``tmp_path``, the
#: per-test ``postgres_url``) through the request, so each driver pulls in only its own.
DriverFactory = Callable[[pytest.FixtureRequest], Driver]

#: name → factory(request).
DRIVER_FACTORIES: list[tuple[str, DriverFactory]] = [
    ("memory", lambda request: MemoryDriver()),
    ("sqlite", lambda request: SQLiteDriver(request.getfixturevalue("tmp_path") / "data")),
    ("postgres", lambda request: PostgresDriver(request.getfixturevalue("postgres_url"))),
]


@pytest.fixture(
    params=[factory for _, factory in DRIVER_FACTORIES], ids=[n for n, _ in DRIVER_FACTORIES]
)
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    drv: Driver = request.param(request)
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


async def take(driver: Driver, actor_id: str, owner: str = "node-a") -> int:
    """Activate ``actor_id`` for ``owner``, which must succeed; return the new epoch."""
    got = await driver.activate(actor_id, owner)
    assert isinstance(got, Activation), got
    assert got.epoch == got.record.epoch
    return got.epoch


async def set_alarm(driver: Driver, actor_id: str, when: float, owner: str = "writer") -> None:
    """Give ``actor_id`` an alarm at ``when`` and leave it held by nobody."""
    epoch = await take(driver, actor_id, owner)
    assert await driver.commit([WriteBatch(actor_id, epoch, alarm=when, set_alarm=True)]) == [None]
    await driver.release(actor_id, owner, epoch)


async def all_alarms(driver: Driver) -> list[tuple[str, float]]:
    return await driver.due_alarms(math.inf)


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
    epoch = await take(driver, actor_id)
    batch = WriteBatch(actor_id, epoch, puts={b"state": b"1"}, alarm=5.0, set_alarm=True)
    assert await driver.commit([batch]) == [None]
    await driver.delete_actor(actor_id, epoch)
    assert await driver.get_actor(actor_id) is None
    assert await driver.find_actor("counter", ("gone",)) is None
    assert await driver.load(actor_id) == {}
    assert await all_alarms(driver) == []
    assert await driver.activate(actor_id, "node-a") is None
    again, created = await driver.create_actor(record(key=("gone",)))
    assert created and again.id != actor_id
    assert await driver.load(again.id) == {}
    # A write from the deleted actor's last owner is fenced, not resurrected.
    (result,) = await driver.commit([WriteBatch(actor_id, epoch, puts={b"x": b"y"})])
    assert isinstance(result, FencedError)
    assert await driver.load(actor_id) == {}


async def test_delete_actor_is_fenced_by_epoch(driver: Driver) -> None:
    actor_id = await new_actor(driver, ("fenced",))
    old = await take(driver, actor_id)
    batch = WriteBatch(actor_id, old, puts={b"state": b"1"}, alarm=5.0, set_alarm=True)
    assert await driver.commit([batch]) == [None]
    new = await take(driver, actor_id)
    with pytest.raises(FencedError):
        await driver.delete_actor(actor_id, old)
    with pytest.raises(FencedError):
        await driver.delete_actor(actor_id, new + 1)
    # Nothing was deleted: record, key, data and alarm are all still there.
    found = await driver.find_actor("counter", ("fenced",))
    assert found is not None and found.id == actor_id
    assert await driver.load(actor_id) == {b"state": b"1"}
    assert await all_alarms(driver) == [(actor_id, 5.0)]
    assert await driver.commit([WriteBatch(actor_id, new, puts={b"k": b"v"})]) == [None]
    await driver.delete_actor(actor_id, new)
    assert await driver.get_actor(actor_id) is None
    assert await driver.load(actor_id) == {}
    assert await all_alarms(driver) == []
    # Unknown (or already deleted) ids are a no-op, whatever the epoch.
    await driver.delete_actor(actor_id, new)
    await driver.delete_actor("no-such-id", 7)


# -- ownership ---------------------------------------------------------------------------


async def test_activate_returns_record_and_data_in_one_call(driver: Driver) -> None:
    stored, _ = await driver.create_actor(record("room", ("r",), input=b"in", region="eu"))
    first = await driver.activate(stored.id, "node-a")
    assert isinstance(first, Activation)
    assert (first.record.id, first.record.name, first.record.key) == (stored.id, "room", ("r",))
    assert (first.record.input, first.record.region) == (b"in", "eu")
    assert not first.record.initialized
    assert first.data == {}
    assert first.epoch == first.record.epoch == stored.epoch + 1
    puts = {b"state": b"s", b"\x00": b"", b"\xff\xff": b"\x00\xff"}
    batch = WriteBatch(stored.id, first.epoch, puts=puts, mark_initialized=True)
    assert await driver.commit([batch]) == [None]
    # Re-activation by the same owner is allowed and bumps the epoch again.
    second = await driver.activate(stored.id, "node-a")
    assert isinstance(second, Activation)
    assert second.epoch == first.epoch + 1
    assert second.data == puts
    assert second.record.initialized and second.record.input is None
    third = await driver.activate(stored.id, "node-a")
    assert isinstance(third, Activation) and third.epoch == second.epoch + 1
    assert third.data == puts


async def test_activate_increments_epoch_and_fences_older_ones(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    first = await take(driver, actor_id)
    second = await take(driver, actor_id)
    assert second == first + 1
    # The new epoch is in force for fencing (a driver may persist it lazily, with the next
    # write transaction, so ``get_actor(...).epoch`` can lag until then).
    (old,) = await driver.commit([WriteBatch(actor_id, first, puts={b"k": b"old"})])
    assert isinstance(old, FencedError)
    assert await driver.commit([WriteBatch(actor_id, second, puts={b"k": b"new"})]) == [None]
    stored = await driver.get_actor(actor_id)
    assert stored is not None and stored.epoch == second
    assert await driver.load(actor_id) == {b"k": b"new"}


async def test_activate_unknown_actor_returns_none(driver: Driver) -> None:
    assert await driver.activate("no-such-id", "node-a") is None
    await driver.release("no-such-id", "node-a", 1)  # a no-op, not an error


async def test_activate_held_by_another_owner_is_refused_and_changes_nothing(
    driver: Driver,
) -> None:
    actor_id = await new_actor(driver)
    epoch = await take(driver, actor_id, "node-a")
    refused = await driver.activate(actor_id, "node-b")
    assert refused == OwnedElsewhere("node-a")
    assert await driver.activate(actor_id, "node-c") == OwnedElsewhere("node-a")
    # The holder's epoch is still current: its writes succeed.
    assert await driver.commit([WriteBatch(actor_id, epoch, puts={b"k": b"a"})]) == [None]
    stored = await driver.get_actor(actor_id)
    assert stored is not None and stored.epoch == epoch
    assert await driver.load(actor_id) == {b"k": b"a"}
    assert await take(driver, actor_id, "node-a") == epoch + 1


async def test_release_lets_another_owner_activate_and_fences_the_old_one(
    driver: Driver,
) -> None:
    actor_id = await new_actor(driver)
    old = await take(driver, actor_id, "node-a")
    assert await driver.commit([WriteBatch(actor_id, old, puts={b"state": b"a"})]) == [None]
    await driver.release(actor_id, "node-a", old)
    got = await driver.activate(actor_id, "node-b")
    assert isinstance(got, Activation)
    assert got.epoch > old
    assert got.data == {b"state": b"a"}
    stale = WriteBatch(
        actor_id,
        old,
        puts={b"state": b"late", b"x": b"1"},
        deletes={b"state"},
        alarm=1.0,
        set_alarm=True,
        mark_initialized=True,
    )
    (result,) = await driver.commit([stale])
    assert isinstance(result, FencedError)
    assert await driver.load(actor_id) == {b"state": b"a"}
    assert await all_alarms(driver) == []
    stored = await driver.get_actor(actor_id)
    assert stored is not None and not stored.initialized
    # node-b holds it now; node-a is refused.
    assert await driver.activate(actor_id, "node-a") == OwnedElsewhere("node-b")
    assert await driver.commit([WriteBatch(actor_id, got.epoch, puts={b"state": b"b"})]) == [None]


async def test_release_with_stale_epoch_or_by_non_owner_is_a_no_op(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    first = await take(driver, actor_id, "node-a")
    second = await take(driver, actor_id, "node-a")
    await driver.release(actor_id, "node-a", first)  # stale epoch
    assert await driver.activate(actor_id, "node-c") == OwnedElsewhere("node-a")
    await driver.release(actor_id, "node-b", second)  # not the owner
    assert await driver.activate(actor_id, "node-c") == OwnedElsewhere("node-a")
    await driver.release(actor_id, "node-b", second + 1)
    assert await driver.activate(actor_id, "node-c") == OwnedElsewhere("node-a")
    assert await driver.commit([WriteBatch(actor_id, second, puts={b"k": b"v"})]) == [None]
    await driver.release(actor_id, "node-a", second)
    assert await take(driver, actor_id, "node-c") == second + 1


async def test_50_owners_racing_to_activate_one_actor_exactly_one_wins(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    owners = [f"node-{i}" for i in range(50)]
    results = await asyncio.gather(*(driver.activate(actor_id, o) for o in owners))
    winners = [o for o, r in zip(owners, results, strict=True) if isinstance(r, Activation)]
    assert len(winners) == 1, results
    (winner,) = winners
    won = results[owners.index(winner)]
    assert isinstance(won, Activation) and won.epoch == 1
    assert [r for r in results if r is not won] == [OwnedElsewhere(winner)] * 49
    assert await driver.commit([WriteBatch(actor_id, won.epoch, puts={b"k": b"v"})]) == [None]
    assert await take(driver, actor_id, winner) == 2


async def test_reactivation_overlapping_a_commit_gets_a_fresh_epoch(driver: Driver) -> None:
    """An activation whose load overlaps the write that persists the previous epoch still
    gets a higher one (a driver persisting epochs lazily must not lose a pending epoch)."""
    actor_id = await new_actor(driver)
    epoch = await take(driver, actor_id)
    # Enough data that loading it is slow, so the commit below finishes during the load.
    bulk = {i.to_bytes(4, "big"): b"v" * 100 for i in range(50_000)}
    assert await driver.commit([WriteBatch(actor_id, epoch, puts=bulk)]) == [None]
    for i in range(5):
        pending = await take(driver, actor_id)  # granted, not yet written under
        activation = asyncio.ensure_future(driver.activate(actor_id, "node-a"))
        await asyncio.sleep(0)  # the activation has started loading
        (written,) = await driver.commit([WriteBatch(actor_id, pending, puts={b"n": b"%d" % i})])
        got = await activation
        assert isinstance(got, Activation)
        assert got.epoch == pending + 1
        # Whichever came first, the write at ``pending`` is fenced from now on.
        assert written is None or isinstance(written, FencedError)
        (late,) = await driver.commit([WriteBatch(actor_id, pending, puts={b"n": b"late"})])
        assert isinstance(late, FencedError)
        (ok,) = await driver.commit([WriteBatch(actor_id, got.epoch, puts={b"n": b"ok"})])
        assert ok is None


# -- data --------------------------------------------------------------------------------


async def test_commit_applies_puts_deletes_alarm_and_initialized(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    epoch = await take(driver, actor_id)
    setup = WriteBatch(
        actor_id,
        epoch,
        puts={b"state": b"s0", b"keep": b"k", b"gone": b"g", b"\xff": b"\xff"},
    )
    assert await driver.commit([setup]) == [None]
    change = WriteBatch(
        actor_id,
        epoch,
        puts={b"state": b"s1", b"new": b"n"},
        deletes={b"gone", b"never-existed", b"\xff"},
        alarm=42.0,
        set_alarm=True,
        mark_initialized=True,
    )
    assert await driver.commit([change]) == [None]
    assert await driver.load(actor_id) == {b"state": b"s1", b"keep": b"k", b"new": b"n"}
    stored = await driver.get_actor(actor_id)
    assert stored is not None and stored.initialized and stored.input is None
    assert await all_alarms(driver) == [(actor_id, 42.0)]
    # set_alarm with alarm=None clears; set_alarm=False leaves it alone.
    assert await driver.commit([WriteBatch(actor_id, epoch, puts={b"a": b"1"})]) == [None]
    assert await all_alarms(driver) == [(actor_id, 42.0)]
    assert await driver.commit([WriteBatch(actor_id, epoch, set_alarm=True)]) == [None]
    assert await all_alarms(driver) == []


async def test_delete_and_put_of_one_key_in_one_batch_keeps_the_put(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    epoch = await take(driver, actor_id)
    assert await driver.commit([WriteBatch(actor_id, epoch, puts={b"k": b"1"})]) == [None]
    both = WriteBatch(actor_id, epoch, puts={b"k": b"2"}, deletes={b"k"})
    assert await driver.commit([both]) == [None]
    assert await driver.load(actor_id) == {b"k": b"2"}


async def test_mark_initialized_keeps_input_until_then(driver: Driver) -> None:
    stored, _ = await driver.create_actor(record(input=b"in"))
    epoch = await take(driver, stored.id)
    assert await driver.commit([WriteBatch(stored.id, epoch, puts={b"x": b"1"})]) == [None]
    again = await driver.get_actor(stored.id)
    assert again is not None and again.input == b"in" and not again.initialized


async def test_stale_epoch_is_fenced_without_trace_and_others_succeed(driver: Driver) -> None:
    a = await new_actor(driver, ("a",))
    b = await new_actor(driver, ("b",))
    old = await take(driver, a)
    assert await driver.commit([WriteBatch(a, old, puts={b"state": b"old"})]) == [None]
    new = await take(driver, a)  # a newer activation took over
    eb = await take(driver, b)
    stale = WriteBatch(
        a,
        old,
        puts={b"state": b"stale", b"x": b"1"},
        deletes={b"state"},
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
    assert await all_alarms(driver) == []
    stored = await driver.get_actor(a)
    assert stored is not None and not stored.initialized
    # A batch for an actor that never existed is fenced too.
    (missing,) = await driver.commit([WriteBatch("no-such-id", 1, puts={b"x": b"1"})])
    assert isinstance(missing, FencedError)


async def test_batches_in_one_commit_apply_in_order(driver: Driver) -> None:
    a = await new_actor(driver)
    epoch = await take(driver, a)
    batches = [WriteBatch(a, epoch, puts={b"n": str(i).encode()}) for i in range(50)]
    assert await driver.commit(batches) == [None] * 50
    assert await driver.load(a) == {b"n": b"49"}


async def test_load_isolates_actors(driver: Driver) -> None:
    a = await new_actor(driver, ("a",))
    b = await new_actor(driver, ("b",))
    ea, eb = await take(driver, a), await take(driver, b)
    await driver.commit(
        [WriteBatch(a, ea, puts={b"k": b"a"}), WriteBatch(b, eb, puts={b"k": b"b"})]
    )
    assert await driver.load(a) == {b"k": b"a"}
    assert await driver.load(b) == {b"k": b"b"}
    assert await driver.load("no-such-id") == {}


# -- alarms ------------------------------------------------------------------------------


async def test_due_alarms_ordering_and_limit(driver: Driver) -> None:
    assert await all_alarms(driver) == []
    ids = [await new_actor(driver, (str(i),)) for i in range(4)]
    whens = [30.0, 10.0, 20.0, 100.0]
    for actor_id, when in zip(ids, whens, strict=True):
        epoch = await take(driver, actor_id)
        await driver.commit([WriteBatch(actor_id, epoch, alarm=when, set_alarm=True)])
    assert (await all_alarms(driver))[0] == (ids[1], 10.0)
    assert await driver.due_alarms(5.0) == []
    assert await driver.due_alarms(30.0) == [(ids[1], 10.0), (ids[2], 20.0), (ids[0], 30.0)]
    assert await driver.due_alarms(1000.0, limit=2) == [(ids[1], 10.0), (ids[2], 20.0)]
    # Replacing an alarm moves it.
    epoch = await take(driver, ids[1])
    await driver.commit([WriteBatch(ids[1], epoch, alarm=200.0, set_alarm=True)])
    assert (await all_alarms(driver))[0] == (ids[2], 20.0)
    assert [a for a, _ in await all_alarms(driver)] == [ids[2], ids[0], ids[3], ids[1]]


async def test_claim_alarms_returns_due_alarms_earliest_first_within_limit(
    driver: Driver,
) -> None:
    ids = [await new_actor(driver, (str(i),)) for i in range(4)]
    for actor_id, when in zip(ids, [30.0, 10.0, 20.0, 100.0], strict=True):
        await set_alarm(driver, actor_id, when)
    assert await driver.claim_alarms("node-b", 5.0, hold=3600.0) == []
    assert await driver.claim_alarms("node-b", 30.0, hold=3600.0, limit=2) == [
        (ids[1], 10.0),
        (ids[2], 20.0),
    ]
    # Another owner skips node-b's claims and gets the rest of what is due.
    assert await driver.claim_alarms("node-c", 30.0, hold=3600.0) == [(ids[0], 30.0)]
    # The limit counts claimed alarms, not the earlier ones claimed by others.
    assert await driver.claim_alarms("node-d", 1000.0, hold=3600.0, limit=1) == [(ids[3], 100.0)]
    assert await driver.claim_alarms("node-e", 1000.0, hold=3600.0) == []
    # Claiming is not a read: due_alarms still lists them all.
    assert [a for a, _ in await driver.due_alarms(1000.0)] == [ids[1], ids[2], ids[0], ids[3]]


async def test_claim_alarms_skips_actors_held_by_another_owner_but_not_its_own(
    driver: Driver,
) -> None:
    held_by_a = await new_actor(driver, ("a",))
    free = await new_actor(driver, ("free",))
    epoch = await take(driver, held_by_a, "node-a")
    batch = WriteBatch(held_by_a, epoch, alarm=10.0, set_alarm=True)
    assert await driver.commit([batch]) == [None]
    await set_alarm(driver, free, 20.0)
    assert await driver.claim_alarms("node-b", 100.0, hold=60.0) == [(free, 20.0)]
    # node-a gets the alarm of the actor it holds itself; node-b's claim keeps it from free.
    assert await driver.claim_alarms("node-a", 100.0, hold=60.0) == [(held_by_a, 10.0)]
    # Once node-a releases the actor and the claims' hold has passed, both are anyone's.
    await driver.release(held_by_a, "node-a", epoch)
    assert await driver.claim_alarms("node-c", 200.0, hold=60.0) == [
        (held_by_a, 10.0),
        (free, 20.0),
    ]


async def test_claimed_alarm_goes_to_another_owner_only_after_hold(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    await set_alarm(driver, actor_id, 50.0)
    assert await driver.claim_alarms("node-a", 100.0, hold=10.0) == [(actor_id, 50.0)]
    assert await driver.claim_alarms("node-b", 100.0, hold=10.0) == []
    assert await driver.claim_alarms("node-b", 109.0, hold=10.0) == []
    # node-a never woke it: after ``hold`` another owner may.
    assert await driver.claim_alarms("node-b", 111.0, hold=10.0) == [(actor_id, 50.0)]
    assert await driver.claim_alarms("node-a", 112.0, hold=10.0) == []
    # The claimer wakes the actor; from then on its ownership keeps the others away.
    epoch = await take(driver, actor_id, "node-b")
    assert await driver.claim_alarms("node-a", 1000.0, hold=10.0) == []
    assert await driver.commit([WriteBatch(actor_id, epoch, set_alarm=True)]) == [None]
    assert await driver.claim_alarms("node-b", 1000.0, hold=10.0) == []


# -- two handles on one store (memory; a shared driver needs the same) -------------------


async def test_memory_two_handles_racing_to_activate_exactly_one_wins() -> None:
    first = MemoryDriver()
    second = MemoryDriver(first.store)
    try:
        for i in range(20):
            actor_id = await new_actor(first, (str(i),))
            a, b = (first, second) if i % 2 else (second, first)
            results = await asyncio.gather(
                a.activate(actor_id, "node-a"), b.activate(actor_id, "node-b")
            )
            wins = [r for r in results if isinstance(r, Activation)]
            assert len(wins) == 1, results
            winner = "node-a" if isinstance(results[0], Activation) else "node-b"
            assert [r for r in results if r is not wins[0]] == [OwnedElsewhere(winner)]
    finally:
        await first.close()
        await second.close()


async def test_memory_closed_handle_owner_is_not_live_and_its_late_writes_are_fenced() -> None:
    a = MemoryDriver()
    b = MemoryDriver(a.store)
    try:
        actor_id = await new_actor(a)
        old = await take(a, actor_id, "node-a")
        assert await a.commit([WriteBatch(actor_id, old, puts={b"state": b"a"})]) == [None]
        assert await b.activate(actor_id, "node-b") == OwnedElsewhere("node-a")
        await a.close()  # node-a is gone (it never released the actor)
        got = await b.activate(actor_id, "node-b")
        assert isinstance(got, Activation) and got.epoch > old
        assert got.data == {b"state": b"a"}
        late = WriteBatch(
            actor_id,
            old,
            puts={b"state": b"late"},
            deletes={b"state"},
            alarm=1.0,
            set_alarm=True,
            mark_initialized=True,
        )
        (result,) = await a.commit([late])
        assert isinstance(result, FencedError)
        with pytest.raises(FencedError):
            await a.delete_actor(actor_id, old)
        assert await b.load(actor_id) == {b"state": b"a"}
        assert await all_alarms(b) == []
        stored = await b.get_actor(actor_id)
        assert stored is not None and not stored.initialized and stored.epoch == got.epoch
        assert await b.commit([WriteBatch(actor_id, got.epoch, puts={b"state": b"b"})]) == [None]
    finally:
        await a.close()
        await b.close()


async def test_memory_claim_by_a_closed_handle_is_void() -> None:
    a = MemoryDriver()
    b = MemoryDriver(a.store)
    try:
        actor_id = await new_actor(a)
        await set_alarm(a, actor_id, 5.0)
        assert await a.claim_alarms("node-a", 10.0, hold=60.0) == [(actor_id, 5.0)]
        assert await b.claim_alarms("node-b", 11.0, hold=60.0) == []
        await a.close()
        assert await b.claim_alarms("node-b", 11.0, hold=60.0) == [(actor_id, 5.0)]
    finally:
        await a.close()
        await b.close()


# -- two handles on one database (postgres) ---------------------------------------------


@pytest.fixture
async def pg_pair(postgres_url: str) -> AsyncIterator[tuple[PostgresDriver, PostgresDriver]]:
    """Two handles on one database, as two nodes would have."""
    first, second = PostgresDriver(postgres_url), PostgresDriver(postgres_url)
    await first.open()
    try:
        await second.open()
        try:
            yield first, second
        finally:
            await second.close()
    finally:
        await first.close()


async def test_postgres_two_handles_racing_to_activate_exactly_one_wins(
    pg_pair: tuple[PostgresDriver, PostgresDriver],
) -> None:
    first, second = pg_pair
    for i in range(20):
        actor_id = await new_actor(first, (str(i),))
        a, b = (first, second) if i % 2 else (second, first)
        results = await asyncio.gather(
            a.activate(actor_id, "node-a"), b.activate(actor_id, "node-b")
        )
        wins = [r for r in results if isinstance(r, Activation)]
        assert len(wins) == 1, results
        winner = "node-a" if isinstance(results[0], Activation) else "node-b"
        assert [r for r in results if r is not wins[0]] == [OwnedElsewhere(winner)]


async def test_postgres_closed_handle_owner_is_not_live_and_its_late_writes_are_fenced(
    pg_pair: tuple[PostgresDriver, PostgresDriver],
) -> None:
    b, a = pg_pair
    actor_id = await new_actor(a)
    old = await take(a, actor_id, "node-a")
    assert await a.commit([WriteBatch(actor_id, old, puts={b"state": b"a"})]) == [None]
    assert await b.activate(actor_id, "node-b") == OwnedElsewhere("node-a")
    # node-a's handle closes (it never released the actor); a third handle on the same
    # database plays node-a's late writes, as a paused process would after waking.
    await a.close()
    got = await b.activate(actor_id, "node-b")
    assert isinstance(got, Activation) and got.epoch > old
    assert got.data == {b"state": b"a"}
    late = WriteBatch(
        actor_id,
        old,
        puts={b"state": b"late"},
        deletes={b"state"},
        alarm=1.0,
        set_alarm=True,
        mark_initialized=True,
    )
    stale = PostgresDriver(a.url)
    await stale.open()
    try:
        (result,) = await stale.commit([late])
        assert isinstance(result, FencedError)
        with pytest.raises(FencedError):
            await stale.delete_actor(actor_id, old)
    finally:
        await stale.close()
    assert await b.load(actor_id) == {b"state": b"a"}
    assert await all_alarms(b) == []
    stored = await b.get_actor(actor_id)
    assert stored is not None and not stored.initialized and stored.epoch == got.epoch
    assert await b.commit([WriteBatch(actor_id, got.epoch, puts={b"state": b"b"})]) == [None]


async def test_postgres_claim_by_a_closed_handle_is_void(
    pg_pair: tuple[PostgresDriver, PostgresDriver],
) -> None:
    b, a = pg_pair
    actor_id = await new_actor(a)
    await set_alarm(a, actor_id, 5.0)
    assert await a.claim_alarms("node-a", 10.0, hold=60.0) == [(actor_id, 5.0)]
    assert await b.claim_alarms("node-b", 11.0, hold=60.0) == []
    await a.close()
    assert await b.claim_alarms("node-b", 11.0, hold=60.0) == [(actor_id, 5.0)]


# -- membership ----------------------------------------------------------------------------
# Single-process drivers keep the base class's defaults (the membership is this process);
# a shared driver keeps it in the backend, with leases on the backend's clock.


async def test_join_lists_the_member_live_with_its_details(driver: Driver) -> None:
    started = time.time()
    member = Member("node-1", "http://10.0.0.1:8000", "eu", ("counter", "room"), started)
    await driver.join(member, 30.0)
    (listed,) = [m for m in await driver.members() if m.id == "node-1"]
    assert (listed.url, listed.region, listed.actor_types) == (
        "http://10.0.0.1:8000",
        "eu",
        ("counter", "room"),
    )
    assert listed.started_at == pytest.approx(started)
    assert listed.live and listed.lease_left > 20
    # Joining again replaces the row.
    await driver.join(Member("node-1", "http://10.0.0.1:9000", None, (), started), 30.0)
    (listed,) = [m for m in await driver.members() if m.id == "node-1"]
    assert (listed.url, listed.region, listed.actor_types) == ("http://10.0.0.1:9000", None, ())


async def test_renew_keeps_a_member_live_and_leave_removes_it(driver: Driver) -> None:
    await driver.join(Member("node-1", None), 30.0)
    await driver.join(Member("node-2", "http://b"), 30.0)
    assert await driver.renew("node-1", 30.0) is True
    await driver.leave("node-1")
    assert [m.id for m in await driver.members() if m.id.startswith("node-")] == ["node-2"]
    assert await driver.renew("node-1", 30.0) is False
    assert await driver.renew("node-2", 30.0) is True
    await driver.leave("node-1")  # leaving twice is a no-op
    assert await driver.renew("never-joined", 30.0) is False


# -- sqlite specifics --------------------------------------------------------------------


async def test_sqlite_data_survives_close_and_reopen(tmp_path: Path) -> None:
    first = SQLiteDriver(tmp_path / "data")
    await first.open()
    stored, _ = await first.create_actor(record(key=("durable",), input=b"i"))
    epoch = await take(first, stored.id)
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
    await first.release(stored.id, "node-a", epoch)
    await first.close()

    second = SQLiteDriver(tmp_path / "data")
    await second.open()
    try:
        found = await second.find_actor("counter", ("durable",))
        assert found is not None and found.id == stored.id
        assert found.initialized and found.epoch == epoch
        assert await second.load(stored.id) == {b"state": b"v"}
        assert await all_alarms(second) == [(stored.id, 7.0)]
        assert await take(second, stored.id) == epoch + 1
    finally:
        await second.close()


async def test_sqlite_no_owner_is_live_after_reopen(tmp_path: Path) -> None:
    first = SQLiteDriver(tmp_path / "data")
    await first.open()
    actor_id = await new_actor(first, ("owned",))
    await take(first, actor_id, "node-a")
    epoch = await take(first, actor_id, "node-a")
    batch = WriteBatch(actor_id, epoch, puts={b"state": b"a"}, alarm=5.0, set_alarm=True)
    assert await first.commit([batch]) == [None]
    assert await first.claim_alarms("node-a", 10.0, hold=3600.0) == [(actor_id, 5.0)]
    assert await first.activate(actor_id, "node-b") == OwnedElsewhere("node-a")
    await first.close()  # never released: as after a crash

    second = SQLiteDriver(tmp_path / "data")
    await second.open()
    try:
        # Neither node-a's ownership nor its claim survived the restart.
        assert await second.claim_alarms("node-b", 10.0, hold=3600.0) == [(actor_id, 5.0)]
        got = await second.activate(actor_id, "node-b")
        assert isinstance(got, Activation)
        assert got.epoch > epoch  # the epoch written under survived; the new one is higher
        assert got.data == {b"state": b"a"}
        (late,) = await second.commit([WriteBatch(actor_id, epoch, puts={b"state": b"x"})])
        assert isinstance(late, FencedError)
        assert await second.activate(actor_id, "node-a") == OwnedElsewhere("node-b")
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
    epoch = await take(driver, a)
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
    epoch = await take(driver, actor_id)
    assert (
        await asyncio.to_thread(driver.open_actor_db, actor_id, epoch=epoch, create=False) is None
    )

    def write() -> None:
        conn = driver.open_actor_db(actor_id, epoch=epoch, create=True)
        assert conn is not None
        conn.execute("CREATE TABLE t (x); INSERT INTO t VALUES (42)")
        driver.close_actor_db(actor_id, conn)

    def read(at: int) -> list[tuple[object, ...]]:
        conn = driver.open_actor_db(actor_id, epoch=at, create=False)
        assert conn is not None
        try:
            return [tuple(row) for row in conn.execute("SELECT x FROM t")]
        finally:
            driver.close_actor_db(actor_id, conn)

    await asyncio.to_thread(write)
    assert await asyncio.to_thread(read, epoch) == [(42,)]
    # A later activation (here by another owner) opens the same database.
    await driver.release(actor_id, "node-a", epoch)
    later = await take(driver, actor_id, "node-b")
    assert await asyncio.to_thread(read, later) == [(42,)]
    other = await new_actor(driver, key=("b",))
    other_epoch = await take(driver, other)
    assert (
        await asyncio.to_thread(driver.open_actor_db, other, epoch=other_epoch, create=False)
        is None
    )


async def test_delete_actor_deletes_its_database_unless_fenced(driver: Driver) -> None:
    actor_id = await new_actor(driver)
    old = await take(driver, actor_id)

    def create() -> None:
        conn = driver.open_actor_db(actor_id, epoch=old, create=True)
        assert conn is not None
        conn.execute("CREATE TABLE t (x); INSERT INTO t VALUES (1)")
        driver.close_actor_db(actor_id, conn)

    def rows(epoch: int) -> list[tuple[object, ...]] | None:
        conn = driver.open_actor_db(actor_id, epoch=epoch, create=False)
        if conn is None:
            return None
        try:
            return [tuple(row) for row in conn.execute("SELECT x FROM t")]
        finally:
            driver.close_actor_db(actor_id, conn)

    await asyncio.to_thread(create)
    new = await take(driver, actor_id)
    with pytest.raises(FencedError):
        await driver.delete_actor(actor_id, old)
    assert await asyncio.to_thread(rows, new) == [(1,)]
    await driver.delete_actor(actor_id, new)
    assert await asyncio.to_thread(rows, new) is None
