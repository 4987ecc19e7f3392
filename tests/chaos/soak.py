"""``scripts/soak``: mixed load with network faults against one real server, for a long time;
its memory (VmRSS) and open files must stay flat.

    scripts/soak                 # 30 minutes
    scripts/soak --minutes 5

One ``actorkit serve`` of chaos/soak_app.py on SQLite; every client goes through a fault
proxy (delays all along, and every half minute a window of resets, drops or a blackhole).
The load: HTTP callers on 1,000 rooms (each sleeps after a second idle, so rooms keep
waking and sleeping), reminders scheduled a few seconds ahead (which wake sleeping
rooms), and WebSocket clients that connect, subscribe, call, receive events and leave.

Every ``--every`` seconds (10) the server's VmRSS (/proc/PID/status) and open file count
(/proc/PID/fd) are sampled. At the end the samples are printed with a verdict: after the
warm-up (the first fifth), the median of the last third of the samples must be within
``RSS_BOUND`` / ``FD_BOUND`` of the median of the first third. Exits 1 if not flat, if the
server died, or if nothing succeeded in the last third.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from actorkit import ActorError, AsyncClient
from chaos.main import stop_on_signals
from chaos.proxy import BOTH, FaultProxy
from cluster_fixtures import Node

APP = "tests/chaos/soak_app.py:registry"
ROOMS = 1000
#: Flat: last-third median ≤ first-third median × factor + slack.
RSS_BOUND = (1.10, 4 * 1024)  # kB
FD_BOUND = (1.2, 10)


@dataclass
class Sample:
    at: float  # seconds since start
    rss_kb: int
    fds: int
    ok: int  # successful calls so far
    errors: int


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Load:
    """The clients; ``counts`` tallies what happened ("http ok", "ws events", errors…)."""

    def __init__(self, url: str, seed: int) -> None:
        self.url = url
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.stop = False

    async def http_caller(self) -> None:
        async with AsyncClient(self.url, timeout=5.0) as client:
            while not self.stop:
                handle = client.get_or_create("room", f"room-{self.rng.randrange(ROOMS)}")
                try:
                    if self.rng.random() < 0.2:
                        await handle.action("remind", self.rng.uniform(0.5, 5.0))
                        self.counts["reminders"] += 1
                    else:
                        await handle.action("bump")
                    self.counts["http ok"] += 1
                except ActorError as err:
                    self.counts[f"error {err.code}"] += 1
                except Exception as exc:  # outside the client's contract: count it, go on
                    self.counts[f"error {type(exc).__name__}"] += 1
                await asyncio.sleep(self.rng.uniform(0, 0.1))

    async def ws_client(self) -> None:
        async with AsyncClient(self.url, timeout=5.0) as client:
            while not self.stop:
                handle = client.get_or_create("room", f"room-{self.rng.randrange(20)}")
                try:
                    async with handle.connect() as conn:
                        conn.on("bumped", lambda *_: self.counts.update(["ws events"]))
                        conn.on("ticked", lambda *_: self.counts.update(["ws events"]))
                        for _ in range(self.rng.randint(1, 30)):
                            await asyncio.wait_for(conn.action("bump"), 10)
                            self.counts["ws ok"] += 1
                            await asyncio.sleep(self.rng.uniform(0, 0.3))
                        self.counts["ws sessions"] += 1
                except ActorError as err:
                    self.counts[f"ws error {err.code}"] += 1
                    await asyncio.sleep(0.2)
                except Exception as exc:  # a timeout, or outside the client's contract
                    self.counts[f"ws error {type(exc).__name__}"] += 1
                    await asyncio.sleep(0.2)

    @property
    def ok(self) -> int:
        return self.counts["http ok"] + self.counts["ws ok"]

    @property
    def errors(self) -> int:
        return sum(v for k, v in self.counts.items() if "error" in k)


async def faults(proxy: FaultProxy, rng: random.Random, counts: Counter[str]) -> None:
    """Delays all along; every ~30 s a few seconds of resets, drops or a blackhole."""
    while True:
        proxy.clear()
        proxy.set(BOTH, delay=0.05, max_delay=0.2)
        await asyncio.sleep(rng.uniform(20, 40))
        kind = rng.choice(["reset", "drop", "blackhole"])
        counts[kind] += 1
        if kind == "reset":
            proxy.set(BOTH, reset=0.05)
        elif kind == "drop":
            proxy.set(BOTH, drop=0.05)
        else:
            proxy.blackhole = True
            proxy.drop_all()
        await asyncio.sleep(rng.uniform(2, 6))


def verdict(samples: list[Sample]) -> tuple[bool, list[str]]:
    """Flat: after the warm-up, last-third medians within bounds of first-third medians."""
    kept = samples[len(samples) // 5 :]
    if len(kept) < 3:
        return False, [f"too few samples after the warm-up ({len(kept)})"]
    third = len(kept) // 3
    first, last = kept[:third], kept[-third:]
    lines, flat = [], True
    for name, field, (factor, slack) in (
        ("RSS kB", "rss_kb", RSS_BOUND),
        ("open files", "fds", FD_BOUND),
    ):
        before = statistics.median(getattr(s, field) for s in first)
        after = statistics.median(getattr(s, field) for s in last)
        bound = before * factor + slack
        ok = after <= bound
        flat &= ok
        lines.append(
            f"{name}: first-third median {before:.0f}, last-third median {after:.0f} "
            f"(bound {bound:.0f}): {'flat' if ok else 'GROWING'}"
        )
    if last[-1].ok <= last[0].ok:
        flat = False
        lines.append("no call succeeded in the last third")
    return flat, lines


async def soak(minutes: float, every: float, seed: int) -> int:
    stop_on_signals()
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="actorkit-soak-") as tmp:
        server = Node(APP, f"sqlite:///{Path(tmp) / 'data'}")
        server.start()
        proxy = FaultProxy(("127.0.0.1", server.port), seed=seed).start()
        load = Load(proxy.url, seed)
        injected: Counter[str] = Counter()
        tasks = [asyncio.ensure_future(load.http_caller()) for _ in range(4)]
        tasks += [asyncio.ensure_future(load.ws_client()) for _ in range(4)]
        tasks.append(asyncio.ensure_future(faults(proxy, rng, injected)))
        samples: list[Sample] = []
        started = time.monotonic()
        print(f"soak: {minutes} min, server pid {server.pid}, sampling every {every} s")
        try:
            while (now := time.monotonic() - started) < minutes * 60:
                if not server.alive:
                    print("the server died", flush=True)
                    return 1
                samples.append(
                    Sample(now, rss_kb(server.pid), open_files(server.pid), load.ok, load.errors)
                )
                s = samples[-1]
                print(
                    f"{s.at:7.0f} s  RSS {s.rss_kb / 1024:7.1f} MB  open files {s.fds:4d}  "
                    f"calls ok {s.ok:7d}  errors {s.errors:5d}",
                    flush=True,
                )
                await asyncio.sleep(every)
        finally:
            load.stop = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            proxy.stop()
            server.stop()
            server.log_path.unlink(missing_ok=True)
    flat, lines = verdict(samples)
    print(f"load: {dict(sorted(load.counts.items()))}")
    print(f"fault windows: {dict(sorted(injected.items()))}; proxy events: {dict(proxy.counts)}")
    print("\n".join(lines))
    print(f"verdict: {'flat' if flat else 'NOT FLAT'}")
    return 0 if flat else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    return asyncio.run(soak(args.minutes, args.every, args.seed))


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except asyncio.CancelledError:
        sys.exit("interrupted")
