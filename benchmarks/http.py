"""HTTP action round trips: actorkit server vs a raw-ASGI uvicorn hello world, same run.

    python -m benchmarks.http [--seconds 5] [--storage memory://]

Both servers run in their own process under the same uvicorn settings (uvloop + httptools
when installed, no access log). The load generator is a minimal keep-alive HTTP/1.1 client
on raw asyncio streams, so the client is not the bottleneck it would be with httpx.
Measured: sequential (1 caller) and 32 concurrent keep-alive callers; round trips/s and
p50/p99 latency. Results: a table on stdout and benchmarks/results/http.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BODY = b'{"args":[1]}'


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"server did not start: {cmd}")


class Conn:
    """One keep-alive HTTP/1.1 connection sending the same POST over and over."""

    def __init__(self, port: int, path: str) -> None:
        self.port = port
        self.request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n"
        ).encode() + BODY

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def roundtrip(self) -> None:
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace"))
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def _run(port: int, paths: list[str], seconds: float) -> dict[str, Any]:
    conns = [Conn(port, p) for p in paths]
    await asyncio.gather(*(c.open() for c in conns))
    for c in conns:  # warm up (and create/wake the actors)
        for _ in range(20):
            await c.roundtrip()
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def caller(conn: Conn) -> None:
        clock = time.perf_counter
        while clock() < stop:
            t0 = clock()
            await conn.roundtrip()
            latencies.append(clock() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in conns))
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    latencies.sort()
    return {
        "callers": len(conns),
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def _actor_paths(port: int, n: int) -> list[str]:
    paths = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        for i in range(n):
            actor = http.put("/actors", json={"name": "counter", "key": [f"bench-{i}"]}).json()
            paths.append(f"/actors/{actor['actor_id']}/actions/increment")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--storage", default="memory://")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="1 s per row")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 1.0
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    storage = args.storage
    if storage.startswith("sqlite"):
        import tempfile

        storage = f"sqlite:///{tempfile.mkdtemp(prefix='ak-bench-')}/data"
    hello_port, ak_port = _free_port(), _free_port()
    from actorkit.server.run import uvicorn_options

    opts = uvicorn_options()
    uvicorn_cmd = [sys.executable, "-m", "uvicorn", "benchmarks._hello_asgi:app"]
    uvicorn_cmd += ["--port", str(hello_port), "--log-level", "warning", "--no-access-log"]
    uvicorn_cmd += ["--loop", opts["loop"], "--http", opts["http"]]
    ak_cmd = [sys.executable, "-m", "actorkit", "serve", "benchmarks/_bench_app.py:registry"]
    ak_cmd += ["--port", str(ak_port), "--storage", storage, "--log-level", "warning"]
    rows: list[dict[str, Any]] = []
    procs = [_start(uvicorn_cmd, hello_port), _start(ak_cmd, ak_port)]
    try:
        for callers in (1, args.concurrency):
            hello = asyncio.run(_run(hello_port, ["/"] * callers, args.seconds))
            actor = asyncio.run(_run(ak_port, _actor_paths(ak_port, callers), args.seconds))
            for name, r in (("raw ASGI hello", hello), ("actorkit action", actor)):
                rows.append({"server": name, **r, "ratio": r["rps"] / hello["rps"]})
    finally:
        for p in procs:
            p.terminate()
            p.wait()

    print(f"\nHTTP round trips, {args.seconds:.0f}s per row, storage {args.storage}, "
          f"{opts['loop']}+{opts['http']}, {os.cpu_count()} CPUs (shared machine: noisy)")
    print(f"{'server':<18}{'callers':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}")
    for r in rows:
        print(
            f"{r['server']:<18}{r['callers']:>8}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}"
            f"{r['p99_ms']:>9.2f}{r['ratio']:>8.2f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "benchmark": "http",
        "storage": args.storage,
        "seconds": args.seconds,
        "python": platform.python_version(),
        "server": opts,
        "goal_ratio": 0.5,
        "rows": rows,
    }
    (RESULTS / "http.json").write_text(json.dumps(out, indent=2))
    print(f"\nwrote {RESULTS / 'http.json'}")


if __name__ == "__main__":
    main()
