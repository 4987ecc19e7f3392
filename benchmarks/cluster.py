"""The cluster: several ``actorkit serve`` processes sharing one PostgreSQL database.

    python -m benchmarks.cluster [--quick] [--postgres URL] [--out PATH]

One run measures, and compares against single-node SQLite and PostgreSQL in the same run:

- **latency**: sequential calls sent to an actor's owner node vs to a non-owner node, which
  forwards them (alternating, same actor); local calls on single-node SQLite/PostgreSQL;
- **throughput**: calls/s of 32 keep-alive callers over 200 actors, with 1, 2 and 3
  PostgreSQL nodes and on one SQLite node; the callers spread over every node's URL (so
  with n nodes about (n-1)/n of the calls are forwarded) or, as a second row, send each
  call to its actor's owner (nothing forwarded);
- **activations**: get-or-create plus one call on fresh keys, 32 at a time, through every
  node;
- **failover**: for each round an actor owned by node X, a client calling it through another
  node, ``kill -9`` of X: the time from the kill to the first successful call (lease 2 s);
  X is restarted between rounds;
- **directory**: find (``GET /actors?name=…&key=…``) and a call that wakes a sleeping actor,
  with 100 and with 100,000 actors in the directory (rows bulk-copied into the driver's
  tables, each with the state of a real actor).

Every server is a subprocess on 127.0.0.1, stopped in a ``finally`` (SIGTERM, then kill);
each PostgreSQL configuration runs on a database of its own, created with a unique name on
the ``--postgres`` server and dropped at the end. The load generator is a minimal keep-alive
HTTP/1.1 client on asyncio streams (as in ``benchmarks/http.py``): httpx would saturate a
core before the servers do. Results: a table on stdout and ``benchmarks/results/cluster.json``.
Numbers are p50/p99 and ratios; on a shared 2-core machine, absolute times are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from actorkit import Actor, ActorOptions, Registry, action

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
APP = "benchmarks.cluster:registry"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
FAILOVER_LEASE = 2.0
CALLERS = 32
#: Every server process and database this run started or created (in the JSON, so a test
#: can check that all of them are gone at the end).
SPAWNED: list[dict[str, int]] = []  # {"pid": …, "port": …}
DATABASES: list[str] = []


# -- the app every node serves ----------------------------------------------------------------


class Counter(Actor):
    state = {"count": 0}
    options = ActorOptions(sleep_timeout=300.0)  # awake for the whole run: no sleeps in it

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])

    @action
    def pid(self) -> int:
        return os.getpid()


class Sleepy(Actor):
    """Sleeps 1 s after its last call: the directory part calls it asleep."""

    state = {"count": 0}
    options = ActorOptions(sleep_timeout=1.0)

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])


registry = Registry(Counter, Sleepy)


# -- statistics -------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def summary(samples: list[float], elapsed: float | None = None) -> dict[str, Any]:
    """Latencies (seconds) → n, p50/p99/max in ms, and ops/s over ``elapsed``."""
    if not samples:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None, "ops_per_s": None}
    return {
        "n": len(samples),
        "p50_ms": pct(samples, 50) * 1e3,
        "p99_ms": pct(samples, 99) * 1e3,
        "max_ms": max(samples) * 1e3,
        "ops_per_s": len(samples) / elapsed if elapsed else None,
    }


class CpuMeter:
    """CPU used while it is entered, in cores (1.0 = one core busy): by the nodes, by the
    PostgreSQL server's processes when they run on this machine, and by this load
    generator. Reads ``/proc`` (Linux); elsewhere every share is ``None``."""

    def __init__(self, node_pids: list[int]) -> None:
        self.node_pids = node_pids
        self.shares: dict[str, float | None] = {"nodes": None, "postgres": None, "client": None}

    @staticmethod
    def _ticks(pid: int | str) -> int:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    def _sample(self) -> dict[str, dict[int, int]]:
        groups: dict[str, dict[int, int]] = {"nodes": {}, "postgres": {}, "client": {}}
        for pid in self.node_pids:
            with contextlib.suppress(OSError):
                groups["nodes"][pid] = self._ticks(pid)
        for entry in os.listdir("/proc"):
            with contextlib.suppress(OSError):
                if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text() == "postgres\n":
                    groups["postgres"][int(entry)] = self._ticks(entry)
        groups["client"][os.getpid()] = self._ticks(os.getpid())
        return groups

    def __enter__(self) -> CpuMeter:
        self._began = time.monotonic()
        self._start = self._sample() if os.path.isdir("/proc/self") else None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._start is None:
            return
        end, elapsed = self._sample(), time.monotonic() - self._began
        hz = os.sysconf("SC_CLK_TCK")
        for name, now in end.items():
            used = sum(t - self._start[name].get(pid, 0) for pid, t in now.items())
            self.shares[name] = used / hz / elapsed if now else None


# -- a minimal HTTP/1.1 client ----------------------------------------------------------------


class Conn:
    """One keep-alive HTTP/1.1 connection to one node; reconnects after a failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: Any = None, timeout: float = 60.0
    ) -> tuple[int, Any]:
        """``(status, decoded JSON body)``; ``ConnectionError`` if the node did not answer."""
        data = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode()
        try:
            async with asyncio.timeout(timeout):
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
                assert self.reader is not None
                self.writer.write(head + data)
                reply = await self.reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in reply.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                payload = await self.reader.readexactly(length)
        except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError) as exc:
            self.close()
            raise ConnectionError(f"127.0.0.1:{self.port}: {exc!r}") from None
        return int(reply[9:12]), json.loads(payload) if payload else None

    async def call(self, actor_id: str, name: str, *args: Any) -> tuple[int, Any]:
        """``(200, the action's output)``, or ``(status, the error body)``."""
        status, body = await self.request(
            "POST", f"/actors/{actor_id}/actions/{name}", {"args": args}
        )
        return status, body["output"] if status == 200 else body

    async def get_or_create(self, name: str, key: str) -> str:
        status, body = await self.request("PUT", "/actors", {"name": name, "key": [key]})
        if status != 200:
            raise RuntimeError(f"get_or_create {name}[{key}]: {status} {body}")
        return str(body["actor_id"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def error_code(status: int, body: Any) -> str:
    return str(body.get("code")) if isinstance(body, dict) else f"http_{status}"


# -- server processes and databases -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class NodeProc:
    """One ``actorkit serve`` process on a fixed port (restartable on the same port)."""

    storage: str
    logs: Path
    lease: float | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        cmd = [sys.executable, "-m", "actorkit", "serve", APP, "--port", str(self.port)]
        cmd += ["--storage", self.storage, "--log-level", "warning"]
        if self.storage.startswith("postgres"):
            cmd += ["--advertise-url", self.url]
            if self.lease is not None:
                cmd += ["--lease-seconds", str(self.lease)]
        # Settings come from the flags only, never from this shell's ACTORKIT_* variables.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACTORKIT_")}
        with (self.logs / f"node-{self.port}.log").open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        SPAWNED.append({"pid": self.proc.pid, "port": self.port})

    def wait_healthy(self, timeout: float = 60.0) -> None:
        import httpx

        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.TransportError, ValueError):
                reply = httpx.get(self.url + "/health", timeout=1.0)
                if reply.status_code == 200 and reply.json().get("status") == "ok":
                    return
            time.sleep(0.05)
        raise RuntimeError(f"node on port {self.port} not healthy after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        path = self.logs / f"node-{self.port}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (the node drains), then SIGKILL after ``grace`` seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@contextlib.contextmanager
def running(
    storage: str, n: int, logs: Path, lease: float | None = None
) -> Iterator[list[NodeProc]]:
    """``n`` healthy nodes on ``storage`` (started together); all stopped at the end."""
    nodes = [NodeProc(storage, logs, lease) for _ in range(n)]
    try:
        for node in nodes:
            node.spawn()
        for node in nodes:
            node.wait_healthy()
        yield nodes
    finally:
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
        for node in nodes:
            node.stop()


def database_url(server_url: str, name: str) -> str:
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A new database with a unique name on ``server_url``'s server; dropped at the end."""
    import psycopg
    from psycopg import sql

    name = f"actorkit_bench_{uuid.uuid4().hex[:12]}"
    DATABASES.append(name)
    ident = sql.Identifier(name)
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(ident))
    try:
        yield database_url(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            force = sql.SQL(" WITH (FORCE)") if admin.info.server_version >= 130000 else sql.SQL("")
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident) + force)


# -- the workloads ----------------------------------------------------------------------------


async def sequential(conns: dict[str, Conn], actor_id: str, n: int) -> dict[str, list[float]]:
    """``n`` sequential increments through each connection, alternating between them so
    that noise hits every label alike (after 20 warm-up calls each)."""
    samples: dict[str, list[float]] = {label: [] for label in conns}
    for i in range(n + 20):
        for label, conn in conns.items():
            start = time.perf_counter()
            status, body = await conn.call(actor_id, "increment", 1)
            took = time.perf_counter() - start
            if status != 200:
                raise RuntimeError(f"{label}: {status} {body}")
            if i >= 20:
                samples[label].append(took)
    return samples


async def create_counters(ports: list[int], prefix: str, n: int) -> tuple[list[str], list[int]]:
    """``n`` counters, the j-th created through node ``j % len(ports)`` (which activates
    it); returns their ids and the pid of the node each one turned out to be awake on."""
    conns = [Conn(p) for p in ports]
    ids: list[str] = []
    for j in range(n):
        ids.append(await conns[j % len(ports)].get_or_create("counter", f"{prefix}-{j}"))
    pids = []
    for actor_id in ids:
        status, pid = await conns[0].call(actor_id, "pid")
        if status != 200:
            raise RuntimeError(f"pid: {status} {pid}")
        pids.append(pid)
    for c in conns:
        c.close()
    return ids, pids


async def throughput(
    ports: list[int],
    node_pids: list[int],
    ids: list[str],
    owner_pids: list[int],
    seconds: float,
    to_owner: bool = False,
) -> dict[str, Any]:
    """``CALLERS`` callers, each cycling over all actors. Caller c sends every call to node
    ``c % n`` (a client that does not know where actors live), or, ``to_owner``, each call
    to the node that owns its actor (a client that routes by owner: nothing is forwarded)."""
    latencies: list[float] = []
    errors: Tally[str] = Tally()
    forwarded = 0
    warm_until = time.perf_counter() + min(1.0, seconds / 4)
    stop = warm_until + seconds
    owner_node = [node_pids.index(pid) for pid in owner_pids]

    async def caller(c: int) -> None:
        nonlocal forwarded
        conns = [Conn(port) for port in ports]
        j = c * 7
        clock = time.perf_counter
        while (now := clock()) < stop:
            j = (j + 1) % len(ids)
            node = owner_node[j] if to_owner else c % len(ports)
            try:
                status, body = await conns[node].call(ids[j], "increment", 1)
            except ConnectionError as exc:
                errors[type(exc).__name__] += 1
                await asyncio.sleep(0.01)
                continue
            took = clock() - now
            if now < warm_until:
                continue
            if status != 200:
                errors[error_code(status, body)] += 1
                continue
            latencies.append(took)
            forwarded += node != owner_node[j]
        for conn in conns:
            conn.close()

    with CpuMeter(node_pids) as cpu:
        await asyncio.gather(*(caller(c) for c in range(CALLERS)))
    out = summary(latencies, seconds)
    out.update(
        nodes=len(ports),
        routing="to owner" if to_owner else "any node",
        callers=CALLERS,
        actors=len(ids),
        forwarded_share=forwarded / len(latencies) if latencies else None,
        errors=dict(errors),
        cpu_cores=cpu.shares,
    )
    return out


async def activations(
    ports: list[int], node_pids: list[int], prefix: str, n: int, budget: float
) -> dict[str, Any]:
    """Get-or-create + one call on ``n`` fresh keys, ``CALLERS`` at a time, round-robin over
    the nodes; stops at ``budget`` seconds."""
    latencies: list[float] = []
    errors: Tally[str] = Tally()
    keys = iter(range(n))
    start = time.perf_counter()
    deadline = start + budget

    async def worker(w: int) -> None:
        conn = Conn(ports[w % len(ports)])
        for k in keys:
            if time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            try:
                status, body = await conn.request(
                    "PUT", "/actors", {"name": "counter", "key": [f"{prefix}-{k}"]}
                )
                if status == 200:
                    status, body = await conn.call(body["actor_id"], "increment", 1)
            except ConnectionError as exc:
                errors[type(exc).__name__] += 1
                continue
            if status != 200:
                errors[error_code(status, body)] += 1
                continue
            latencies.append(time.perf_counter() - t0)
        conn.close()

    with CpuMeter(node_pids) as cpu:
        await asyncio.gather(*(worker(w) for w in range(CALLERS)))
    out = summary(latencies, time.perf_counter() - start)
    out.update(nodes=len(ports), target=n, errors=dict(errors), cpu_cores=cpu.shares)
    return out


async def failover_round(x: NodeProc, y: NodeProc, key: str, lease: float) -> dict[str, Any]:
    """An actor owned by ``x``, a client calling it through ``y`` in a loop; ``kill -9`` of x
    at a random moment (often with a call in flight). Returns the seconds from the kill to
    the first successful call sent after it, and what the client saw."""
    direct, via = Conn(x.port), Conn(y.port)
    loop = asyncio.get_running_loop()
    killed_at: float | None = None

    def kill() -> None:
        nonlocal killed_at
        assert x.proc is not None
        x.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()

    try:
        actor_id = await direct.get_or_create("counter", key)
        status, pid = await direct.call(actor_id, "pid")
        if status != 200 or pid != x.pid:
            raise RuntimeError(f"{key} is not owned by the node it was created on: {pid}")
        acked = 0  # the counter's value in the last acknowledged reply
        errors: Tally[str] = Tally()
        kill_scheduled = False
        deadline = time.monotonic() + lease + 60.0
        while time.monotonic() < deadline:
            if acked >= 10 and not kill_scheduled:
                loop.call_later(random.uniform(0.0, 0.05), kill)
                kill_scheduled = True
            sent = time.monotonic()
            try:
                status, body = await via.call(actor_id, "increment", 1)
            except ConnectionError as exc:
                errors[type(exc).__name__] += 1
                await asyncio.sleep(0.02)
                continue
            if status != 200:
                errors[error_code(status, body)] += 1
                await asyncio.sleep(0.02)
                continue
            if killed_at is not None and sent >= killed_at:
                # Every increment acknowledged before the kill is in the new activation.
                return {
                    "seconds": time.monotonic() - killed_at,
                    "errors": dict(errors),
                    "lost_acknowledged": max(0, acked + 1 - int(body)),
                }
            acked = int(body)
        raise RuntimeError(f"no successful call within {lease + 60} s of the kill")
    finally:
        direct.close()
        via.close()
        if x.proc is not None and killed_at is not None:
            await asyncio.to_thread(x.proc.wait)
            x.proc = None


async def wait_asleep(port: int, timeout: float = 30.0) -> None:
    conn = Conn(port)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            _, health = await conn.request("GET", "/health")
            if health["actors_awake"] == 0:
                return
            await asyncio.sleep(0.1)
    finally:
        conn.close()
    raise RuntimeError(f"actors still awake after {timeout} s")


def bulk_insert(db_url: str, start: int, stop: int, template_id: str) -> float:
    """Copy sleeping ``sleepy`` actors ``dir-{start}`` … ``dir-{stop-1}`` into the
    driver's tables, each with the stored data (``kv`` rows) of ``template_id``, a real
    actor that has slept; then ANALYZE, as autovacuum would. Returns the seconds taken."""
    import psycopg

    from actorkit.storage.postgres import _encode_key

    began = time.perf_counter()
    with psycopg.connect(db_url) as db:
        epoch, initialized = db.execute(
            "SELECT epoch, initialized FROM actorkit.actors WHERE id = %s", (template_id,)
        ).fetchone() or (0, True)
        kv = db.execute(
            "SELECT k, v FROM actorkit.kv WHERE actor_id = %s", (template_id,)
        ).fetchall()
        now = time.time()
        ids = [uuid.uuid4().hex for _ in range(start, stop)]
        with db.cursor().copy(
            "COPY actorkit.actors (id, name, key, key_hash, created_at, initialized, epoch) "
            "FROM STDIN"
        ) as copy:
            for actor_id, i in zip(ids, range(start, stop), strict=True):
                key, key_hash = _encode_key((f"dir-{i}",))
                copy.write_row((actor_id, "sleepy", key, key_hash, now, initialized, epoch))
        with db.cursor().copy("COPY actorkit.kv (actor_id, k, v) FROM STDIN") as copy:
            for actor_id in ids:
                for k, v in kv:
                    copy.write_row((actor_id, k, v))
        db.commit()
        db.execute("ANALYZE actorkit.actors")
        db.execute("ANALYZE actorkit.kv")
        db.commit()
    return time.perf_counter() - began


async def directory_samples(
    port: int, population: int, finds: int, batches: int, batch: int
) -> dict[str, Any]:
    """Find latency over random keys among ``population``, and the latency of calls that
    wake a sleeping actor (``batches`` × ``batch`` distinct actors where there are enough,
    waiting for them to sleep between batches)."""
    conn = Conn(port)
    find: list[float] = []
    for i in (random.randrange(population) for _ in range(finds)):
        start = time.perf_counter()
        status, body = await conn.request("GET", f"/actors?name=sleepy&key=dir-{i}")
        find.append(time.perf_counter() - start)
        if status != 200:
            raise RuntimeError(f"find dir-{i}: {status} {body}")
    wake: list[float] = []
    chosen = random.sample(range(population), min(population, batches * batch))
    for b in range(batches):
        await wait_asleep(port)
        for i in chosen[(b * batch) % len(chosen) :][:batch]:
            _, record = await conn.request("GET", f"/actors?name=sleepy&key=dir-{i}")
            start = time.perf_counter()
            status, body = await conn.call(record["actor_id"], "increment", 1)
            wake.append(time.perf_counter() - start)
            if status != 200:
                raise RuntimeError(f"wake dir-{i}: {status} {body}")
    conn.close()
    return {"actors": population, "find": summary(find), "wake_call": summary(wake)}


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Sizes:
    latency_calls: int = 2000
    seconds: float = 8.0
    actors: int = 200
    activations: int = 5000
    activation_budget: float = 60.0
    failover_rounds: int = 24
    directory_actors: int = 100_000
    finds: int = 2000
    wake_batches: int = 5
    wake_batch: int = 100

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            latency_calls=100,
            seconds=1.0,
            actors=64,
            activations=200,
            activation_budget=10.0,
            failover_rounds=2,
            directory_actors=5_000,
            finds=200,
            wake_batches=1,
            wake_batch=50,
        )


def node_pids(nodes: list[NodeProc]) -> list[int]:
    return [n.pid for n in nodes]


async def bench_setup(
    label: str, storage: str, n: int, sizes: Sizes, logs: Path, out: dict[str, Any]
) -> None:
    """Local latency (1 node) or local vs forwarded (3 nodes), throughput, activations."""
    with running(storage, n, logs) as nodes:
        ports = [node.port for node in nodes]
        if n in (1, 3):
            print(f"  {label}: latency", flush=True)
            conns = [Conn(p) for p in ports]
            actor_id = await conns[0].get_or_create("counter", "latency")
            status, pid = await conns[0].call(actor_id, "pid")
            if status != 200 or pid != nodes[0].pid:
                raise RuntimeError(f"the latency actor is not on the node it was created on: {pid}")
            samples = await sequential({"local call": conns[0]}, actor_id, sizes.latency_calls)
            if n > 1:
                samples["local call, alone"] = samples.pop("local call")
                both = {"local call": conns[0], "forwarded call": conns[1]}
                samples.update(await sequential(both, actor_id, sizes.latency_calls))
            for c in conns:
                c.close()
            for what, values in samples.items():
                out["latency"].append({"setup": label, "what": what, **summary(values)})
        print(f"  {label}: throughput", flush=True)
        ids, owners = await create_counters(ports, "load", sizes.actors)
        for to_owner in (False, True) if n > 1 else (False,):
            row = await throughput(ports, node_pids(nodes), ids, owners, sizes.seconds, to_owner)
            out["throughput"].append({"setup": label, **row})
        if n in (1, 3):
            print(f"  {label}: activations", flush=True)
            row = await activations(
                ports, node_pids(nodes), "fresh", sizes.activations, sizes.activation_budget
            )
            out["activations"].append({"setup": label, **row})


async def bench_failover(postgres: str, sizes: Sizes, logs: Path) -> dict[str, Any]:
    with throwaway_database(postgres) as db, running(db, 3, logs, FAILOVER_LEASE) as nodes:
        rounds: list[dict[str, Any]] = []
        for r in range(sizes.failover_rounds):
            x, y = nodes[r % 3], nodes[(r + 1) % 3]
            rounds.append(await failover_round(x, y, f"failover-{r}", FAILOVER_LEASE))
            print(f"  failover round {r + 1}: {rounds[-1]['seconds']:.2f} s", flush=True)
            x.spawn()  # restart it (a new node id) on the same port
            await asyncio.to_thread(x.wait_healthy)
    seconds = [r["seconds"] for r in rounds]
    errors: Tally[str] = Tally()
    for done in rounds:
        errors.update(done["errors"])
    return {
        "lease_s": FAILOVER_LEASE,
        "rounds": len(rounds),
        "p50_s": pct(seconds, 50),
        "p99_s": pct(seconds, 99),
        "max_s": max(seconds),
        "min_s": min(seconds),
        "errors_seen_by_client": dict(errors),
        "lost_acknowledged": sum(r["lost_acknowledged"] for r in rounds),
        "samples_s": seconds,
    }


async def bench_directory(postgres: str, sizes: Sizes, logs: Path) -> dict[str, Any]:
    with throwaway_database(postgres) as db, running(db, 1, logs) as nodes:
        port = nodes[0].port
        conn = Conn(port)
        template = await conn.get_or_create("sleepy", "template")
        await conn.call(template, "increment", 1)
        conn.close()
        await wait_asleep(port)
        small = 100
        copy_small = await asyncio.to_thread(bulk_insert, db, 0, small, template)
        args = (sizes.finds, sizes.wake_batches, sizes.wake_batch)
        before = await directory_samples(port, small, *args)
        print(f"  directory: copying {sizes.directory_actors - small:,} more actors", flush=True)
        copy_big = await asyncio.to_thread(bulk_insert, db, small, sizes.directory_actors, template)
        after = await directory_samples(port, sizes.directory_actors, *args)
    ratio = {
        f"{what}_{p}": after[what][f"{p}_ms"] / before[what][f"{p}_ms"]
        for what in ("find", "wake_call")
        for p in ("p50", "p99")
    }
    return {
        "small": before,
        "large": after,
        "ratio_large_over_small": ratio,
        "copy_seconds": {"small": copy_small, "large": copy_big},
    }


def goals(out: dict[str, Any]) -> dict[str, Any]:
    """Each goal of the cluster issue: the measured value, the goal, and whether it is met."""
    lat = {r["what"]: r["p50_ms"] for r in out["latency"] if r["setup"] == "postgresql, 3 nodes"}
    added = lat["forwarded call"] - lat["local call"] if "forwarded call" in lat else None
    act = [r["ops_per_s"] for r in out["activations"] if r["setup"] == "postgresql, 3 nodes"]
    fo, ratio = out["failover"], out["directory"]["ratio_large_over_small"]
    flat = max(ratio["find_p50"], ratio["wake_call_p50"])

    def goal(value: float | None, target: float, at_most: bool) -> dict[str, Any]:
        met = value is not None and (value <= target if at_most else value >= target)
        return {"value": value, "goal": target, "met": met}

    return {
        "forwarding_added_p50_ms": goal(added, 1.0, at_most=True),
        "cluster_activations_per_s": goal(act[0] if act else None, 1000, at_most=False),
        "failover_p99_s": goal(fo["p99_s"], fo["lease_s"] + 2, at_most=True),
        "directory_p50_ratio": goal(flat, 1.5, at_most=True),
    }


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}f}"


def notes(r: dict[str, Any]) -> str:
    parts = [f"{k} {v:.2f}" for k, v in r["cpu_cores"].items() if v is not None]
    text = "CPU cores: " + ", ".join(parts) if parts else ""
    return text + (f"; errors {r['errors']}" if r["errors"] else "")


def table_rows(out: dict[str, Any]) -> list[list[str]]:
    """The report as rows: part, setup, what, n, ops/s, p50 ms, p99 ms, note."""

    def row(part: str, setup: str, what: str, r: dict[str, Any], note: str = "") -> list[str]:
        ops, p50, p99 = r.get("ops_per_s"), r["p50_ms"], r["p99_ms"]
        return [part, setup, what, str(r["n"]), fmt(ops), fmt(p50), fmt(p99), note]

    rows = [row("latency", r["setup"], r["what"], r) for r in out["latency"]]
    for r in out["throughput"]:
        share = f"{100 * (r['forwarded_share'] or 0):.0f}% forwarded; "
        rows.append(row("calls/s", r["setup"], f"{CALLERS} callers, {r['routing']}", r,
                        share + notes(r)))  # fmt: skip
    for r in out["activations"]:
        rows.append(row("activations", r["setup"], f"create + call, {CALLERS} at once", r,
                        f"{r['n']} of {r['target']}; " + notes(r)))  # fmt: skip
    fo = out["failover"]
    seen = fo["errors_seen_by_client"] or "no errors"
    note = f"max {fo['max_s']:.2f} s, lease {fo['lease_s']:g} s; client saw {seen}; "
    note += f"acknowledged increments lost: {fo['lost_acknowledged']}"
    times = {"n": fo["rounds"], "p50_ms": fo["p50_s"] * 1e3, "p99_ms": fo["p99_s"] * 1e3}
    rows.append(row("failover", "postgresql, 3 nodes", "kill -9 → first success", times, note))
    d = out["directory"]
    for size in ("small", "large"):
        for what, label in (("find", "find by name+key"), ("wake_call", "call, actor asleep")):
            rows.append(row("directory", f"{d[size]['actors']:,} actors", label, d[size][what]))
    return rows


def print_report(out: dict[str, Any]) -> None:
    m = out["machine"]
    print(
        f"\nCluster benchmark ({out['mode']}), {m['cpus']} CPUs, load average "
        f"{m['load_start']} at start, {m['load_end']} at end (shared machine: noisy)\n"
    )
    header = ["part", "setup", "what", "n", "ops/s", "p50 ms", "p99 ms", "note"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in table_rows(out):
        print("| " + " | ".join(row) + " |")
    print("\ngoals:")
    for name, g in out["goals"].items():
        value = g["value"]
        shown = "–" if value is None else f"{value:.2f}"
        print(f"  {name:<28} {shown:>9}  goal {g['goal']}  {'met' if g['met'] else 'MISSED'}")


async def run(postgres: str, sizes: Sizes, logs: Path, mode: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "benchmark": "cluster",
        "mode": mode,
        "sizes": sizes.__dict__,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        },
        "latency": [],
        "throughput": [],
        "activations": [],
    }
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ak-bench-cluster-") as tmp:
        print("sqlite, 1 node", flush=True)
        await bench_setup("sqlite, 1 node", f"sqlite:///{tmp}/data", 1, sizes, logs, out)
    for n in (1, 2, 3):
        print(f"postgresql, {n} node(s)", flush=True)
        label = f"postgresql, {n} node" + ("s" if n > 1 else "")
        with throwaway_database(postgres) as db:
            await bench_setup(label, db, n, sizes, logs, out)
    print(f"failover: {sizes.failover_rounds} rounds of kill -9", flush=True)
    out["failover"] = await bench_failover(postgres, sizes, logs)
    print("directory", flush=True)
    out["directory"] = await bench_directory(postgres, sizes, logs)
    out["goals"] = goals(out)
    out["machine"]["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out["duration_s"] = time.monotonic() - began
    out["processes"] = list(SPAWNED)
    out["databases"] = list(DATABASES)
    return out


def reachable(url: str) -> str:
    """ "" if ``url`` accepts a connection, else why not."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return ""


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (under a minute)")
    parser.add_argument(
        "--postgres",
        help="a PostgreSQL server URL; the benchmark creates (and drops) its own databases "
        f"there (default: $ACTORKIT_TEST_POSTGRES_URL, else {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "cluster.json")
    for name in ("failover_rounds", "directory_actors", "activations", "latency_calls"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int)
    parser.add_argument("--seconds", type=float, help="per throughput row")
    args = parser.parse_args(argv)
    postgres = args.postgres or os.environ.get("ACTORKIT_TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    why_not = reachable(postgres)
    if why_not:
        print(f"cannot connect to PostgreSQL at {postgres}: {why_not}", file=sys.stderr)
        if postgres == DEFAULT_POSTGRES:  # nothing asked for: `scripts/bench` goes on
            print("cluster benchmark skipped: pass --postgres URL", file=sys.stderr)
            return None
        raise SystemExit(2)
    sizes = Sizes.quick() if args.quick else Sizes()
    for name in ("failover_rounds", "directory_actors", "activations", "latency_calls", "seconds"):
        if getattr(args, name) is not None:
            setattr(sizes, name, getattr(args, name))
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    mode = "quick" if args.quick else "full"
    with tempfile.TemporaryDirectory(prefix="ak-bench-cluster-logs-") as logs:
        try:
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                out = runner.run(run(postgres, sizes, Path(logs), mode))
        except BaseException:
            for log in sorted(Path(logs).glob("*.log")):
                tail = log.read_text(errors="replace")[-2000:]
                if tail.strip():
                    print(f"--- {log.name}\n{tail}", file=sys.stderr)
            raise
    print_report(out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.out} ({out['duration_s']:.0f} s)")
    return out


if __name__ == "__main__":
    main()
