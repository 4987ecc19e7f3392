"""``actorkit storage copy`` at scale: a store of N actors (default 10,000; each with state,
and half of them with a small database, schedules, connection records, create input) goes
sqlite → PostgreSQL → sqlite, and every step is verified equal.

Run: ``python -m benchmarks.storage_copy [--actors N] [--server URL]``. ``--server`` is a
PostgreSQL server's maintenance URL (default ``postgresql://postgres@127.0.0.1:5432/postgres``);
a database is created for the run and dropped afterwards. Prints seconds and actors/s per
step.

While the PostgreSQL driver stores no actor databases, the trip through PostgreSQL leaves
them out (``skip_databases``) and the round trip is compared without them; the databases
are then copied and verified by a direct sqlite → sqlite step. Once the driver stores them,
the same script copies and verifies them through PostgreSQL too.

``generate`` is also used by ``tests/test_storage_copy.py``: it writes a store directly
through the driver API (no server, no actor code), in the formats of
``tests/apps/copy_app.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from actorkit._runtime.connections import CONN_PREFIX, ConnRecord
from actorkit._runtime.db import SEQ_KEY, encode_seq
from actorkit._runtime.schedule import SCHEDULE_PREFIX, ScheduledCall
from actorkit._runtime.state import STATE_KEY, encode_envelope, encode_state
from actorkit.cli.storage.copy import CopyOptions, CopyReport, copy_store
from actorkit.cli.storage.stores import stores_databases
from actorkit.cli.storage.verify import VerifyReport, verify_stores
from actorkit.storage import Driver, WriteBatch, driver_from_url
from actorkit.storage.base import Activation, ActorRecord
from benchmarks.cluster import throwaway_database

T = TypeVar("T")

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
_msgpack = msgspec.msgpack.Encoder()


@dataclass
class Generated:
    actors: int = 0
    uninitialized: int = 0
    alarms: int = 0
    connections: int = 0
    databases: int = 0


def _envelope(state: dict[str, Any]) -> bytes:
    return encode_envelope(encode_state(state), 1)


def _write_db(driver: Driver, actor_id: str, epoch: int, state: bytes, i: int) -> None:
    """What the runtime leaves in a Notebook's database after its migration and 3 adds."""
    conn = driver.open_actor_db(actor_id, epoch=epoch, create=True)
    assert conn is not None
    try:
        conn.execute(
            "BEGIN;"
            "CREATE TABLE _actorkit_migrations (idx INTEGER PRIMARY KEY, applied_at REAL);"
            "CREATE TABLE _actorkit_state (id INTEGER PRIMARY KEY CHECK (id = 0), "
            "seq INTEGER NOT NULL, state BLOB, epoch INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
        )
        conn.execute("INSERT INTO _actorkit_migrations VALUES (0, ?)", (1.7e9 + i,))
        conn.executemany(
            "INSERT INTO note (text) VALUES (?)", [(f"note {i}.{n}",) for n in range(3)]
        )
        conn.execute("INSERT INTO _actorkit_state VALUES (0, 1, ?, ?)", (state, epoch))
        conn.execute("COMMIT")
    finally:
        driver.close_actor_db(actor_id, conn)


async def generate(
    driver: Driver,
    n: int,
    *,
    databases: bool = True,
    concurrency: int = 64,
    notebooks_only: bool = False,
) -> Generated:
    """Write ``n`` actors into the open ``driver``: even ones (all, if ``notebooks_only``)
    are notebooks (with a database when ``databases`` and the driver stores them), odd ones
    tallies; every 10th is created
    but not initialised (create input kept); every 3rd has a schedule (and so an alarm),
    every 5th a connection record; epochs run from 1 to 3."""
    out = Generated()
    databases = databases and await stores_databases(driver)
    now = time.time()
    sem = asyncio.Semaphore(concurrency)
    pool = ThreadPoolExecutor(16)
    loop = asyncio.get_running_loop()

    async def one(i: int) -> None:
        async with sem:
            notebook = notebooks_only or i % 2 == 0
            name = "notebook" if notebook else "tally"
            title = f"book {i}"
            uninit = i % 10 == 9
            start: dict[str, Any] = {"title": title} if notebook else {"start": i}
            record = ActorRecord(
                id=uuid.uuid4().hex,
                name=name,
                key=(f"k{i}",),
                created_at=now - i,
                input=_msgpack.encode(start) if uninit else None,
                region="eu" if i % 7 == 0 else None,
            )
            _, created = await driver.create_actor(record)
            assert created
            out.actors += 1
            if uninit:
                out.uninitialized += 1
                return
            for _ in range(1 + i % 3):  # epochs 1..3, as after as many wakes
                taken = await driver.activate(record.id, "generator")
                assert isinstance(taken, Activation)
                await driver.release(record.id, "generator", taken.epoch)
            taken = await driver.activate(record.id, "generator")
            assert isinstance(taken, Activation)
            epoch = taken.epoch
            fired: list[str] = []
            state = _envelope(
                {"title": title, "notes": 3, "fired": fired}
                if notebook
                else {"count": i, "fired": fired}
            )
            puts = {STATE_KEY: state, SEQ_KEY: encode_seq(epoch, 2)}
            alarm = None
            if i % 3 == 0:
                alarm = now + 3600 + i
                call = ScheduledCall(f"s{i}", "fire", [f"reminder {i}"], alarm, now)
                puts[SCHEDULE_PREFIX + call.id.encode()] = _msgpack.encode(call)
                out.alarms += 1
            if i % 5 == 0:
                conn = ConnRecord(f"c{i}", "token", {"user": "u"}, {"user": "u"}, ["news"], now)
                puts[CONN_PREFIX + conn.id.encode()] = _msgpack.encode(conn)
                out.connections += 1
            if notebook and databases:
                await loop.run_in_executor(pool, _write_db, driver, record.id, epoch, state, i)
                out.databases += 1
            batch = WriteBatch(
                record.id, epoch, puts=puts, alarm=alarm, set_alarm=alarm is not None
            )
            batch.mark_initialized = True
            assert await driver.commit([batch]) == [None]
            await driver.release(record.id, "generator", epoch)

    try:
        await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        pool.shutdown()
    return out


async def _timed(what: str, fn: Callable[[], Awaitable[T]], n: int) -> T:
    started = time.monotonic()
    result = await fn()
    seconds = time.monotonic() - started
    print(f"{what:<44} {seconds:7.2f} s  {n / seconds:9,.0f} actors/s", flush=True)
    return result


async def _opened(url: str) -> Driver:
    driver = driver_from_url(url)
    await driver.open()
    return driver


def _check(report: VerifyReport, what: str) -> None:
    if not report.ok:
        sample = "; ".join(f"{d.actor_id}: {d.what}" for d in report.differ[:3])
        raise SystemExit(f"{what}: NOT equal ({len(report.differ)} differ) {sample}")


async def round_trip(
    n: int, pg_url: str, workdir: Path, *, notebooks_only: bool = False
) -> dict[str, float]:
    src = await _opened(f"sqlite:///{workdir / 'source'}")
    pg = await _opened(pg_url)
    back = await _opened(f"sqlite:///{workdir / 'back'}")
    direct = await _opened(f"sqlite:///{workdir / 'direct'}")
    results: dict[str, float] = {}
    try:
        gen = await _timed(
            "generate (driver API, sqlite)",
            lambda: generate(src, n, notebooks_only=notebooks_only),
            n,
        )
        print(f"  {gen}")
        skip = not await stores_databases(pg)
        if skip:
            print(
                "  PostgreSQL driver stores no actor databases yet: the trip through it skips them"
            )
        opts = CopyOptions(skip_databases=skip)

        async def step(label: str, a: Driver, b: Driver, verify_dbs: bool = True) -> None:
            started = time.monotonic()
            report: CopyReport = await _timed(f"copy {label}", lambda: copy_store(a, b, opts), n)
            results[f"copy {label}"] = n / (time.monotonic() - started)
            assert report.actors == n, report
            started = time.monotonic()
            verified = await _timed(
                f"verify {label}", lambda: verify_stores(a, b, skip_databases=not verify_dbs), n
            )
            results[f"verify {label}"] = n / (time.monotonic() - started)
            _check(verified, label)

        await step("sqlite → postgresql", src, pg, verify_dbs=not skip)
        await step("postgresql → sqlite", pg, back, verify_dbs=not skip)
        started = time.monotonic()
        trip = await _timed(
            "verify sqlite ↔ round-tripped sqlite",
            lambda: verify_stores(src, back, skip_databases=skip),
            n,
        )
        _check(trip, "round trip")
        results["verify round trip"] = n / (time.monotonic() - started)
        if skip:
            opts = CopyOptions()
            await step("sqlite → sqlite (with databases)", src, direct)
        print(
            f"round trip of {n:,} actors verified equal"
            + (" (databases: direct step)" if skip else "")
        )
    finally:
        for driver in (src, pg, back, direct):
            await driver.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actors", type=int, default=10_000)
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL maintenance URL")
    parser.add_argument(
        "--every-actor-with-database",
        action="store_true",
        help="every actor a notebook (state and a small database), not half of them",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, throwaway_database(args.server) as pg_url:
        asyncio.run(
            round_trip(
                args.actors, pg_url, Path(tmp), notebooks_only=args.every_actor_with_database
            )
        )


if __name__ == "__main__":
    main()
