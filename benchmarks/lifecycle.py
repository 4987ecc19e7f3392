"""Sleep/wake and schedule benchmarks (issue: actor lifecycle).

Measured in one run, on the sqlite driver in a temporary directory:

- wake latency (sleeping actor → first call answered), small state and 1 MB state, against
  the baseline "open a SQLite file and read one row" of the same size;
- bytes of memory the node keeps per sleeping actor (tracemalloc, 10,000 actors);
- schedule firing delay (fired − due), for awake actors and for sleeping ones.

Run: ``python -m benchmarks.lifecycle`` (``--quick`` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from actorkit import Actor, ActorOptions, AsyncClient, Registry, action

RESULTS = Path(__file__).parent / "results"


class Small(Actor):
    state = {"n": 0}

    @action
    def touch(self) -> int:
        return int(self.state["n"])


class Big(Actor):
    options = ActorOptions(action_timeout=None)

    def create_state(self, input: Any) -> dict[str, Any]:
        return {"blob": bytes(1024 * 1024)}

    @action
    def touch(self) -> int:
        return len(self.state["blob"])


class Timer(Actor):
    state = {"delays": []}

    @action
    def arm(self, seconds: float) -> None:
        self.schedule.after(seconds, "fire")

    @action
    def fire(self) -> None:
        firing = self.schedule.current
        assert firing is not None
        self.state["delays"].append(time.time() - firing.scheduled_at)

    @action
    def delays(self) -> list[float]:
        return list(self.state["delays"])


registry = Registry(Small, Big, Timer)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def node_of(client: AsyncClient) -> Any:
    return client._transport.node  # type: ignore[attr-defined]


async def wake_latency(directory: Path, actor: type[Actor], n: int) -> list[float]:
    async with registry.test_client(f"sqlite:///{directory}") as client:
        node = node_of(client)
        handles = [client.get_or_create(actor, f"w{i}") for i in range(n)]
        ids = [await h.resolve() for h in handles]
        for h in handles:
            await h.touch()
        samples = []
        for h, actor_id in zip(handles, ids, strict=True):
            await node.sleep_actor(actor_id)
            start = time.perf_counter()
            await h.touch()
            samples.append(time.perf_counter() - start)
        return samples


def sqlite_read_baseline(directory: Path, size: int, n: int) -> list[float]:
    path = directory / "baseline.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB)")
    conn.executemany("INSERT OR REPLACE INTO t VALUES (?, ?)", [(i, bytes(size)) for i in range(n)])
    conn.commit()
    conn.close()
    samples = []
    for i in range(n):
        start = time.perf_counter()
        c = sqlite3.connect(path)
        c.execute("SELECT v FROM t WHERE k = ?", (i,)).fetchone()
        c.close()
        samples.append(time.perf_counter() - start)
    return samples


async def sleeping_bookkeeping(directory: Path, n: int) -> float:
    async with registry.test_client(f"sqlite:///{directory}") as client:
        node = node_of(client)
        await client.get_or_create(Small, "warm").touch()
        await node.sleep_actor(await client.get_or_create(Small, "warm").resolve())
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for start in range(0, n, 500):
            await asyncio.gather(
                *(client.get_or_create(Small, f"b{i}").touch() for i in range(start, start + 500))
            )
        await asyncio.gather(*(node.sleep_actor(a) for a in list(node.instances)))
        await asyncio.sleep(0.2)  # let finished tasks' callbacks run and release them
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        return kept / n


async def schedule_delays(directory: Path, n: int, asleep: bool) -> list[float]:
    async with registry.test_client(f"sqlite:///{directory}") as client:
        node = node_of(client)
        handles = [client.get_or_create(Timer, f"t{asleep}{i}") for i in range(n)]
        for i, h in enumerate(handles):
            await h.arm(0.3 + 0.01 * i)
        if asleep:
            await asyncio.gather(*(node.sleep_actor(a) for a in list(node.instances)))
        await asyncio.sleep(0.3 + 0.01 * n + 1.0)
        delays: list[float] = []
        for h in handles:
            delays.extend(await h.delays())
        return delays


def row(name: str, samples: list[float], baseline: list[float] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "p50_ms": statistics.median(samples) * 1e3,
        "p99_ms": pct(samples, 99) * 1e3,
    }
    if baseline is not None:
        out["baseline_p50_ms"] = statistics.median(baseline) * 1e3
        out["ratio_p50"] = out["p50_ms"] / out["baseline_p50_ms"]
    return out


async def main(quick: bool) -> None:
    n_wake = 50 if quick else 300
    n_big = 10 if quick else 50
    n_sleep = 2_000 if quick else 10_000
    n_sched = 50 if quick else 200
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        small = await wake_latency(d / "a", Small, n_wake)
        rows.append(row("wake, small state", small, sqlite_read_baseline(d, 16, n_wake)))
        big = await wake_latency(d / "b", Big, n_big)
        rows.append(row("wake, 1 MB state", big, sqlite_read_baseline(d, 1024 * 1024, n_big)))
        awake = await schedule_delays(d / "c", n_sched, asleep=False)
        rows.append(row("schedule delay, awake actor", awake))
        asleep = await schedule_delays(d / "d", n_sched, asleep=True)
        rows.append(row("schedule delay, sleeping actor", asleep))
        per_actor = await sleeping_bookkeeping(d / "e", n_sleep)
    print(f"{'benchmark':34} {'p50 ms':>9} {'p99 ms':>9} {'baseline p50':>13} {'ratio':>7}")
    for r in rows:
        base = f"{r['baseline_p50_ms']:.3f}" if "baseline_p50_ms" in r else "-"
        ratio = f"{r['ratio_p50']:.1f}x" if "ratio_p50" in r else "-"
        print(f"{r['name']:34} {r['p50_ms']:9.3f} {r['p99_ms']:9.3f} {base:>13} {ratio:>7}")
    print(f"memory kept per sleeping actor: {per_actor:.0f} bytes (goal <= 300; {n_sleep} actors)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lifecycle.json").write_text(
        json.dumps({"rows": rows, "bytes_per_sleeping_actor": per_actor}, indent=2)
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
