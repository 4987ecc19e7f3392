"""Runtime benchmark: actorkit against bare asyncio and raw sqlite3, measured in one run.

    python -m benchmarks.runtime            # full run (about a minute)
    python -m benchmarks.runtime --quick    # smaller counts, for a smoke test

(a) in-process action calls/s, sequential and with 100 concurrent callers, against a bare
    ``asyncio.Queue`` + ``Future`` actor (goal ≥ 0.5×); memory driver, and sqlite for reference;
(b) durable acknowledged increments/s over 100 actors on the sqlite driver (default durable
    mode) against raw sqlite3 single-row commits/s with the same fsync settings (WAL +
    ``synchronous=FULL``) (goal ≥ 2×, thanks to group commit);
(c) memory per awake idle actor against a bare ``Queue`` + ``Task`` per actor (goal ≤ 2×),
    measured with tracemalloc.

Prints a table and writes JSON to ``benchmarks/results/``. The numbers depend on the machine
and on whatever else runs on it: compare the ratios, not the absolute values.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actorkit import Actor, Registry, action
from actorkit._runtime.node import Node

RESULTS = Path(__file__).parent / "results"


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])

    @action
    def get(self) -> int:
        return int(self.state["count"])


registry = Registry(Counter)


# -- the baseline: an actor made of an asyncio.Queue, a Task and Futures ----------


class QueueActor:
    """The least an asyncio actor can be: a mailbox, a task that drains it, a future per call."""

    def __init__(self) -> None:
        self.state = {"count": 0}
        self.mailbox: asyncio.Queue[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]]
        self.mailbox = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            fn, args, future = await self.mailbox.get()
            try:
                future.set_result(fn(self, *args))
            except Exception as exc:
                future.set_exception(exc)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.mailbox.put_nowait((fn, args, future))
        return await future

    def stop(self) -> None:
        self.task.cancel()


def queue_increment(actor: QueueActor, amount: int) -> int:
    actor.state["count"] += amount
    return actor.state["count"]


# -- measurement helpers ------------------------------------------------------------


@dataclass
class Result:
    name: str
    ops: int
    seconds: float
    latencies_us: list[float] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        return self.ops / self.seconds

    def pct(self, p: float) -> float | None:
        if not self.latencies_us:
            return None
        ordered = sorted(self.latencies_us)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ops": self.ops,
            "seconds": round(self.seconds, 4),
            "ops_per_s": round(self.rate, 1),
            "p50_us": self.pct(50),
            "p99_us": self.pct(99),
        }


async def sequential(name: str, n: int, call: Callable[[], Awaitable[Any]]) -> Result:
    for _ in range(min(n // 10, 500)):  # warm up
        await call()
    latencies: list[float] = []
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter_ns()
        await call()
        latencies.append((time.perf_counter_ns() - t0) / 1000)
    return Result(name, n, time.perf_counter() - start, latencies)


async def concurrent(
    name: str, callers: int, per_caller: int, call: Callable[[int], Awaitable[Any]]
) -> Result:
    latencies: list[float] = []

    async def caller(i: int) -> None:
        for _ in range(per_caller):
            t0 = time.perf_counter_ns()
            await call(i)
            latencies.append((time.perf_counter_ns() - t0) / 1000)

    await asyncio.gather(*(caller(i) for i in range(min(callers, 10))))  # warm up
    latencies.clear()
    start = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(callers)))
    return Result(name, callers * per_caller, time.perf_counter() - start, latencies)


# -- (a) in-process call throughput -------------------------------------------------


async def bench_calls(n: int, storage: str) -> tuple[Result, Result, Result]:
    """Sequential calls; 100 callers on one actor; 100 callers each on its own actor."""
    label = storage.split(":")[0]
    per_caller = max(1, n // 100)
    async with registry.test_client(storage) as client:
        handle = client.get_or_create(Counter, "bench")
        seq = await sequential(f"actorkit {label} sequential", n, lambda: handle.increment(1))
        conc = await concurrent(
            f"actorkit {label} 100 callers, 1 actor",
            100,
            per_caller,
            lambda i: handle.increment(1),
        )
        handles = [client.get_or_create(Counter, f"spread-{i}") for i in range(100)]
        await asyncio.gather(*(h.resolve() for h in handles))  # creation is not measured
        spread = await concurrent(
            f"actorkit {label} 100 callers, 100 actors",
            100,
            per_caller,
            lambda i: handles[i].increment(1),
        )
    return seq, conc, spread


async def bench_queue_calls(n: int) -> tuple[Result, Result, Result]:
    per_caller = max(1, n // 100)
    actors = [QueueActor() for _ in range(100)]
    actor = actors[0]
    try:
        seq = await sequential(
            "asyncio.Queue actor sequential", n, lambda: actor.call(queue_increment, 1)
        )
        conc = await concurrent(
            "asyncio.Queue 100 callers, 1 actor",
            100,
            per_caller,
            lambda i: actor.call(queue_increment, 1),
        )
        spread = await concurrent(
            "asyncio.Queue 100 callers, 100 actors",
            100,
            per_caller,
            lambda i: actors[i].call(queue_increment, 1),
        )
    finally:
        for a in actors:
            a.stop()
    return seq, conc, spread


# -- (b) durable increments ----------------------------------------------------------


async def bench_durable(actors: int, per_actor: int, directory: Path) -> tuple[Result, Any]:
    url = f"sqlite:///{directory / 'actorkit'}"
    async with registry.test_client(url) as client:
        handles = [client.get_or_create(Counter, str(i)) for i in range(actors)]
        await asyncio.gather(*(h.resolve() for h in handles))
        node: Node = client._transport.node  # type: ignore[attr-defined]
        commits0, batches0 = node.committer.commits, node.committer.batches
        result = await concurrent(
            f"actorkit sqlite durable, {actors} actors",
            actors,
            per_actor,
            lambda i: handles[i].increment(1),
        )
        commits = node.committer.commits - commits0
        batches = node.committer.batches - batches0
    return result, {"commits": commits, "batches": batches}


def bench_raw_sqlite(n: int, directory: Path) -> Result:
    conn = sqlite3.connect(directory / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    conn.executemany("INSERT INTO counters VALUES (?, 0)", [(i,) for i in range(100)])
    latencies: list[float] = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter_ns()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE counters SET n = n + 1 WHERE id = ?", (i % 100,))
        conn.execute("COMMIT")
        latencies.append((time.perf_counter_ns() - t0) / 1000)
    elapsed = time.perf_counter() - start
    conn.close()
    return Result("raw sqlite3 single-row commits", n, elapsed, latencies)


# -- (c) memory per awake idle actor --------------------------------------------------


def traced_bytes() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def bench_memory_actorkit(n: int) -> float:
    """Bytes per awake idle actor: memory with all ``n`` awake minus all asleep (storage and
    directory are the same in both, so they cancel out)."""
    async with registry.test_client("memory://") as client:
        node: Node = client._transport.node  # type: ignore[attr-defined]
        handles = [client.get_or_create(Counter, str(i)) for i in range(n)]
        ids = [await h.resolve() for h in handles]
        for actor_id in ids:
            await node.sleep_actor(actor_id)
        assert not node.instances
        asleep = traced_bytes()
        for h in handles:
            await h.get()
        assert len(node.instances) == n
        awake = traced_bytes()
    return (awake - asleep) / n


async def bench_memory_queue(n: int) -> float:
    before = traced_bytes()
    actors = [QueueActor() for _ in range(n)]
    await asyncio.sleep(0)  # let every task start and block on its queue
    after = traced_bytes()
    for actor in actors:
        actor.stop()
    await asyncio.sleep(0)
    return (after - before) / n


# -- report ------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def table(rows: list[tuple[Result, Result | None]]) -> str:
    head = f"{'benchmark':<44} {'ops/s':>12} {'p50 µs':>10} {'p99 µs':>10} {'× baseline':>11}"
    lines = [head, "-" * len(head)]
    for result, baseline in rows:
        ratio = "" if baseline is None else f"{result.rate / baseline.rate:.2f}×"
        lines.append(
            f"{result.name:<44} {result.rate:>12,.0f} {fmt(result.pct(50)):>10} "
            f"{fmt(result.pct(99)):>10} {ratio:>11}"
        )
    return "\n".join(lines)


async def main(quick: bool) -> dict[str, Any]:
    n_calls = 5_000 if quick else 50_000
    n_durable = 10 if quick else 40
    n_raw = 100 if quick else 400
    n_memory = 1_000 if quick else 10_000

    q_seq, q_conc, q_spread = await bench_queue_calls(n_calls)
    m_seq, m_conc, m_spread = await bench_calls(n_calls, "memory://")
    with tempfile.TemporaryDirectory() as tmp:
        s_seq, s_conc, s_spread = await bench_calls(
            max(200, n_calls // 100), f"sqlite:///{tmp}/calls"
        )
        raw = bench_raw_sqlite(n_raw, Path(tmp))
        durable, groups = await bench_durable(100, n_durable, Path(tmp))

    tracemalloc.start()
    mem_queue = await bench_memory_queue(n_memory)
    mem_actor = await bench_memory_actorkit(n_memory)
    tracemalloc.stop()

    print(f"\nactorkit runtime benchmark ({platform.python_version()}, {platform.machine()})")
    print("(a) in-process action calls — goal ≥ 0.5× the asyncio.Queue actor\n")
    print(
        table(
            [
                (q_seq, None),
                (m_seq, q_seq),
                (s_seq, q_seq),
                (q_conc, None),
                (m_conc, q_conc),
                (s_conc, q_conc),
                (q_spread, None),
                (m_spread, q_spread),
                (s_spread, q_spread),
            ]
        )
    )
    print("\n(b) durable acknowledged increments — goal ≥ 2× raw sqlite3 commits\n")
    print(table([(raw, None), (durable, raw)]))
    per_commit = groups["batches"] / max(1, groups["commits"])
    print(
        f"    group commit: {groups['batches']} batches in {groups['commits']} commits "
        f"({per_commit:.1f} per fsync)"
    )
    print("\n(c) memory per awake idle actor — goal ≤ 2× a bare Queue + Task\n")
    print(f"    asyncio Queue + Task + state dict: {mem_queue:,.0f} B")
    print(
        f"    actorkit awake idle actor:         {mem_actor:,.0f} B  ({mem_actor / mem_queue:.2f}×)"
    )

    results = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "quick": quick,
        "calls": {
            "baseline_sequential": q_seq.summary(),
            "baseline_concurrent": q_conc.summary(),
            "memory_sequential": m_seq.summary(),
            "memory_concurrent": m_conc.summary(),
            "sqlite_sequential": s_seq.summary(),
            "sqlite_concurrent": s_conc.summary(),
            "baseline_spread": q_spread.summary(),
            "memory_spread": m_spread.summary(),
            "sqlite_spread": s_spread.summary(),
            "ratio_sequential": m_seq.rate / q_seq.rate,
            "ratio_concurrent": m_conc.rate / q_conc.rate,
            "ratio_spread": m_spread.rate / q_spread.rate,
        },
        "durable": {
            "raw_sqlite": raw.summary(),
            "actorkit": durable.summary(),
            "ratio": durable.rate / raw.rate,
            **groups,
        },
        "memory": {
            "actors": n_memory,
            "baseline_bytes": mem_queue,
            "actorkit_bytes": mem_actor,
            "ratio": mem_actor / mem_queue,
        },
    }
    return results


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (smoke test)")
    args = parser.parse_args()
    results = asyncio.run(main(args.quick))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"runtime-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    run()
