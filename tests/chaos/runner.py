"""One seeded chaos run: real ``actorkit serve`` processes, fault proxies, concurrent clients,
faults, and a linearizability verdict on every actor's history.

Single node: one server on SQLite; clients reach it through a fault proxy. Cluster: ``nodes``
servers on one PostgreSQL database; each node has a fault proxy in front (its clients go
through it) and one between it and PostgreSQL; nodes forward to each other directly.

The seed drives everything random: the clients' operations, which fault comes next, on
which node or proxy and for how long, and the proxies' own choices. Timing is the
machine's, so a seed replays the same plan, not the same interleaving.

Faults, one at a time with quiet gaps: ``kill -9`` then restart, ``SIGSTOP`` then
``SIGCONT``, a graceful restart, and proxy windows (delay, drop, reset, blackhole) in
front of a node or, in a cluster, between a node and PostgreSQL. Afterwards every fault is
lifted, every node reads every actor once more (so a lost acknowledged write shows), and
each actor's history is checked.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from actorkit import ActorHandle, AsyncClient
from chaos.proxy import BOTH, DOWN, UP, Direction, FaultProxy
from chaos.workload import Target, Verdicts, check_all, run_client, targets
from cluster_fixtures import LEASE, Node
from server_fixtures import free_port
from test_cluster_linearizable import Recorder

APP = "tests/chaos/app.py:registry"
#: How long the final reads may take to succeed once every fault is lifted.
SETTLE = 60.0


@dataclass
class Settings:
    seconds: float = 12.0  # of chaos under load
    clients: int = 6
    registers: int = 3
    counters: int = 2
    nodes: int = 3  # in a cluster
    client_timeout: float = 3.0  # a call unanswered this long has an unknown outcome
    verbose: bool = False  # print each fault as it happens
    warm_up: int = 30  # acknowledged calls before the first fault


@dataclass
class SeedResult:
    seed: int
    cluster: bool
    seconds: float
    calls: Counter[str]  # "ok", "fail" (certainly no effect), "info" (unknown)
    faults: Counter[str]
    verdicts: Verdicts
    problems: list[str] = field(default_factory=list)  # liveness: final reads that never worked
    errors: Counter[str] = field(default_factory=Counter)  # "outcome: code" of failed calls
    recorder: Recorder | None = None

    def line(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        verdict = "linearizable"
        if self.verdicts.violations:
            verdict = f"{len(self.verdicts.violations)} VIOLATIONS"
        elif self.verdicts.undecided:
            verdict = f"{len(self.verdicts.undecided)} undecided"
        return (
            f"seed {self.seed}: {sum(self.calls.values())} calls ({self.calls['ok']} ok, "
            f"{self.calls['info']} unknown, {self.calls['fail']} failed); faults: {faults}; "
            f"{verdict}; {self.seconds:.1f} s"
        )


class Rig:
    """The processes and proxies of one run."""

    def __init__(self, seed: int, nodes: list[Node], fronts: list[FaultProxy]) -> None:
        self.seed = seed
        self.nodes = nodes
        self.fronts = fronts  # fronts[i] forwards to nodes[i]
        self.storage_proxies: list[FaultProxy] = []
        self.paused: set[int] = set()
        self.verbose = False

    def log(self, text: str) -> None:
        if self.verbose:
            print(f"  {time.strftime('%H:%M:%S')} seed {self.seed}: {text}", flush=True)

    @property
    def proxies(self) -> list[FaultProxy]:
        return [*self.fronts, *self.storage_proxies]

    def stop(self) -> None:
        for i, node in enumerate(self.nodes):
            if i in self.paused and node.alive:
                node.resume()
            node.stop()
        for proxy in self.proxies:
            proxy.stop()

    def remove_logs(self) -> None:
        for node in self.nodes:
            node.log_path.unlink(missing_ok=True)


def via_proxy(url: str, port: int) -> str:
    """``url`` (postgresql://…) pointed at ``127.0.0.1:port`` instead of its host."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def rig(seed: int, settings: Settings, postgres_url: str | None) -> Iterator[Rig]:
    """Start the servers and proxies (a cluster if ``postgres_url`` is given)."""
    rng = random.Random(f"{seed}/rig")
    nodes: list[Node] = []
    made = Rig(seed, nodes, [])
    with tempfile.TemporaryDirectory(prefix="actorkit-chaos-") as tmp:
        try:
            if postgres_url is None:
                nodes.append(Node(APP, f"sqlite:///{Path(tmp) / 'data'}"))
            else:
                parts = urlsplit(postgres_url)
                upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
                for _ in range(settings.nodes):
                    proxy = FaultProxy(upstream, seed=rng.randrange(1 << 30)).start()
                    made.storage_proxies.append(proxy)
                    port = free_port()
                    args = ["--advertise-url", f"http://127.0.0.1:{port}"]
                    args += ["--lease-seconds", str(LEASE)]
                    storage = via_proxy(postgres_url, proxy.port)
                    nodes.append(Node(APP, storage, port=port, args=args))
            for node in nodes:
                node.start()
                front = FaultProxy(("127.0.0.1", node.port), seed=rng.randrange(1 << 30))
                made.fronts.append(front.start())
            yield made
        finally:
            made.stop()


# -- faults ---------------------------------------------------------------------------------


async def network_fault(proxy: FaultProxy, rng: random.Random, counts: Counter[str]) -> str:
    """Switch one kind of fault on at ``proxy`` for a random window, then off."""
    kind = rng.choice(["delay", "drop", "reset", "blackhole"])
    ways: list[Direction | tuple[Direction, ...]] = [BOTH, UP, DOWN]
    directions = rng.choice(ways)
    if kind == "delay":
        proxy.set(directions, delay=rng.uniform(0.2, 1.0), max_delay=rng.uniform(0.05, 1.0))
    elif kind == "drop":
        proxy.set(directions, drop=rng.uniform(0.01, 0.2))
    elif kind == "reset":
        proxy.set(directions, reset=rng.uniform(0.01, 0.2))
    else:
        proxy.blackhole = True
        proxy.drop_all()
    counts[kind] += 1
    await asyncio.sleep(rng.uniform(0.5, 3.0))
    proxy.clear()
    return kind


async def one_fault(rig: Rig, rng: random.Random, counts: Counter[str]) -> None:
    cluster = bool(rig.storage_proxies)
    choices = ["kill", "kill", "pause", "pause", "restart", "net", "net", "net"]
    if cluster:
        choices += ["storage", "storage"]
    what = rng.choice(choices)
    i = rng.randrange(len(rig.nodes))
    node = rig.nodes[i]
    rig.log(f"{what} on node {i}")
    if what == "kill":
        node.kill()
        counts["kill -9"] += 1
        await asyncio.sleep(rng.uniform(0.1, LEASE if cluster else 1.0))
        await asyncio.to_thread(node.start)
    elif what == "pause":
        node.pause()
        rig.paused.add(i)
        counts["SIGSTOP"] += 1
        await asyncio.sleep(rng.uniform(0.2, 2.5 * LEASE if cluster else 4.0))
        node.resume()
        rig.paused.discard(i)
    elif what == "restart":
        counts["restart"] += 1
        await asyncio.to_thread(node.restart)
    elif what == "net":
        await network_fault(rig.fronts[i], rng, counts)
    else:
        kind = await network_fault(rig.storage_proxies[i], rng, Counter())
        counts[f"storage {kind}"] += 1


async def chaos(rig: Rig, rng: random.Random, seconds: float, counts: Counter[str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        started = time.monotonic()
        await one_fault(rig, rng, counts)
        rig.log(f"{counts.total()} faults, the last took {time.monotonic() - started:.1f} s")


# -- one run --------------------------------------------------------------------------------


async def run_seed(
    seed: int,
    settings: Settings | None = None,
    postgres_url: str | None = None,
    dump: Path | None = None,
) -> SeedResult:
    """Run seed ``seed`` (a cluster if ``postgres_url`` is given) and check its histories."""
    settings = settings or Settings()
    started = time.monotonic()
    rng = random.Random(seed)
    chosen = targets(settings.registers, settings.counters)
    recorder = Recorder(tuple(t.name for t in chosen))
    kinds = {t.name: t.kind for t in chosen}
    faults: Counter[str] = Counter()
    problems: list[str] = []
    with rig(seed, settings, postgres_url) as r:
        r.verbose = settings.verbose
        ids = await create_actors(r, chosen)
        stop = False
        clients = [
            AsyncClient(r.fronts[i % len(r.fronts)].url, timeout=settings.client_timeout)
            for i in range(settings.clients)
        ]
        workers = []
        try:
            for i, client in enumerate(clients):
                handles = {t: client.get_for_id(t.kind, ids[t]) for t in chosen}
                loop = run_client(
                    recorder, f"c{i}", handles, random.Random(rng.random()), lambda: stop
                )
                workers.append(asyncio.ensure_future(loop))
            await warmed_up(recorder, settings.warm_up)
            await chaos(r, rng, settings.seconds, faults)
            stop = True
            await asyncio.gather(*workers)
            for proxy in r.proxies:
                faults.update({f"proxy {k}": v for k, v in proxy.counts.items()})
                proxy.clear()
            problems = await final_reads(r, recorder, chosen, ids, settings)
        finally:
            stop = True
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            for client in clients:
                await client.aclose()
        verdicts = check_all(recorder, kinds, seed, dump)
        if verdicts.violations or problems:  # keep the server logs, and say where
            logs = "\n".join(f"server log: {n.log_path}" for n in r.nodes)
            verdicts.violations = [f"{v}\n{logs}" for v in verdicts.violations]
            problems = [f"{p}\n{logs}" for p in problems]
        else:
            r.remove_logs()
    calls = Counter(rec.outcome for rec in recorder.records)
    for kind in ("ok", "fail", "info"):
        calls[kind] += 0
    errors = Counter(f"{rec.outcome}: {rec.detail}" for rec in recorder.records if rec.detail)
    return SeedResult(
        seed,
        postgres_url is not None,
        time.monotonic() - started,
        calls,
        faults,
        verdicts,
        problems,
        errors,
        recorder,
    )


async def warmed_up(recorder: Recorder, calls: int) -> None:
    """Wait for ``calls`` acknowledged calls (so no run is all faults, however slow the
    machine); fail after ``SETTLE`` seconds without them."""
    deadline = time.monotonic() + SETTLE
    while sum(r.outcome == "ok" for r in recorder.records) < calls:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"fewer than {calls} calls succeeded in {SETTLE} s, before any fault"
            )
        await asyncio.sleep(0.05)


async def create_actors(r: Rig, chosen: list[Target]) -> dict[Target, str]:
    async with AsyncClient(r.nodes[0].url, timeout=30.0) as admin:
        return {t: await admin.get_or_create(t.kind, t.key).resolve() for t in chosen}


async def final_reads(
    r: Rig, recorder: Recorder, chosen: list[Target], ids: dict[Target, str], settings: Settings
) -> list[str]:
    """Once every fault is lifted, read every actor through every node, recorded."""
    problems = []
    for i, node in enumerate(r.nodes):
        if i in r.paused:
            node.resume()
        if not node.alive:
            await asyncio.to_thread(node.start)
    r.paused.clear()
    deadline = time.monotonic() + SETTLE
    for i, front in enumerate(r.fronts):
        async with AsyncClient(front.url, timeout=settings.client_timeout) as client:
            for t in chosen:
                handle: ActorHandle[Any] = client.get_for_id(t.kind, ids[t])
                op = ("read",) if t.kind == "register" else ("get",)
                while (await recorder.run(f"final@{i}", t.name, handle, op))[0] != "ok":
                    if time.monotonic() > deadline:
                        problems.append(f"seed {r.seed}: node {i} cannot read {t.name}")
                        break
                    await asyncio.sleep(0.2)
    return problems


def default_dump() -> Path:
    return Path(os.environ.get("TMPDIR", "/tmp")) / "actorkit-chaos"
