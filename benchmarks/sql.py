"""Per-actor SQLite: point insert and point select per call through an actor, against raw
``sqlite3`` on a file with the same settings (WAL, ``synchronous=FULL``, exclusive locking),
in the same run.

Run: ``python -m benchmarks.sql [--quick] [--inserts N] [--selects N]``. Prints a table and
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


async def _actor(directory: Path, inserts: int, selects: int) -> dict[str, dict[str, float]]:
    registry = Registry(Store, CountingStore)
    async with registry.test_client(f"sqlite:///{directory / 'actorkit'}") as client:
        store = client.get_or_create(Store, "bench")
        counting = client.get_or_create(CountingStore, "bench")
        await store.get(-1)  # wake and migrate outside the timing
        await counting.put(-1, VALUE)
        put = await _timed(inserts, lambda k: store.put(k, VALUE))
        get = await _timed(selects, lambda i: store.get(i % inserts))
        put_state = await _timed(inserts, lambda k: counting.put(k, VALUE))
    return {"insert": _summary(put), "select": _summary(get), "insert+state": _summary(put_state)}


async def run(inserts: int, selects: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("ACTORKIT_BENCH_DIR")) as tmp:
        directory = Path(tmp)
        raw = await asyncio.to_thread(_raw, directory, inserts, selects)
        actor = await _actor(directory, inserts, selects)
    rows = []
    for op, baseline in (("insert", "insert"), ("select", "select"), ("insert+state", "insert")):
        a, r = actor[op], raw[baseline]
        rows.append(
            {
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--inserts", type=int, default=1000)
    parser.add_argument("--selects", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="smaller counts (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.inserts, args.selects = 100, 500
    result = asyncio.run(run(args.inserts, args.selects))
    header = f"{'op':<13}{'actor p50':>11}{'actor p99':>11}{'raw p50':>10}{'raw p99':>10}"
    print(header + f"{'p50 ×':>8}{'ops/s ×':>9}")
    for row in result["rows"]:
        print(
            f"{row['op']:<13}{row['actor_p50_ms']:>9.3f}ms{row['actor_p99_ms']:>9.3f}ms"
            f"{row['raw_p50_ms']:>8.3f}ms{row['raw_p99_ms']:>8.3f}ms"
            f"{row['p50_ratio']:>8.2f}{row['throughput_ratio']:>9.2f}"
        )
    print("(ratios: actor / raw; ops/s × below 1 means the actor path is slower)")
    out = Path(__file__).parent / "results" / f"sql-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
