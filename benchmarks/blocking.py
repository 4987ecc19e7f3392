"""What ``@action(blocking=True)`` costs, and what it buys, measured in one run.

    python -m benchmarks.blocking            # full run
    python -m benchmarks.blocking --quick    # smaller counts, for a smoke test

In-process calls (``registry.test_client``, memory driver, ``dev=False``):

(a) call latency of a trivial sync action, plain (on the event loop; the baseline) and
    marked ``blocking=True`` (a worker-thread hand-off per call), p50/p99;
(b) latency of calls to a second actor while a first one runs an action that blocks for
    ``BLOCK_MS`` in a loop: plain (the whole loop stalls) against ``blocking=True``.

Prints a table and writes JSON to ``benchmarks/results/blocking.json``. Compare the rows of
one run with each other, not with another machine's.
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

RESULTS = Path(__file__).parent / "results"
BLOCK_MS = 20.0


class Work(Actor):
    state = {"n": 0}

    @action
    def plain(self) -> int:
        self.state["n"] += 1
        return int(self.state["n"])

    @action(blocking=True)
    def threaded(self) -> int:
        self.state["n"] += 1
        return int(self.state["n"])

    @action
    def block_plain(self, ms: float) -> None:
        time.sleep(ms / 1e3)

    @action(blocking=True)
    def block_threaded(self, ms: float) -> None:
        time.sleep(ms / 1e3)


registry = Registry(Work)


def _row(name: str, samples: list[float], baseline: dict[str, Any] | None) -> dict[str, Any]:
    samples = sorted(samples)
    p50 = statistics.median(samples) * 1e3
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e3
    row: dict[str, Any] = {"name": name, "n": len(samples), "p50_ms": p50, "p99_ms": p99}
    if baseline is not None:
        row["p50_vs_baseline"] = p50 / baseline["p50_ms"]
    return row


async def _latencies(client: AsyncClient, action: str, n: int) -> list[float]:
    handle = client.get_or_create(Work, action)
    await handle.action(action)  # wake it
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await handle.action(action)
        out.append(time.perf_counter() - started)
    return out


async def _latencies_beside(client: AsyncClient, blocker: str, n: int) -> list[float]:
    """Latencies of calls to one actor while another runs ``blocker`` back to back."""
    other = client.get_or_create(Work, f"beside-{blocker}")
    await other.plain()
    busy = client.get_or_create(Work, f"busy-{blocker}")
    stop = False

    async def keep_blocking() -> None:
        while not stop:
            await busy.action(blocker, BLOCK_MS)
            await asyncio.sleep(0)  # an in-process call may finish without yielding

    task = asyncio.ensure_future(keep_blocking())
    await asyncio.sleep(0)
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await asyncio.sleep(0)  # like a request arriving: the loop first runs what is ready
        await other.plain()
        out.append(time.perf_counter() - started)
    stop = True
    await task
    return out


async def main(quick: bool) -> list[dict[str, Any]]:
    n = 500 if quick else 5000
    beside = 20 if quick else 200
    rows: list[dict[str, Any]] = []
    async with registry.test_client(dev=False) as client:
        await _latencies(client, "plain", n // 5)  # warm up
        plain = _row(
            "sync action, on the loop (baseline)", await _latencies(client, "plain", n), None
        )
        rows.append(plain)
        rows.append(
            _row("sync action, blocking=True", await _latencies(client, "threaded", n), plain)
        )
        stalled = _row(
            f"other actor, beside a {BLOCK_MS:.0f} ms plain block",
            await _latencies_beside(client, "block_plain", beside),
            None,
        )
        rows.append(stalled)
        rows.append(
            _row(
                f"other actor, beside a {BLOCK_MS:.0f} ms blocking=True block",
                await _latencies_beside(client, "block_threaded", beside),
                stalled,
            )
        )
    print(f"{'benchmark':46} {'n':>6} {'p50 ms':>9} {'p99 ms':>9} {'p50 ratio':>10}")
    for r in rows:
        ratio = f"{r['p50_vs_baseline']:.2f}x" if "p50_vs_baseline" in r else "-"
        print(f"{r['name']:46} {r['n']:>6} {r['p50_ms']:9.3f} {r['p99_ms']:9.3f} {ratio:>10}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "blocking.json").write_text(json.dumps({"rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
