"""What the inspector costs the actors it watches.

In-process (memory driver), one run, three configurations measured alternately:

- ``off``: the inspector is off (the activity feed is inactive — the baseline);
- ``history``: the inspector is on (events recorded for ``GET /events``), nobody watching;
- ``watched``: on, plus a live subscriber (what an open inspector page adds).

Each round calls a state-changing action sequentially on one actor and concurrently on
many; the table shows calls/s and per-call latency p50/p99, and the ratio to ``off``.
Numbers are noisy on a shared machine: compare ratios, not absolutes.

Run: ``python -m benchmarks.inspector`` (``--quick`` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from actorkit import Actor, AsyncClient, Registry, action
from actorkit._runtime.node import Node
from actorkit.local import LocalTransport, local_client
from actorkit.storage import MemoryDriver

RESULTS = Path(__file__).parent / "results"


class Counter(Actor):
    state = {"count": 0, "recent": []}

    @action
    def bump(self, amount: int) -> int:
        self.state["count"] += amount
        self.state["recent"] = [*self.state["recent"][-9:], amount]
        return int(self.state["count"])


registry = Registry(Counter)


async def run_config(mode: str, calls: int, actors: int) -> dict[str, Any]:
    node = Node(registry, MemoryDriver(), client_factory=local_client)
    async with AsyncClient(transport=LocalTransport(node, owns_node=True)) as client:
        received = 0

        def listener(event: dict[str, Any]) -> None:
            nonlocal received
            received += 1

        unsubscribe = None
        if mode in ("history", "watched"):
            node.activity.keep_history()
        if mode == "watched":
            unsubscribe = node.activity.subscribe(listener)
        handle = client.get_or_create(Counter, ["one"])
        await handle.bump(0)
        latencies: list[float] = []
        started = time.perf_counter()
        for i in range(calls):
            t0 = time.perf_counter()
            await handle.bump(i)
            latencies.append(time.perf_counter() - t0)
        sequential = calls / (time.perf_counter() - started)
        handles = [client.get_or_create(Counter, [f"k{i}"]) for i in range(actors)]
        await asyncio.gather(*(h.bump(0) for h in handles))
        started = time.perf_counter()
        per_actor = max(1, calls // actors)
        for _ in range(per_actor):
            await asyncio.gather(*(h.bump(1) for h in handles))
        concurrent = per_actor * actors / (time.perf_counter() - started)
        if unsubscribe is not None:
            unsubscribe()
        latencies.sort()
        return {
            "mode": mode,
            "sequential_per_s": sequential,
            "concurrent_per_s": concurrent,
            "p50_us": statistics.median(latencies) * 1e6,
            "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6,
            "events_received": received,
        }


async def main(quick: bool) -> None:
    calls = 2_000 if quick else 10_000
    actors = 100
    rounds = 1 if quick else 3
    results: dict[str, list[dict[str, Any]]] = {"off": [], "history": [], "watched": []}
    for _ in range(rounds):
        for mode in results:
            results[mode].append(await run_config(mode, calls, actors))
    best = {m: max(rs, key=lambda r: r["sequential_per_s"]) for m, rs in results.items()}
    base = best["off"]
    print(f"{'mode':<9} {'seq calls/s':>12} {'ratio':>6} {'conc calls/s':>13} {'ratio':>6} "
          f"{'p50 µs':>8} {'p99 µs':>8}")
    for mode, r in best.items():
        print(
            f"{mode:<9} {r['sequential_per_s']:>12,.0f} "
            f"{r['sequential_per_s'] / base['sequential_per_s']:>6.2f} "
            f"{r['concurrent_per_s']:>13,.0f} "
            f"{r['concurrent_per_s'] / base['concurrent_per_s']:>6.2f} "
            f"{r['p50_us']:>8.1f} {r['p99_us']:>8.1f}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "inspector.json"
    out.write_text(json.dumps({"calls": calls, "actors": actors, "runs": results}, indent=2))
    print(f"(best of {rounds}; written to {out})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
