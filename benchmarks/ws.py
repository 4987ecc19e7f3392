"""WebSocket connections: action round trips vs a bare `websockets` echo server; broadcast
fan-out; memory per idle connection. Baselines are measured in the same run.

    python -m benchmarks.ws [--seconds 5] [--fanout 1000,10000]

- Round trips: the actorkit Python client (``handle.connect()``, msgpack) calling an ``echo``
  action that changes no state, over 1 and 16 connections (one caller each), against a
  ``websockets`` client sending the same-size frame to a ``websockets`` echo server.
- Broadcast: N raw sockets connected and subscribed to one actor; time from the action
  that broadcasts until the last socket has received the event.
- Memory: server RSS growth divided by N idle connections.

The machine may be shared: numbers are noisy. Results: a table and benchmarks/results/ws.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from actorkit import AsyncClient
from benchmarks.http import _start

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _actorkit_server(
    port: int, app: str = "benchmarks/_ws_app.py:registry"
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "actorkit",
        "serve",
        app,
        "--port",
        str(port),
        "--storage",
        "memory://",
        "--log-level",
        "warning",
    ]
    return _start(cmd, port)


def _echo_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._ws_app", str(port)], cwd=ROOT, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _summary(latencies: list[float], seconds: float) -> dict[str, Any]:
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


async def _drive(calls: list[Any], seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def caller(call: Any) -> None:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in calls))
    return _summary(latencies, time.perf_counter() - t0)


async def roundtrips_actorkit(url: str, n: int, seconds: float) -> dict[str, Any]:
    async with AsyncClient(url) as client:
        hub = client.get_or_create("hub", "rt")
        conns = [hub.connect() for _ in range(n)]
        await asyncio.gather(*(c.open() for c in conns))
        calls = [lambda c=c: c.echo("x" * 32) for c in conns]
        await _drive(calls, 0.5)  # warm up
        result = await _drive(calls, seconds)
        for c in conns:
            await c.aclose()
        return result


async def roundtrips_echo(port: int, n: int, seconds: float) -> dict[str, Any]:
    frame = json.dumps({"t": "action", "id": 1, "name": "echo", "args": ["x" * 32]})
    sockets = [await connect(f"ws://127.0.0.1:{port}", compression=None) for _ in range(n)]

    def make(ws: ClientConnection) -> Any:
        async def call() -> None:
            await ws.send(frame)
            await ws.recv()

        return call

    calls = [make(ws) for ws in sockets]
    await _drive(calls, 0.5)
    result = await _drive(calls, seconds)
    for ws in sockets:
        await ws.close()
    return result


async def _open_subscribers(url: str, actor_id: str, n: int) -> list[ClientConnection]:
    ws_url = url.replace("http", "ws") + f"/actors/{actor_id}/connect"
    init = json.dumps({"t": "init", "params": {}, "subscriptions": ["tick"]})
    sem = asyncio.Semaphore(100)

    async def one() -> ClientConnection:
        async with sem:
            ws = await connect(
                ws_url,
                subprotocols=[Subprotocol("actorkit.json")],
                compression=None,
                open_timeout=120,
            )
            await ws.send(init)
            await ws.recv()
            return ws

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def fanout(url: str, pid: int, n: int) -> dict[str, Any]:
    async with AsyncClient(url) as client:
        hub = client.get_or_create("hub", f"fan{n}")
        actor_id = await hub.resolve()
        await hub.count()
        before = _rss_kib(pid)
        sockets = await _open_subscribers(url, actor_id, n)
        await asyncio.sleep(1.0)
        after = _rss_kib(pid)
        assert await hub.count() == n
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            await asyncio.gather(hub.tick(), *(ws.recv() for ws in sockets))
            times.append(time.perf_counter() - t0)
        for ws in sockets:
            await ws.close()
        return {
            "connections": n,
            "last_received_ms": 1000 * statistics.median(times),
            "rss_per_idle_conn_kib": (after - before) / n,
        }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port, echo_port = _free_port(), _free_port()
    server, echo = _actorkit_server(port), _echo_server(echo_port)
    url = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {"machine": platform.platform(), "roundtrips": [], "fanout": []}
    try:
        for n in (1, 16):
            ak = await roundtrips_actorkit(url, n, args.seconds)
            base = await roundtrips_echo(echo_port, n, args.seconds)
            out["roundtrips"].append(
                {"connections": n, "actorkit": ak, "echo": base, "ratio": ak["rps"] / base["rps"]}
            )
        for n in args.fanout:
            out["fanout"].append(await fanout(url, server.pid, n))
    finally:
        for proc in (server, echo):
            proc.terminate()
            proc.wait()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fanout", default="1000,10000")
    parser.add_argument("--quick", action="store_true", help="1 s per row, fan-out to 1,000")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.fanout = 1.0, "1000"
    args.fanout = [int(x) for x in args.fanout.split(",") if x]
    out = asyncio.run(main_async(args))
    print(
        f"{'round trips':<14}{'conns':>6}{'actorkit/s':>12}{'echo/s':>10}{'ratio':>7}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'echo p50':>10}{'echo p99':>10}"
    )
    for r in out["roundtrips"]:
        a, e = r["actorkit"], r["echo"]
        print(
            f"{'':<14}{r['connections']:>6}{a['rps']:>12.0f}{e['rps']:>10.0f}{r['ratio']:>7.2f}"
            f"{a['p50_ms']:>9.2f}{a['p99_ms']:>9.2f}{e['p50_ms']:>10.2f}{e['p99_ms']:>10.2f}"
        )
    print(f"{'broadcast':<14}{'conns':>6}{'last recv ms':>14}{'KiB/idle conn':>15}")
    for f in out["fanout"]:
        print(
            f"{'':<14}{f['connections']:>6}{f['last_received_ms']:>14.1f}"
            f"{f['rss_per_idle_conn_kib']:>15.1f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ws.json").write_text(json.dumps(out, indent=2))
    print(f"(noisy: shared machine) → {RESULTS / 'ws.json'}")


if __name__ == "__main__":
    main()
