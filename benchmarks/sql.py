"""Per-actor SQLite: point insert and point select per call through an actor, against raw
``sqlite3`` on a file with the same settings (WAL, ``synchronous=FULL``, exclusive locking),
in the same run; then the same calls on the PostgreSQL driver (pages in PostgreSQL through
the ``actorkit-pg`` VFS), and the cold wake of an actor with a 10 MB database there.

Run: ``python -m benchmarks.sql [--quick] [--inserts N] [--selects N] [--postgres URL]``
(``ACTORKIT_BENCH_POSTGRES``; default ``postgresql://postgres@127.0.0.1:5432/postgres``,
where it creates and drops a scratch database; ``--no-postgres`` skips). Prints a table and
writes ``benchmarks/results/sql-<time>.json``. Calls go through the in-process client (no
HTTP), one at a time, so the numbers are per-call latency of the runtime path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from actorkit import Actor, Registry, action
from benchmarks.cluster import throwaway_database

SCHEMA = "CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT NOT NULL)"
VALUE = "x" * 100


class Store(Actor):
    """No state: the call's only durable write is the actor's own database."""

    migrations = [SCHEMA]

    @action
    async def put(self, k: int, v: str) -> None:
        await self.db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", k, v)

    @action
    async def get(self, k: int) -> str | None:
        row = await self.db.fetch_one("SELECT v FROM kv WHERE k = ?", k)
        return None if row is None else str(row["v"])


class CountingStore(Actor):
    """With state: each insert also changes state (db copy + group-committed main store)."""

    state = {"n": 0}
    migrations = [SCHEMA]

    @action
    async def put(self, k: int, v: str) -> None:
        await self.db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", k, v)
        self.state["n"] += 1


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "ops_per_s": len(ordered) / sum(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def _raw(directory: Path, inserts: int, selects: int) -> dict[str, dict[str, float]]:
    conn = sqlite3.connect(directory / "raw.db", isolation_level=None)
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # as the sqlite driver opens actor files
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(SCHEMA)
    put: list[float] = []
    for k in range(inserts):
        t0 = time.perf_counter()
        conn.execute("INSERT INTO kv (k, v) VALUES (?, ?)", (k, VALUE))  # autocommit: fsync
        put.append(time.perf_counter() - t0)
    get: list[float] = []
    for i in range(selects):
        t0 = time.perf_counter()
        conn.execute("SELECT v FROM kv WHERE k = ?", (i % inserts,)).fetchone()
        get.append(time.perf_counter() - t0)
    conn.close()
    return {"insert": _summary(put), "select": _summary(get)}


async def _timed(n: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - t0)
    return samples


class Big(Actor):
    """An actor with a database of ``size`` bytes, to time its cold wake."""

    migrations = ["CREATE TABLE blob (id INTEGER PRIMARY KEY, data BLOB NOT NULL)"]

    @action
    async def fill(self, size: int) -> None:
        chunk = 64 * 1024
        rows = [(i, os.urandom(chunk)) for i in range(size // chunk)]
        await self.db.executemany("INSERT INTO blob (id, data) VALUES (?, ?)", rows)

    @action
    async def first(self) -> int:
        row = await self.db.fetch_one("SELECT length(data) AS n FROM blob WHERE id = 0")
        return 0 if row is None else int(row["n"])


async def _cold_wakes(url: str, size: int, wakes: int) -> dict[str, float]:
    """Fill one actor's database with ``size`` bytes; then, ``wakes`` times, put it to
    sleep and time the next call (activation + reading every page + the query)."""
    async with Registry(Big).test_client(url) as client:
        big = client.get_or_create(Big, "big")
        await big.fill(size)
        node = client._transport.node  # type: ignore[attr-defined]
        actor_id = await big.resolve()
        samples = []
        for _ in range(wakes):
            await node.sleep_actor(actor_id)
            t0 = time.perf_counter()
            await big.first()
            samples.append(time.perf_counter() - t0)
    return _summary(samples)


async def _actor(url: str, inserts: int, selects: int) -> dict[str, dict[str, float]]:
    registry = Registry(Store, CountingStore)
    async with registry.test_client(url) as client:
        store = client.get_or_create(Store, "bench")
        counting = client.get_or_create(CountingStore, "bench")
        await store.get(-1)  # wake and migrate outside the timing
        await counting.put(-1, VALUE)
        put = await _timed(inserts, lambda k: store.put(k, VALUE))
        get = await _timed(selects, lambda i: store.get(i % inserts))
        put_state = await _timed(inserts, lambda k: counting.put(k, VALUE))
    return {"insert": _summary(put), "select": _summary(get), "insert+state": _summary(put_state)}


async def run(
    inserts: int, selects: int, postgres: str | None, wake_mb: int, wakes: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("ACTORKIT_BENCH_DIR")) as tmp:
        directory = Path(tmp)
        raw = await asyncio.to_thread(_raw, directory, inserts, selects)
        drivers = {"sqlite": await _actor(f"sqlite:///{directory / 'actorkit'}", inserts, selects)}
        wake = {"sqlite": await _cold_wakes(f"sqlite:///{directory / 'big'}", wake_mb << 20, wakes)}
    if postgres is not None:
        with throwaway_database(postgres) as url:
            drivers["postgres"] = await _actor(url, inserts, selects)
            wake["postgres"] = await _cold_wakes(url, wake_mb << 20, wakes)
    rows = []
    for driver, actor in drivers.items():
        for op, baseline in (
            ("insert", "insert"),
            ("select", "select"),
            ("insert+state", "insert"),
        ):
            a, r = actor[op], raw[baseline]
            rows.append(
                {
                    "driver": driver,
                    "op": op,
                    "actor_p50_ms": a["p50_ms"],
                    "actor_p99_ms": a["p99_ms"],
                    "raw_p50_ms": r["p50_ms"],
                    "raw_p99_ms": r["p99_ms"],
                    "p50_ratio": a["p50_ms"] / r["p50_ms"],
                    "throughput_ratio": a["ops_per_s"] / r["ops_per_s"],
                }
            )
    return {
        "benchmark": "sql",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "inserts": inserts,
        "selects": selects,
        "note": "shared, noisy machine; same-run baseline: raw sqlite3, WAL, synchronous=FULL",
        "rows": rows,
        "cold_wake": {"db_mb": wake_mb, **wake},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--inserts", type=int, default=1000)
    parser.add_argument("--selects", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="smaller counts (smoke test)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "ACTORKIT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--wake-mb", type=int, default=10, help="cold-wake database size")
    parser.add_argument("--wakes", type=int, default=20)
    args = parser.parse_args()
    if args.quick:
        args.inserts, args.selects, args.wake_mb, args.wakes = 100, 500, 1, 3
    postgres = None if args.no_postgres else args.postgres
    result = asyncio.run(run(args.inserts, args.selects, postgres, args.wake_mb, args.wakes))
    header = (
        f"{'driver':<10}{'op':<13}{'actor p50':>11}{'actor p99':>11}{'raw p50':>10}{'raw p99':>10}"
    )
    print(header + f"{'p50 ×':>8}{'ops/s ×':>9}")
    for row in result["rows"]:
        print(
            f"{row['driver']:<10}{row['op']:<13}{row['actor_p50_ms']:>9.3f}ms{row['actor_p99_ms']:>9.3f}ms"
            f"{row['raw_p50_ms']:>8.3f}ms{row['raw_p99_ms']:>8.3f}ms"
            f"{row['p50_ratio']:>8.2f}{row['throughput_ratio']:>9.2f}"
        )
    print("(ratios: actor / raw sqlite3; ops/s × below 1 means the actor path is slower)")
    wake = result["cold_wake"]
    for driver in ("sqlite", "postgres"):
        if driver in wake:
            w = wake[driver]
            print(
                f"cold wake, {wake['db_mb']} MB database, {driver}: "
                f"p50 {w['p50_ms']:.1f}ms p99 {w['p99_ms']:.1f}ms"
            )
    out = Path(__file__).parent / "results" / f"sql-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
